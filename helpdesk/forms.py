"""Portal forms: shape input; the services decide."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator

from helpdesk.attachments import check_uploads
from helpdesk.models import Ticket
from helpdesk.secrets_guard import validate_no_secrets
from policies.models import SupportPlan


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern), each checked by
    content and size, and text scanned for secrets, before anything is stored."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(item, initial) for item in data if item]
        else:
            files = [single(data, initial)] if data else []
        check_uploads(files)
        return files


def _text(label: str, **kwargs) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        validators=[validate_no_secrets],
        widget=forms.Textarea(attrs={"rows": 3}),
        **kwargs,
    )


class TicketForm(forms.Form):
    summary = forms.CharField(
        max_length=200,
        validators=[validate_no_secrets],
        help_text="One problem per ticket, in a sentence.",
    )
    severity = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label=None,
        widget=forms.RadioSelect,
        help_text="Your judgement of the business impact.",
    )
    environment = forms.ChoiceField(
        choices=Ticket.Environment.choices,
        widget=forms.RadioSelect,
        help_text="Production issues concern live sites taking public traffic.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        validators=[validate_no_secrets],
        help_text="What happens, what you expected, error messages.",
    )
    product = forms.ModelChoiceField(
        label="Product",
        queryset=None,
        required=False,
        empty_label="Other / not listed",
        help_text="Some products have a maximum severity; it is shown beside them.",
    )
    component = forms.CharField(
        label="Product / component",
        max_length=120,
        required=False,
        validators=[validate_no_secrets],
    )
    steps_to_reproduce = _text("Steps to reproduce")
    urls = _text("URLs")
    app_ids = _text("Affected App IDs")
    client_ids = _text(
        "Affected Client IDs", help_text="Client IDs only: never client secrets."
    )
    customer_contact = forms.CharField(
        label="Your contact during resolution",
        max_length=200,
        required=False,
        validators=[validate_no_secrets],
        help_text="Required for the most severe levels: who is available while we "
        "work on it, and how to reach them.",
    )
    attachments = MultipleFileField(
        help_text="Screenshots (PNG, JPEG, GIF, WebP), PDFs or plain-text logs; "
        "up to 10 MB each. Compress large logs as .zip, .gz or .tar.gz."
    )
    route_to_tam = forms.BooleanField(
        label="Send this deployment ticket to our Technical Account Manager",
        required=False,
        help_text="Answered within 4 business hours while this month's TAM hours last.",
    )

    def __init__(self, *args, plan: SupportPlan, offers_tam: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.plan = plan
        if not offers_tam:
            del self.fields["route_to_tam"]
        # The plan's catalogue (policies.catalogue): caps apply to the entry chosen.
        entries = plan.catalogue.all()
        if entries:
            caps = {cap.entry_id: cap.max_level for cap in plan.caps.all()}
            product = self.fields["product"]
            product.queryset = entries
            product.label_from_instance = lambda entry: (
                f"{entry.name} (at most Level {caps[entry.pk]})"
                if entry.pk in caps
                else entry.name
            )
            self.fields["component"].label = "Component or version"
        else:
            del self.fields["product"]
        severities = plan.severities.all()
        field = self.fields["severity"]
        field.queryset = severities
        field.label_from_instance = lambda s: s.name
        if plan.default_severity_id:
            field.initial = plan.default_severity_id
        if not severities:
            del self.fields["severity"]  # Iron.io: one target for every ticket


class ReplyForm(forms.Form):
    body = forms.CharField(
        label="Reply",
        widget=forms.Textarea(attrs={"rows": 5}),
        validators=[validate_no_secrets],
    )
    attachments = MultipleFileField()


class ReopenForm(forms.Form):
    body = forms.CharField(
        label="Why is the problem not solved?",
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_secrets],
    )


class TicketFilterForm(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Ticket.Status.choices], required=False
    )
    severity = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args, plan: SupportPlan | None, **kwargs):
        super().__init__(*args, **kwargs)
        levels = [(s.level, s.name) for s in plan.severities.all()] if plan else []
        self.fields["severity"].choices = [("", "Any severity"), *levels]


class SeverityChangeForm(forms.Form):
    """Ask for another severity: an upgrade needs the increased impact in writing."""

    to_severity = forms.ModelChoiceField(queryset=None, label="New severity")
    reason = forms.CharField(
        label="Why",
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_secrets],
        help_text="For an upgrade: who is affected now and what no longer works.",
    )
    customer_contact = forms.CharField(
        label="Your contact during resolution",
        max_length=200,
        required=False,
        validators=[validate_no_secrets],
    )
    expected = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, ticket, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["to_severity"]
        field.queryset = ticket.plan.severities.exclude(pk=ticket.severity_id)
        field.label_from_instance = lambda s: s.name
        self.fields["expected"].initial = ticket.severity_id


class EscalationForm(forms.Form):
    reason = forms.CharField(
        label="What is not progressing as expected?",
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[validate_no_secrets],
    )


class _BoundedLoginName:
    """Refuse a login name longer than any e-mail address with a form error.

    ``AuthenticationForm`` sets the field's ``max_length`` after the field is built,
    so Django never adds its validator: a 300-character name went on to
    ``authenticate()`` and into django-axes' 255-character column, a 500 on
    PostgreSQL.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["username"]
        field.validators.append(
            MaxLengthValidator(
                field.max_length,
                message=f"An e-mail address has at most {field.max_length} characters.",
            )
        )


class PortalAuthenticationForm(_BoundedLoginName, AuthenticationForm):
    """The portal's log-in form."""


class ConsoleAuthenticationForm(_BoundedLoginName, AdminAuthenticationForm):
    """The agent console's log-in form (``admin.site.login_form``)."""


class AsOfForm(forms.Form):
    """The "My plan" page: show the plan as it was on a past day."""

    as_of = forms.DateField(
        label="The plan as it was on",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
