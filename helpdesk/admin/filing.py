"""Filing a ticket on a customer's behalf from the console ("Add ticket").

Two steps, the second a reload of the first with ``?organization=<id>``: choose the
organisation, then fill a form that offers only its plan's severities (each with
its guidance and targets), its Support Administrators as requesters, and
attachments. It files through ``helpdesk.services.open_ticket``, with the portal's
rules (licence, severity caps, customer contact, secrets, attachment limits).
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.widgets import AdminRadioSelect
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.models import Organization, SupportAdministrator, User
from accounts.rules import may_file_tickets
from helpdesk import attachments, services
from helpdesk.forms import MultipleFileField
from helpdesk.models import Ticket
from policies.models import Severity, SLOTarget, SupportPlan

ORGANIZATION_PARAM = "organization"
DRAFT_TEXT_FIELDS = (
    "summary",
    "environment",
    "description",
    "component",
    "steps_to_reproduce",
    "urls",
    "app_ids",
    "client_ids",
    "customer_contact",
)


def organizations_to_file_for():
    """Organisations on a plan with at least one Support Administrator."""
    return (
        Organization.objects.filter(support_plan__isnull=False)
        .filter(
            Exists(SupportAdministrator.objects.filter(organization=OuterRef("pk")))
        )
        .select_related("support_plan")
        .order_by("name")
    )


def attachments_help() -> str:
    """What the customer's files may be, as the portal accepts them
    (``helpdesk.attachments``): the types, the archives logs may come in, the size."""
    size = attachments.max_bytes()
    mib = 1024 * 1024
    limit = f"{size // mib} MB" if size % mib == 0 else filesizeformat(size)
    return (
        f"Files the customer sent: {attachments.describe_allowed()}; "
        f"up to {limit} each."
    )


def chosen_organization(value) -> Organization | None:
    """The organisation a request names (``?organization=`` or the posted field)."""
    value = str(value or "")
    if not (value.isdigit() and len(value) <= 12):
        return None
    return organizations_to_file_for().filter(pk=int(value)).first()


def _targets_by_severity(plan: SupportPlan) -> dict[int | None, SLOTarget]:
    targets = SLOTarget.objects.filter(plan=plan).select_related(
        "response_calendar", "resolution_calendar"
    )
    return {target.severity_id: target for target in targets}


def severity_label(severity: Severity, target: SLOTarget | None) -> str:
    """ "Severity 2 — guidance. Response 2 h (24x7), resolution 1 business day"."""
    parts = [format_html("<strong>{}</strong>", severity.name)]
    if severity.description:
        parts.append(format_html(" — {}", severity.description))
    if target is not None:
        response = target.response_label or "—"
        has_resolution = target.resolution_minutes or target.resolution_business_days
        resolution = target.resolution_label if has_resolution else "no target"
        calendar = target.response_calendar
        parts.append(
            format_html(
                '<br><span class="help">Initial response {}{}; goal resolution {}'
                "</span>",
                response,
                f", counted on {calendar}" if calendar else "",
                resolution,
            )
        )
    if severity.requires_customer_contact:
        parts.append(mark_safe(' <span class="help">· needs a named contact</span>'))
    return format_html("{}" * len(parts), *parts)


class TicketCreationForm(forms.ModelForm):
    """Filing on a customer's behalf: the same rules as the portal."""

    attachments = MultipleFileField()

    class Meta:
        model = Ticket
        fields = [
            "organization",
            "requester",
            "summary",
            "severity",
            "environment",
            "description",
            "product",
            "component",
            "steps_to_reproduce",
            "urls",
            "app_ids",
            "client_ids",
            "customer_contact",
        ]
        widgets = {
            "organization": forms.HiddenInput,
            "environment": AdminRadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = self.data.get(ORGANIZATION_PARAM) if self.is_bound else None
        self.organization = chosen_organization(
            chosen or self.initial.get(ORGANIZATION_PARAM)
        )
        self.fields["environment"].choices = Ticket.Environment.choices  # no blank
        self.fields["attachments"].help_text = attachments_help()
        organization_field = self.fields["organization"]
        organization_field.queryset = organizations_to_file_for()
        organization_field.error_messages["required"] = "Choose the organisation first."
        if self.organization is not None:
            organization_field.initial = self.organization.pk
        org, plan = self.organization, getattr(self.organization, "support_plan", None)
        requester = self.fields["requester"]
        requester.queryset = (
            User.objects.filter(administered__organization=org, is_active=True)
            .order_by("full_name", "email")
            .distinct()
            if org is not None
            else User.objects.none()
        )
        requester.help_text = "One of the organisation's Support Administrators."
        requester.label_from_instance = lambda user: (
            f"{user.full_name} <{user.email}>" if user.full_name else user.email
        )
        # The plan's catalogue (issue 15 §3.2): a cap applies to the entry chosen.
        product = self.fields["product"]
        product.queryset = (
            plan.catalogue.all() if plan is not None else product.queryset.none()
        )
        product.empty_label = "Other / not listed"
        severity = self.fields["severity"]
        if plan is None:
            severity.queryset = Severity.objects.none()
            return
        severities = list(plan.severities.order_by("level"))
        if not severities:
            del self.fields["severity"]  # one target for every ticket (Iron.io)
            return
        targets = _targets_by_severity(plan)
        severity.queryset = Severity.objects.filter(plan=plan).order_by("level")
        severity.widget = AdminRadioSelect(choices=severity.choices)
        severity.empty_label = None
        severity.label_from_instance = lambda level: severity_label(
            level, targets.get(level.pk) or targets.get(None)
        )
        severity.help_text = (
            f"Empty: {plan.default_severity}." if plan.default_severity_id else ""
        )

    def draft(self) -> services.TicketDraft:
        data = self.cleaned_data
        return services.TicketDraft(
            **{k: data.get(k) or "" for k in DRAFT_TEXT_FIELDS}
            | {
                "severity": data.get("severity"),
                "product": data.get("product"),
                "uploads": data.get("attachments") or [],
            }
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
