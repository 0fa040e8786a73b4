from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from accounts.console import HistoryAdmin, requires
from accounts.models import validate_time_zone
from policies.business_time import Schedule
from policies.lint import lint_plan
from policies.models import (
    BusinessCalendar,
    Holiday,
    OpeningHours,
    Severity,
    SeverityCap,
    SLOTarget,
    SupportPlan,
)
from policies.slo import due_for


class OpeningHoursFormSet(BaseInlineFormSet):
    def clean(self):
        """Refuse hours the engine cannot use (overlaps), naming the weekday."""
        super().clean()
        weekly: dict[int, list[tuple[str, str]]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if (
                data
                and not data.get("DELETE")
                and data.get("opens")
                and data.get("closes")
            ):
                weekly.setdefault(data["weekday"], []).append(
                    (data["opens"], data["closes"])
                )
        if weekly:
            try:
                Schedule(self.instance.time_zone or "UTC", weekly)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(HistoryAdmin):
    list_display = ["name", "slug", "kind", "time_zone", "holiday_country"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [OpeningHoursInline, HolidayInline]


class SeverityInline(admin.StackedInline):
    model = Severity
    extra = 0
    fields = [
        ("level", "name", "requires_customer_contact", "pages_at_once"),
        "description",
        "characteristics",
    ]


class SLOTargetInline(admin.TabularInline):
    model = SLOTarget
    extra = 0
    fields = [
        "severity",
        "response_minutes",
        "response_business_days",
        "response_calendar",
        "resolution_minutes",
        "resolution_business_days",
        "resolution_calendar",
        "off_hours_response_minutes",
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Offer only this plan's own severities.
        if db_field.name == "severity":
            plan_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Severity.objects.filter(plan_id=plan_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SeverityCapInline(admin.TabularInline):
    model = SeverityCap
    extra = 0


@admin.register(SupportPlan)
class SupportPlanAdmin(HistoryAdmin):
    list_display = [
        "name",
        "slug",
        "prioritisation_rank",
        "business_calendar",
        "default_severity",
        "channel_list",
    ]
    list_select_related = ["business_calendar", "default_severity"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ("name",)}
    inlines = [SeverityInline, SLOTargetInline, SeverityCapInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "source", "description"]}),
        (
            "Service",
            {
                "fields": [
                    "prioritisation_rank",
                    "business_calendar",
                    "staffed_calendar",
                    ("has_web", "has_email", "has_chat", "has_phone"),
                    (
                        "includes_tam",
                        "includes_pair_programming",
                        "includes_quarterly_reviews",
                        "includes_roadmap_insight",
                    ),
                ]
            },
        ),
        (
            "Severity rules",
            {
                "fields": [
                    "default_severity",
                    "upgrade_needs_justification",
                    "downgrade_notifies_customer",
                    "downgrade_needs_customer_agreement",
                ]
            },
        ),
    ]

    actions = ["apply_targets_to_open_tickets"]

    @admin.action(
        description="Apply current targets to open tickets (preview first)",
        permissions=["change"],
    )
    def apply_targets_to_open_tickets(self, request, queryset):
        """Policy edits never silently rewrite open clocks: show what would change,
        and apply only on confirmation. Closed clocks keep their outcome."""
        from helpdesk import clocks

        if request.POST.get("confirm") == "yes":
            count = clocks.apply_policy_changes(list(queryset), actor=request.user)
            self.message_user(
                request, f"Applied the current targets to {count} tickets."
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Apply current targets to open tickets",
            "opts": self.model._meta,
            "plans": queryset,
            "rows": clocks.policy_changes(list(queryset)),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/policies/apply_targets.html", context)

    @admin.display(description="channels")
    def channel_list(self, plan: SupportPlan) -> str:
        return ", ".join(plan.channels)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "default_severity":
            plan_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Severity.objects.filter(plan_id=plan_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self):
        calculator = path(
            "slo-calculator/",
            self.admin_site.admin_view(self.slo_calculator_view),
            name="policies_slo_calculator",
        )
        return [calculator, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "slo_calculator_url": reverse("admin:policies_slo_calculator"),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Warn on the plan page when its targets invert (policies.lint)."""
        if request.method == "GET":
            plan = self.get_object(request, object_id)
            if plan is not None:
                for inversion in lint_plan(plan, now=timezone.now()):
                    messages.warning(request, inversion.message())
        return super().change_view(request, object_id, form_url, extra_context)

    @requires("policies.view_supportplan")
    def slo_calculator_view(self, request):
        """Compute both due instants for a plan, severity and opening instant, and
        show the calendar and the intervals counted ("explain this due instant")."""
        form = SLOCalculatorForm(request.GET or None)
        result = clocks = None
        if form.is_bound and form.is_valid():
            plan, severity = form.cleaned_data["plan"], form.cleaned_data["severity"]
            opened_at = form.opened_at_instant()
            result = due_for(plan, severity, opened_at)
            clocks = result.explain(opened_at)
        context = {
            **self.admin_site.each_context(request),
            "title": "SLO calculator",
            "opts": self.model._meta,
            "form": form,
            "result": result,
            "clocks": clocks,
            "zone": form.zone() if form.is_bound and form.is_valid() else None,
        }
        return TemplateResponse(request, "admin/policies/slo_calculator.html", context)


class SLOCalculatorForm(forms.Form):
    plan = forms.ModelChoiceField(
        SupportPlan.objects.prefetch_related(
            Prefetch("targets", SLOTarget.objects.select_related("severity"))
        ).select_related("business_calendar", "default_severity")
    )
    severity = forms.ModelChoiceField(
        Severity.objects.select_related("plan"),
        required=False,
        help_text="Empty: the plan's default severity.",
    )
    opened_at = forms.DateTimeField(
        label="Opened at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Wall-clock time in the zone below.",
    )
    time_zone = forms.CharField(initial="America/Los_Angeles")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].label_from_instance = lambda s: f"{s.plan}: {s.name}"

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"].strip()
        validate_time_zone(value)
        return value

    def clean(self):
        cleaned = super().clean()
        plan, severity = cleaned.get("plan"), cleaned.get("severity")
        if plan and severity and severity.plan_id != plan.pk:
            self.add_error("severity", f"{severity} is not a severity of {plan}.")
        return cleaned

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cleaned_data["time_zone"])

    def opened_at_instant(self):
        # The field parsed the wall time in the server zone (UTC); re-read it as a
        # wall time in the chosen zone instead.
        wall = self.cleaned_data["opened_at"].replace(tzinfo=None)
        return wall.replace(tzinfo=self.zone())


@admin.register(SeverityCap)
class SeverityCapAdmin(HistoryAdmin):
    service_owned_fields = ()  # a plain edit: reverting is an edit too

    list_display = ["component", "entry", "max_level", "plan", "reason"]
    list_select_related = ["plan", "entry"]
    list_filter = ["plan"]
    search_fields = ["component"]


# Admins in their own modules, registered with this one (issue 15): the product
# catalogue that caps apply to (§3.2) and dated plan revisions (§1).
from policies import (  # noqa: E402
    admin_catalogue,  # noqa: F401
    admin_revisions,  # noqa: F401
)
