"""Escalations: assign the engineer, record the three checks, de-escalate."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from accounts.console import HistoryAdmin
from helpdesk import escalations
from helpdesk.models import Escalation
from helpdesk.secrets_guard import secret_errors


class EscalationForm(forms.ModelForm):
    de_escalate = forms.BooleanField(
        required=False, help_text="Only once all three checks are recorded."
    )

    class Meta:
        model = Escalation
        fields = ["engineer", "action_plan_note", "process_note", "parties_note"]

    NOTES = ("action_plan_note", "process_note", "parties_note")

    def clean(self):
        cleaned = super().clean()
        notes = {name: cleaned.get(name) or "" for name in self.NOTES}
        for name, errors in secret_errors(notes).items():
            self.add_error(name, errors)
        if cleaned.get("de_escalate"):
            notes = {
                "action_plan": cleaned.get("action_plan_note"),
                "process": cleaned.get("process_note"),
                "parties": cleaned.get("parties_note"),
            }
            missing = [
                words for check, words in escalations.CHECKS.items() if not notes[check]
            ]
            if missing:
                raise ValidationError(
                    "Not de-escalated: still to record that " + "; that ".join(missing)
                )
        return cleaned


@admin.register(Escalation)
class EscalationAdmin(HistoryAdmin):
    """Assign the escalation engineer, record the three checks (who and when are
    taken from the session), then de-escalate."""

    form = EscalationForm
    list_display = [
        "ticket",
        "requested_by",
        "requested_at",
        "engineer",
        "de_escalated_at",
    ]
    list_select_related = ["ticket", "requested_by", "engineer"]
    list_filter = [("de_escalated_at", admin.EmptyFieldListFilter)]
    readonly_fields = [
        "ticket",
        "requested_by",
        "requested_at",
        "reason",
        "action_plan_confirmed_by",
        "action_plan_confirmed_at",
        "process_verified_by",
        "process_verified_at",
        "parties_agree_by",
        "parties_agree_at",
        "de_escalated_by",
        "de_escalated_at",
    ]

    def has_add_permission(self, request):
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if not escalations.may_de_escalate(request.user):
            # Offer only what the user may do (the service refuses it anyway);
            # modelform_factory made this class and its fields dict for this call.
            form.base_fields.pop("de_escalate", None)
        return form

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        escalation = Escalation.objects.get(pk=obj.pk)
        data = form.cleaned_data
        if "engineer" in form.changed_data and data["engineer"]:
            escalations.assign_engineer(
                escalation, data["engineer"], actor=request.user
            )
        for check, field in (
            ("action_plan", "action_plan_note"),
            ("process", "process_note"),
            ("parties", "parties_note"),
        ):
            if field in form.changed_data and data[field]:
                escalations.record_check(
                    escalation, check, actor=request.user, note=data[field]
                )
        if data.get("de_escalate"):
            escalations.de_escalate(escalation, actor=request.user)
