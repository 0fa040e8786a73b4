"""The agent console's ticket pages: the list, the ticket with its conversation,
clocks, attachments and history, filing on a customer's behalf, and the ticket's own
actions (reply, status, severity, explain a due instant, download an attachment).

Tickets are never deleted here. Filing, replying and status changes go through
``helpdesk.services`` so the admin follows the same rules as the portal.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.console import HistoryAdmin, requires
from accounts.models import User
from accounts.rules import may_file_tickets
from helpdesk import (
    clock_display,
    clocks,
    escalations,
    lifecycle,
    services,
    severity,
    timeline,
)
from helpdesk.models import (
    Attachment,
    Escalation,
    SeverityChange,
    SLOClock,
    Ticket,
)
from helpdesk.views import serve_attachment
from tam import routing as tam_routing


class AgentReplyForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 80}))
    internal = forms.BooleanField(
        required=False, label="Internal note (agents only; not a response)"
    )


class AgentSeverityForm(forms.Form):
    to_severity = forms.IntegerField(label="New severity level")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))
    expected = forms.IntegerField(required=False, widget=forms.HiddenInput)


class BulkSeverityForm(forms.Form):
    level = forms.IntegerField(min_value=1, max_value=9, label="New severity level")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2, "cols": 80}))


class TicketCreationForm(forms.ModelForm):
    """Filing on a customer's behalf: the same rules as the portal."""

    class Meta:
        model = Ticket
        fields = [
            "organization",
            "requester",
            "summary",
            "severity",
            "environment",
            "description",
            "component",
            "steps_to_reproduce",
            "urls",
            "app_ids",
            "client_ids",
            "customer_contact",
        ]

    def draft(self) -> services.TicketDraft:
        data = self.cleaned_data
        skip = ("organization", "requester")
        return services.TicketDraft(
            **{k: data.get(k) or "" for k in self.Meta.fields if k not in skip}
            | {"severity": data.get("severity")}
        )

    def clean(self):
        cleaned = super().clean()
        organization, requester = cleaned.get("organization"), cleaned.get("requester")
        if organization is None or requester is None or self.errors:
            return cleaned
        decision = may_file_tickets(requester, organization, today=timezone.localdate())
        if not decision:
            raise ValidationError({"requester": decision.reason})
        try:
            services.validate_draft(organization, self.draft())
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                raise
            raise ValidationError(
                {
                    (name if name in self.fields else "__all__"): errors
                    for name, errors in exc.error_dict.items()
                }
            ) from None
        return cleaned


class TicketChangeForm(forms.ModelForm):
    """An agent's edit of a ticket: checked by the services that store it, so an
    edit is refused at its field or stored, never reported saved and dropped."""

    class Meta:
        model = Ticket
        fields = ["assignee", "is_tam_routed", *services.DETAIL_FIELDS]

    def clean(self):
        cleaned = super().clean()
        assignee = cleaned.get("assignee")
        if "assignee" in self.changed_data and assignee and not assignee.is_staff:
            self.add_error("assignee", "Only agents can be assigned tickets.")
        changes = self.detail_changes()
        if changes:
            try:
                services.validate_ticket_details(self.instance, changes)
            except ValidationError as exc:
                for name, errors in exc.error_dict.items():
                    self.add_error(name if name in self.fields else None, errors)
        return cleaned

    def detail_changes(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name in services.DETAIL_FIELDS and name in self.cleaned_data
        }

    def _post_clean(self):
        pass  # the services write the row; the form does not touch the instance


class SeverityChangeInline(admin.TabularInline):
    model = SeverityChange
    fk_name = "ticket"
    extra = 0
    can_delete = False
    fields = [
        "created_at",
        "direction",
        "from_severity",
        "to_severity",
        "requested_by",
        "reason",
        "state",
        "decided_by",
        "decided_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related(
                "from_severity", "to_severity", "requested_by", "decided_by"
            )
        )


class EscalationInline(admin.TabularInline):
    model = Escalation
    extra = 0
    can_delete = False
    fields = ["requested_at", "requested_by", "reason", "engineer", "checks", "manage"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="de-escalation checks")
    def checks(self, escalation: Escalation) -> str:
        if not escalation.is_open:
            return f"de-escalated {escalation.de_escalated_at:%Y-%m-%d %H:%M}"
        missing = escalations.missing_checks(escalation)
        return "all recorded" if not missing else f"{3 - len(missing)} of 3 recorded"

    @admin.display(description="")
    def manage(self, escalation: Escalation) -> str:
        url = reverse("admin:helpdesk_escalation_change", args=[escalation.pk])
        return format_html('<a href="{}">assign, record checks, de-escalate</a>', url)


# A clock's schedule reads its calendar's hours and holidays: load them with it.
CLOCKS_WITH_CALENDARS = SLOClock.objects.select_related("calendar").prefetch_related(
    "calendar__hours", "calendar__holidays"
)


class SLOStateFilter(admin.SimpleListFilter):
    """Tickets by the state of their SLO clocks (any clock in that state)."""

    title = "SLO state"
    parameter_name = "slo"

    def lookups(self, request, model_admin):
        return [
            ("breached", "Breached"),
            ("at_risk", "At risk"),
            ("on_track", "On track"),
            ("paused", "Paused"),
            ("met", "Met"),
            ("best_effort", "Best effort"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        running = Q(status=SLOClock.Status.RUNNING, breached_at__isnull=True)
        # At risk: 75% of the target is behind it (warned, or about to be).
        at_risk = running & Q(warning_75_at__lte=now)
        conditions = {
            "breached": Q(breached_at__isnull=False),
            "at_risk": at_risk,
            "on_track": running
            & ~Q(pk__in=SLOClock.objects.filter(at_risk).values("pk")),
            "paused": Q(status=SLOClock.Status.PAUSED),
            "met": Q(status=SLOClock.Status.MET, breached_at__isnull=True),
            "best_effort": Q(status=SLOClock.Status.BEST_EFFORT),
        }
        if self.value() not in conditions:
            return queryset
        clocks = SLOClock.objects.filter(
            conditions[self.value()], ticket=OuterRef("pk")
        )
        return queryset.filter(Exists(clocks))


class SLOClockInline(admin.TabularInline):
    model = SLOClock
    extra = 0
    can_delete = False
    fields = [
        "metric",
        "state",
        "target_label",
        "calendar",
        "due_at",
        "met_at",
        "breached_at",
        "is_reclassification_breach",
        "policy_version",
        "event_log",
        "explain",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("calendar")
            .prefetch_related("events", "calendar__hours", "calendar__holidays")
        )

    @admin.display(description="state")
    def state(self, clock: SLOClock) -> str:
        shown = clock_display.view(clock, timezone.now())
        return format_html('<span style="color:{}">{}</span>', shown.colour, shown.text)

    @admin.display(description="events")
    def event_log(self, clock: SLOClock) -> str:
        rows = format_html_join(
            "",
            "<li>{} {}{}{}</li>",
            (
                (
                    f"{e.at:%Y-%m-%d %H:%M %Z}",
                    e.get_kind_display(),
                    f" ({e.threshold}%)" if e.threshold else "",
                    f": due {e.due_before:%Y-%m-%d %H:%M} → "
                    f"{e.due_after:%Y-%m-%d %H:%M} UTC"
                    if e.due_before and e.due_after and e.due_before != e.due_after
                    else (f" — {e.note}" if e.note else ""),
                )
                for e in clock.events.all()
            ),
        )
        return format_html('<ul style="margin:0">{}</ul>', rows)

    @admin.display(description="explain")
    def explain(self, clock: SLOClock) -> str:
        url = reverse("admin:helpdesk_clock_explain", args=[clock.pk])
        return format_html('<a href="{}">explain this due instant</a>', url)


@admin.register(Ticket)
class TicketAdmin(HistoryAdmin):
    list_display = [
        "reference",
        "summary",
        "organization",
        "severity",
        "status",
        "is_escalated",
        "assignee",
        "response_clock",
        "resolution_clock",
        "created_at",
    ]
    list_select_related = ["organization", "severity", "assignee"]
    list_filter = [
        SLOStateFilter,
        "is_escalated",
        "status",
        "environment",
        "plan",
        "severity__level",
        "is_tam_routed",
    ]
    search_fields = ["reference", "summary", "organization__name", "organization__slug"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "reference",
        "organization",
        "requester",
        "filed_by",
        "plan",
        "status",
        "first_response_due_at",
        "resolution_due_at",
        "first_responded_at",
        "resolved_at",
        "closed_at",
        "created_at",
        "updated_at",
        "next_statuses",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("reference", "status", "next_statuses"),
                    ("organization", "requester", "filed_by"),
                    "summary",
                    ("severity", "environment", "plan"),
                    "assignee",
                    "is_tam_routed",
                ]
            },
        ),
        (
            "Details",
            {
                "fields": [
                    "description",
                    "component",
                    "steps_to_reproduce",
                    "urls",
                    ("app_ids", "client_ids"),
                    "customer_contact",
                ]
            },
        ),
        (
            "SLO",
            {
                "fields": [
                    ("first_response_due_at", "first_responded_at"),
                    ("resolution_due_at", "resolved_at"),
                    ("closed_at", "created_at", "updated_at"),
                ]
            },
        ),
    ]
    inlines = [
        SLOClockInline,
        SeverityChangeInline,
        EscalationInline,
    ]  # the conversation and its attachments are the timeline (helpdesk.timeline)
    actions = ["change_severity_action"]

    @admin.action(
        description="Change severity of the selected tickets", permissions=["change"]
    )
    def change_severity_action(self, request, queryset):
        """Change severity in bulk, each ticket through the same rules (caps,
        justification, agreement); refusals are reported per ticket."""
        form = BulkSeverityForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            level, reason = form.cleaned_data["level"], form.cleaned_data["reason"]
            for ticket in queryset.select_related("plan", "severity"):
                target = ticket.plan.severities.filter(level=level).first()
                try:
                    if target is None:
                        raise ValidationError(f"{ticket.plan} has no level {level}.")
                    change = severity.request_severity_change(
                        ticket,
                        target,
                        actor=request.user,
                        reason=reason,
                        expected=ticket.severity,
                    )
                except ValidationError as exc:
                    self.message_user(
                        request,
                        f"{ticket.reference}: {' '.join(exc.messages)}",
                        messages.ERROR,
                    )
                else:
                    self.message_user(
                        request,
                        f"{ticket.reference}: {change.get_state_display().lower()}.",
                    )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Change severity",
            "opts": self.model._meta,
            "tickets": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/helpdesk/ticket/change_severity.html", context
        )

    change_form_template = "admin/helpdesk/ticket/change_form.html"
    autocomplete_fields = ["assignee"]

    def has_delete_permission(self, request, obj=None):
        return False  # tickets are never hard-deleted from the console

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []  # filing on behalf: the creation form has its own fields
        # Severity changes have their own workflow; the text is the customer's.
        return [
            *self.readonly_fields,
            "severity",
            "environment",
            "summary",
            "description",
        ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = TicketCreationForm if obj is None else TicketChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": TicketCreationForm.Meta.fields})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("clocks", CLOCKS_WITH_CALENDARS))
        )

    def _clock_cell(self, ticket: Ticket, metric: str) -> str:
        clock = next((c for c in ticket.clocks.all() if c.metric == metric), None)
        if clock is None:
            return "—"
        shown = clock_display.view(clock, timezone.now())
        return format_html(
            '<span title="due {}" style="color:{};font-weight:600">{}</span>',
            f"{clock.due_at:%Y-%m-%d %H:%M} UTC" if clock.due_at else "—",
            shown.colour,
            shown.text,
        )

    @admin.display(description="first response", ordering="first_response_due_at")
    def response_clock(self, ticket: Ticket) -> str:
        return self._clock_cell(ticket, SLOClock.Metric.FIRST_RESPONSE)

    @admin.display(description="resolution", ordering="resolution_due_at")
    def resolution_clock(self, ticket: Ticket) -> str:
        return self._clock_cell(ticket, SLOClock.Metric.RESOLUTION)

    @admin.display(description="can become")
    def next_statuses(self, ticket: Ticket) -> str:
        return (
            ", ".join(
                Ticket.Status(s).label for s in lifecycle.allowed_next(ticket.status)
            )
            or "—"
        )

    def save_model(self, request, obj, form, change):
        if change:
            data = form.cleaned_data
            with transaction.atomic():
                if details := form.detail_changes():
                    services.update_ticket_details(obj, details, actor=request.user)
                if "assignee" in form.changed_data:
                    services.assign_ticket(obj, data["assignee"], actor=request.user)
                if "is_tam_routed" in form.changed_data:
                    services.set_tam_routed(
                        obj, data["is_tam_routed"], actor=request.user
                    )
            return
        data = form.cleaned_data
        ticket = services.open_ticket(
            data["organization"],
            form.draft(),
            requester=data["requester"],
            filed_by=request.user,
        )
        obj.pk, obj.reference = ticket.pk, ticket.reference

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        if ticket is None:  # let the admin say it does not exist
            return super().change_view(request, object_id, form_url, extra_context)
        allowed = lifecycle.allowed_next(ticket.status)
        now = timezone.now()
        extra_context = {
            **(extra_context or {}),
            "reply_form": AgentReplyForm(),
            "send_and": [
                (s, f"Send and set {Ticket.Status(s).label.lower()}")
                for s in (Ticket.Status.WAITING_ON_CUSTOMER, Ticket.Status.RESOLVED)
                if s in allowed
            ],
            "timeline": timeline.timeline(ticket),
            "clock_views": [
                (clock, clock_display.view(clock, now))
                for clock in CLOCKS_WITH_CALENDARS.filter(ticket=ticket)
            ],
            "open_escalation": ticket.escalations.filter(
                de_escalated_at__isnull=True
            ).first(),
            "tam_minutes_left": tam_routing.minutes_left(
                ticket.organization, timezone.localdate()
            ),
            "severity_choices": ticket.plan.severities.exclude(pk=ticket.severity_id),
            "current_severity_id": ticket.severity_id,
            "status_choices": [(s, Ticket.Status(s).label) for s in allowed],
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        own = [
            path(
                "<int:pk>/reply/",
                self.admin_site.admin_view(self.reply_view),
                name="helpdesk_ticket_reply",
            ),
            path(
                "<int:pk>/status/",
                self.admin_site.admin_view(self.status_view),
                name="helpdesk_ticket_status",
            ),
            path(
                "attachments/<int:pk>/",
                self.admin_site.admin_view(self.attachment_view),
                name="helpdesk_attachment_download",
            ),
            path(
                "<int:pk>/severity/",
                self.admin_site.admin_view(self.severity_view),
                name="helpdesk_ticket_severity",
            ),
            path(
                "clocks/<int:pk>/explain/",
                self.admin_site.admin_view(self.explain_view),
                name="helpdesk_clock_explain",
            ),
        ]
        return own + super().get_urls()

    @requires("helpdesk.change_ticket")
    def reply_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket, pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = AgentReplyForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Write a reply first.", messages.ERROR)
            return HttpResponseRedirect(back)
        then = request.POST.get("then_status", "")
        try:
            with transaction.atomic():  # the reply and its status, or neither
                services.post_reply(
                    ticket,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    internal=form.cleaned_data["internal"],
                    uploads=request.FILES.getlist("attachments"),
                )
                if then:
                    services.change_status(ticket, then, actor=request.user)
        except ValidationError as exc:
            self.message_user(
                request, "Not sent: " + " ".join(exc.messages), messages.ERROR
            )
        else:
            kind = "Internal note" if form.cleaned_data["internal"] else "Reply"
            done = f" Status: {Ticket.Status(then).label.lower()}." if then else ""
            self.message_user(request, f"{kind} added.{done}", messages.SUCCESS)
        return HttpResponseRedirect(back)

    @requires("helpdesk.change_ticket")
    def status_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket, pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        if request.method == "POST":
            try:
                services.change_status(
                    ticket, request.POST.get("status", ""), actor=request.user
                )
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, "Status changed.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    @requires("helpdesk.change_ticket")
    def severity_view(self, request, pk: int):
        ticket = get_object_or_404(Ticket.objects.select_related("plan"), pk=pk)
        back = reverse("admin:helpdesk_ticket_change", args=[pk])
        form = AgentSeverityForm(request.POST or None)
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not form.is_valid():
            self.message_user(
                request, "Choose a severity and give a reason.", messages.ERROR
            )
            return HttpResponseRedirect(back)
        data = form.cleaned_data
        target = ticket.plan.severities.filter(pk=data["to_severity"]).first()
        expected = ticket.plan.severities.filter(pk=data["expected"]).first()
        try:
            if target is None:
                raise ValidationError("Choose one of the plan's severities.")
            change = severity.request_severity_change(
                ticket,
                target,
                actor=request.user,
                reason=data["reason"],
                expected=expected,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.message_user(
                request,
                f"Severity {change.get_direction_display().lower()} to "
                f"{change.to_severity}: {change.get_state_display().lower()}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(back)

    @requires("helpdesk.view_ticket", model=SLOClock)
    def explain_view(self, request, pk: int):
        """Explain a clock's due instant: the open intervals counted, and the
        holidays and pauses skipped."""
        clock = get_object_or_404(
            SLOClock.objects.select_related("ticket", "calendar"), pk=pk
        )
        schedule = clocks.schedule_of(clock.calendar)
        end = clock.due_at or timezone.now()
        pauses = list(clock.pauses.all())
        counted = []
        for start, stop in schedule.explain(clock.started_at, end):
            pieces = [(start, stop)]
            for pause in pauses:
                p_end = pause.ended_at or end
                pieces = [
                    piece
                    for a, b in pieces
                    for piece in ((a, min(b, pause.started_at)), (max(a, p_end), b))
                    if piece[1] > piece[0]
                ]
            counted += pieces
        context = {
            **self.admin_site.each_context(request),
            "title": f"Explain {clock}",
            "opts": self.model._meta,
            "original": clock.ticket,
            "clock": clock,
            "counted": [(a, b, b - a) for a, b in counted],
            "total": sum((b - a for a, b in counted), timedelta()),
            "pauses": pauses,
            "holidays": schedule.holidays_between(clock.started_at, end),
            "zone": clock.calendar.time_zone if clock.calendar else "UTC",
        }
        return TemplateResponse(request, "admin/helpdesk/clock_explain.html", context)

    @requires("helpdesk.view_attachment", model=Attachment)
    def attachment_view(self, request, pk: int):
        """Download an attachment: agents who may view attachments, which Project
        Managers may not (internal notes carry some)."""
        item = get_object_or_404(Attachment.objects.select_related("ticket"), pk=pk)
        if not self.has_view_permission(request, item.ticket):
            raise PermissionDenied
        return serve_attachment(item)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "requester":
            kwargs["queryset"] = User.objects.filter(
                administered__isnull=False
            ).distinct()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
