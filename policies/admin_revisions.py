"""The console's plan revisions: draft from the live plan, edit the draft, see its
diff and its impact on open tickets, schedule it with notice, cancel it, and read
"the plan as it was on date D". Every write goes through ``policies.revisions``."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.console import HistoryAdmin, readable, requires
from accounts.models import validate_time_zone
from policies import revisions
from policies.models import BusinessCalendar, PlanRevision, SupportPlan

_DURATION = re.compile(r"^\s*(\d+)\s*(m|h|bd)\s*$")


def parse_duration(text: str, *, business_days: bool = True) -> tuple:
    """Return (minutes, business days) from "30m", "4h" or "2bd"; (None, None)
    for an empty text. Raise ValidationError otherwise."""
    if not text.strip():
        return None, None
    match = _DURATION.match(text)
    if not match or int(match[1]) == 0:
        raise ValidationError("Write a duration like 30m, 4h or 2bd.")
    amount, unit = int(match[1]), match[2]
    if unit == "bd":
        if not business_days:
            raise ValidationError("Wall-clock time: write minutes or hours (6h).")
        return None, amount
    return (amount * 60 if unit == "h" else amount), None


def duration_text(minutes: int | None, business_days: int | None) -> str:
    """The inverse of ``parse_duration``: 240 -> "4h", business days 2 -> "2bd"."""
    if business_days:
        return f"{business_days}bd"
    if minutes is None:
        return ""
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def _scope_key(level: int | None) -> str:
    return "all" if level is None else str(level)


class RevisionForm(forms.ModelForm):
    """The revision's note and mark, and, for a draft, the plan as it will be."""

    class Meta:
        model = PlanRevision
        fields = ["plan", "note", "is_marked_material"]

    content_groups: list = []

    def content(self) -> dict | None:
        return None


def content_form(revision: PlanRevision) -> type[RevisionForm]:
    """Return a form class with one field per editable value of the draft."""
    content = revision.content
    calendar_choices = [
        (c.slug, c.name) for c in BusinessCalendar.objects.order_by("name")
    ]
    declared: dict[str, forms.Field] = {
        "rank": forms.IntegerField(
            label="Ticket prioritisation rank",
            min_value=0,
            initial=content["entitlements"]["prioritisation_rank"],
        ),
        "business_calendar": forms.ChoiceField(
            label="Support hours",
            choices=[("", "No fixed support hours"), *calendar_choices],
            required=False,
            initial=content["business_calendar"] or "",
        ),
    }
    for flag, label in {**revisions.CHANNELS, **revisions.FEATURES}.items():
        declared[flag] = forms.BooleanField(
            label=label.capitalize(),
            required=False,
            initial=content["entitlements"][flag],
        )
    levels = [s["level"] for s in content["severities"]]
    if levels:
        declared["default_severity"] = forms.ChoiceField(
            choices=[(str(s["level"]), s["name"]) for s in content["severities"]],
            initial=str(content["default_severity"]),
        )
    for severity in content["severities"]:
        level = severity["level"]
        declared[f"sev_{level}_name"] = forms.CharField(
            label=f"Level {level} name", max_length=80, initial=severity["name"]
        )
        declared[f"sev_{level}_remove"] = forms.BooleanField(
            label=f"Remove level {level}",
            required=False,
            help_text="Material: customers lose a severity.",
        )
    for target in content["targets"]:
        key = _scope_key(target["severity"])
        name = revisions.scope_name(content, target["severity"])
        declared[f"t_{key}_response"] = forms.CharField(
            label=f"{name}: initial response",
            initial=duration_text(
                target["response_minutes"], target["response_business_days"]
            ),
            help_text="30m, 4h or 2bd (business days).",
        )
        declared[f"t_{key}_response_calendar"] = forms.ChoiceField(
            label=f"{name}: response counted on",
            choices=calendar_choices,
            initial=target["response_calendar"],
        )
        declared[f"t_{key}_resolution"] = forms.CharField(
            label=f"{name}: goal resolution",
            required=False,
            initial=duration_text(
                target["resolution_minutes"], target["resolution_business_days"]
            ),
            help_text="Empty: no resolution target.",
        )
        declared[f"t_{key}_resolution_calendar"] = forms.ChoiceField(
            label=f"{name}: resolution counted on",
            choices=[("", "—"), *calendar_choices],
            required=False,
            initial=target["resolution_calendar"] or "",
        )
        declared[f"t_{key}_off_hours"] = forms.CharField(
            label=f"{name}: off-hours response",
            required=False,
            initial=duration_text(target["off_hours_response_minutes"], None),
            help_text="Wall-clock time for a ticket opened outside support hours; "
            "empty: none.",
        )

    groups = [
        (
            "Entitlements",
            ["rank", "business_calendar", *revisions.CHANNELS, *revisions.FEATURES],
        )
    ]
    if levels:
        severity_fields = ["default_severity"]
        for level in levels:
            severity_fields += [f"sev_{level}_name", f"sev_{level}_remove"]
        groups.append(("Severities", severity_fields))
    for target in content["targets"]:
        key = _scope_key(target["severity"])
        groups.append(
            (
                f"Targets: {revisions.scope_name(content, target['severity'])}",
                [
                    f"t_{key}_response",
                    f"t_{key}_response_calendar",
                    f"t_{key}_resolution",
                    f"t_{key}_resolution_calendar",
                    f"t_{key}_off_hours",
                ],
            )
        )

    def clean(self):
        cleaned = RevisionForm.clean(self)
        for target in content["targets"]:
            key = _scope_key(target["severity"])
            for part in ("response", "resolution"):
                name = f"t_{key}_{part}"
                if name in cleaned:
                    try:
                        cleaned[f"_{name}"] = parse_duration(cleaned[name])
                    except ValidationError as exc:
                        self.add_error(name, exc)
            name = f"t_{key}_off_hours"
            if name in cleaned:
                try:
                    cleaned[f"_{name}"] = parse_duration(
                        cleaned[name], business_days=False
                    )
                except ValidationError as exc:
                    self.add_error(name, exc)
        if not self.errors:
            try:
                revisions.validate_content(self.content())
            except ValidationError as exc:
                self.add_error(None, exc)
        return cleaned

    def build_content(self) -> dict:
        data = self.cleaned_data
        kept = [
            {**s, "name": data[f"sev_{s['level']}_name"]}
            for s in content["severities"]
            if not data.get(f"sev_{s['level']}_remove")
        ]
        kept_levels = {s["level"] for s in kept}
        targets = []
        for target in content["targets"]:
            if target["severity"] is not None and target["severity"] not in kept_levels:
                continue
            key = _scope_key(target["severity"])
            response = data[f"_t_{key}_response"]
            resolution = data[f"_t_{key}_resolution"]
            off_hours, _ = data[f"_t_{key}_off_hours"]
            has_resolution = resolution != (None, None)
            targets.append(
                {
                    "severity": target["severity"],
                    "response_minutes": response[0],
                    "response_business_days": response[1],
                    "response_calendar": data[f"t_{key}_response_calendar"],
                    "resolution_minutes": resolution[0],
                    "resolution_business_days": resolution[1],
                    "resolution_calendar": (
                        data[f"t_{key}_resolution_calendar"] or None
                        if has_resolution
                        else None
                    ),
                    "off_hours_response_minutes": off_hours,
                }
            )
        default = data.get("default_severity")
        return {
            "entitlements": {
                "prioritisation_rank": data["rank"],
                **{
                    flag: data[flag]
                    for flag in (*revisions.CHANNELS, *revisions.FEATURES)
                },
            },
            "business_calendar": data["business_calendar"] or None,
            "default_severity": int(default) if default else None,
            "severities": kept,
            "targets": targets,
        }

    return type(
        "DraftRevisionForm",
        (RevisionForm,),
        {
            **declared,
            "content_groups": groups,
            "clean": clean,
            "content": build_content,
        },
    )


class ScheduleForm(forms.Form):
    effective_at = forms.DateTimeField(
        label="Takes effect at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Wall-clock time in the zone below.",
    )
    time_zone = forms.CharField(initial="UTC")

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"].strip()
        validate_time_zone(value)
        return value

    def instant(self) -> datetime:
        wall = self.cleaned_data["effective_at"].replace(tzinfo=None)
        return wall.replace(tzinfo=ZoneInfo(self.cleaned_data["time_zone"]))


class AsOfForm(forms.Form):
    date = forms.DateField(
        label="The plan as it was on",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    time_zone = forms.CharField(initial="UTC", help_text="The end of that day here.")

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"].strip()
        validate_time_zone(value)
        return value


@admin.register(PlanRevision)
class PlanRevisionAdmin(HistoryAdmin):
    form = RevisionForm
    list_display = ["__str__", "plan", "status", "takes_effect", "is_material"]
    list_filter = ["status", "plan"]
    list_select_related = ["plan"]
    readonly_fields = [
        "status",
        "takes_effect",
        "material_label",
        "changes_table",
        "impact_table",
        "scheduled_by",
        "went_live",
    ]

    # --- the change form ---------------------------------------------------------

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status == PlanRevision.Status.DRAFT:
            form = content_form(obj)
            kwargs["form"] = form
            kwargs["fields"] = ["note", "is_marked_material", *form.declared_fields]
        elif obj is not None:
            kwargs["fields"] = []
        else:
            kwargs["fields"] = ["plan", "note", "is_marked_material"]
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": ["plan", "note", "is_marked_material"]})]
        shown = [
            (
                None,
                {
                    "fields": [
                        "status",
                        "takes_effect",
                        "material_label",
                        "scheduled_by",
                        "went_live",
                    ]
                },
            )
        ]
        if obj.status == PlanRevision.Status.DRAFT:
            shown.append((None, {"fields": ["note", "is_marked_material"]}))
            form = content_form(obj)
            shown += [
                (title, {"fields": fields}) for title, fields in form.content_groups
            ]
        shown.append(("Against the live plan", {"fields": ["changes_table"]}))
        if obj.status in (PlanRevision.Status.DRAFT, PlanRevision.Status.SCHEDULED):
            shown.append(("Open tickets", {"fields": ["impact_table"]}))
        return shown

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fields = list(self.readonly_fields)
        if obj.status != PlanRevision.Status.DRAFT:
            fields += ["plan", "note", "is_marked_material"]
        return fields

    def has_change_permission(self, request, obj=None):
        # Only a draft is edited; a scheduled revision is cancelled, not changed.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.status == PlanRevision.Status.DRAFT)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.status == PlanRevision.Status.DRAFT)

    def save_model(self, request, obj, form, change):
        if not change:
            created = revisions.draft_revision(
                form.cleaned_data["plan"],
                actor=request.user,
                note=form.cleaned_data.get("note", ""),
                is_marked_material=form.cleaned_data.get("is_marked_material", False),
            )
            obj.pk = created.pk
            return
        revisions.update_draft(
            obj,
            form.content(),
            actor=request.user,
            note=form.cleaned_data.get("note", ""),
            is_marked_material=form.cleaned_data.get("is_marked_material", False),
        )

    def save_related(self, request, form, formsets, change):
        pass  # no related rows: the content is the revision's own

    @admin.display(description="takes effect", ordering="effective_at")
    def takes_effect(self, obj: PlanRevision) -> str:
        return readable(obj.effective_at)

    @admin.display(description="went live")
    def went_live(self, obj: PlanRevision) -> str:
        return readable(obj.applied_at)

    @admin.display(description="material")
    def material_label(self, obj: PlanRevision) -> str:
        if obj.status == PlanRevision.Status.DRAFT:
            changes = revisions.changes_of(obj)
            material = revisions.is_material(changes, marked=obj.is_marked_material)
        else:
            material = obj.is_material
        if not material:
            return "No: it may take effect at any future instant."
        return (
            f"Yes: it needs {revisions.notice_days()} days' notice before it takes "
            "effect."
        )

    @admin.display(description="changes")
    def changes_table(self, obj: PlanRevision) -> str:
        changes = revisions.changes_of(obj)
        if not changes:
            return "No change from the live plan yet."
        return format_html(
            '<ul id="revision-changes">{}</ul>',
            format_html_join(
                "",
                "<li>{}{}</li>",
                (
                    (
                        c.text,
                        format_html(" <strong>material: {}</strong>", c.reason)
                        if c.is_material
                        else "",
                    )
                    for c in changes
                ),
            ),
        )

    @admin.display(description="impact")
    def impact_table(self, obj: PlanRevision) -> str:
        found = revisions.impact(obj)
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    row["clock"].ticket.reference,
                    row["clock"].get_metric_display(),
                    row["old_label"],
                    row["new_label"],
                    _when(row["old_due"]),
                    _when(row["new_due"]),
                )
                for row in found.rows
            ),
        )
        return format_html(
            '<p id="revision-impact">{} open ticket{} on the plan; {} would move if '
            '"apply current targets" were run after it takes effect (open tickets '
            "keep their targets otherwise).</p>"
            "<table><thead><tr><th>Ticket</th><th>Clock</th><th>Target</th>"
            "<th>Due now</th><th>Would be due</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            found.open_tickets,
            "" if found.open_tickets == 1 else "s",
            found.tickets_moved,
            rows,
        )

    # --- scheduling, cancelling, the plan as it was --------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:object_id>/schedule/",
                self.admin_site.admin_view(self.schedule_view),
                name=f"{info[0]}_{info[1]}_schedule",
            ),
            path(
                "<int:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name=f"{info[0]}_{info[1]}_cancel",
            ),
            path(
                "plan-as-of/<int:plan_id>/",
                self.admin_site.admin_view(self.plan_as_of_view),
                name="policies_plan_as_of",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {}
        if obj is not None:
            extra = {
                "schedule_url": reverse(
                    "admin:policies_planrevision_schedule", args=[obj.pk]
                )
                if obj.status == PlanRevision.Status.DRAFT
                and request.user.has_perm("policies.change_planrevision")
                else None,
                "cancel_url": reverse(
                    "admin:policies_planrevision_cancel", args=[obj.pk]
                )
                if obj.status
                in (PlanRevision.Status.DRAFT, PlanRevision.Status.SCHEDULED)
                and request.user.has_perm("policies.change_planrevision")
                else None,
                "as_of_url": reverse("admin:policies_plan_as_of", args=[obj.plan_id]),
            }
        return super().change_view(
            request, object_id, form_url, {**extra, **(extra_context or {})}
        )

    @requires("policies.change_planrevision")
    def schedule_view(self, request, object_id):
        revision = get_object_or_404(
            PlanRevision.objects.select_related("plan"), pk=object_id
        )
        zone = (
            revision.plan.business_calendar.time_zone
            if revision.plan.business_calendar
            else "UTC"
        )
        form = ScheduleForm(request.POST or None, initial={"time_zone": zone})
        if request.method == "POST" and form.is_valid():
            try:
                revisions.schedule_revision(
                    revision, form.instant(), actor=request.user
                )
            except ValidationError as exc:
                _form_errors(form, exc)
            except PermissionDenied:
                raise
            else:
                messages.success(
                    request,
                    f"Scheduled: {revision.plan} changes at "
                    f"{_when(form.instant())}; its customers' Support "
                    "Administrators are told by e-mail.",
                )
                return HttpResponseRedirect(
                    reverse("admin:policies_planrevision_change", args=[revision.pk])
                )
        changes = revisions.changes_of(revision)
        material = revisions.is_material(changes, marked=revision.is_marked_material)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Schedule {revision}",
            "opts": self.opts,
            "revision": revision,
            "form": form,
            "changes": changes,
            "material": material,
            "notice_days": revisions.notice_days(),
            "earliest_label": readable(
                revisions.earliest_effective_at(material=material, now=timezone.now())
            ),
        }
        return TemplateResponse(
            request, "admin/policies/planrevision/schedule.html", context
        )

    @requires("policies.change_planrevision")
    def cancel_view(self, request, object_id):
        revision = get_object_or_404(PlanRevision, pk=object_id)
        if request.method == "POST":
            try:
                revisions.cancel_revision(revision, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, f"{revision} is cancelled.")
            return HttpResponseRedirect(
                reverse("admin:policies_planrevision_change", args=[revision.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Cancel {revision}",
            "opts": self.opts,
            "revision": revision,
        }
        return TemplateResponse(
            request, "admin/policies/planrevision/cancel.html", context
        )

    @requires("policies.view_supportplan", model=SupportPlan)
    def plan_as_of_view(self, request, plan_id):
        plan = get_object_or_404(SupportPlan, pk=plan_id)
        form = AsOfForm(request.GET or None, initial={"time_zone": "UTC"})
        shown = None
        if form.is_bound and form.is_valid():
            at = revisions.end_of_day(
                form.cleaned_data["date"], form.cleaned_data["time_zone"]
            )
            content = revisions.snapshot_as_of(plan, at)
            shown = revisions.describe(content) if content else None
            if content is None:
                form.add_error("date", f"{plan} did not exist yet on that day.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{plan} as it was",
            "opts": self.opts,
            "plan": plan,
            "form": form,
            "shown": shown,
        }
        return TemplateResponse(
            request, "admin/policies/planrevision/plan_as_of.html", context
        )


def _when(at: datetime | None) -> str:
    return "paused" if at is None else readable(at)


def _form_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)
