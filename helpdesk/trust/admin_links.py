"""The ticket list's "Link to incident…" action: agents who may change incidents
pick an open incident for the selected tickets, linked through
``services.link_tickets`` (the permission check and the record of who linked).

Wiring only: ``helpdesk.trust.apps`` adds it to the ticket admin at start-up
(:func:`register`), so the ticket modules do not import the trust site.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from helpdesk.templatetags.instants import instant_text
from helpdesk.trust import services
from helpdesk.trust.models import Incident

PERMISSION = "trust.change_incident"


class LinkToIncidentForm(forms.Form):
    incident = forms.ModelChoiceField(
        label="Open incident",
        queryset=Incident.objects.open().order_by("-started_at", "-pk"),
        widget=forms.RadioSelect,
        empty_label=None,
        error_messages={
            "required": "Choose the incident.",
            "invalid_choice": "That incident is no longer open; choose another.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incident"].label_from_instance = _incident_label


def _incident_label(incident: Incident) -> str:
    return (
        f"{incident.title} ({incident.get_impact_display()}; "
        f"{incident.get_status_display().lower()} since "
        f"{instant_text(incident.started_at)})"
    )


@admin.action(description="Link to incident…", permissions=["link_to_incident"])
def link_to_incident(modeladmin, request, queryset):
    """Ask which open incident, then link the selected tickets to it."""
    form = LinkToIncidentForm(request.POST if "apply" in request.POST else None)
    tickets = list(
        queryset.select_related(None).order_by("reference").only("pk", "reference")
    )
    if form.is_bound and form.is_valid():
        incident = form.cleaned_data["incident"]
        try:
            created = services.link_tickets(incident, tickets, acting_user=request.user)
        except ValidationError as exc:
            modeladmin.message_user(request, " ".join(exc.messages), messages.ERROR)
            return None
        already = len(tickets) - len(created)
        modeladmin.message_user(
            request,
            f"{len(created)} ticket(s) linked to “{incident}”"
            + (f"; {already} already were." if already else "."),
        )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Link tickets to an incident",
        "opts": modeladmin.model._meta,
        "tickets": tickets,
        "form": form,
        "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        "action_name": "link_to_incident",
    }
    return TemplateResponse(request, "admin/trust/link_to_incident.html", context)


def has_link_to_incident_permission(modeladmin, request) -> bool:
    return request.user.has_perm(PERMISSION)


def register(ticket_admin: type[admin.ModelAdmin]) -> None:
    """Offer the action on ``ticket_admin``'s list to those who may link."""
    ticket_admin.has_link_to_incident_permission = has_link_to_incident_permission
    if link_to_incident not in ticket_admin.actions:
        ticket_admin.actions = [*ticket_admin.actions, link_to_incident]
