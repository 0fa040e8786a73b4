"""The seeds' rules on the console's ticket page (issue 15 §3): capped products the
customer's text mentions, the Sev1 continuous effort and its "workaround provided",
the team, and the statuses an escalation holds back."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from accounts.console import requires
from helpdesk import continuous_effort, lifecycle
from helpdesk.models import Ticket
from policies import catalogue


class WorkaroundForm(forms.Form):
    note = forms.CharField(
        label="Workaround",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the customer. Ends the 24x7 effort; the resolution "
        "clock runs on.",
    )


def cap_warnings(ticket: Ticket) -> list[catalogue.CapWarning]:
    """Capped products the ticket's summary, description or component mention while
    its severity is above their cap: flagged to the agent, never silently kept."""
    return catalogue.capped_mentions(
        ticket.plan,
        ticket.severity,
        {
            "summary": ticket.summary,
            "description": ticket.description,
            "component": ticket.component,
        },
        chosen=ticket.product,
    )


def statuses_offered(ticket: Ticket, allowed: list[str]) -> list[str]:
    """The next statuses the page offers: an escalated ticket is neither resolved
    nor closed before it is de-escalated (``helpdesk.escalations``)."""
    if not ticket.is_escalated:
        return allowed
    return [status for status in allowed if status not in lifecycle.ENDS]


def ticket_context(ticket: Ticket, user) -> dict:
    """What the ticket page shows of these rules."""
    return {
        "cap_warnings": cap_warnings(ticket),
        "continuous_effort_active": continuous_effort.obligation_active(ticket),
        "workaround_form": WorkaroundForm()
        if continuous_effort.obligation_active(ticket)
        and user.has_perm("helpdesk.change_ticket")
        else None,
        "escalation_holds_end": ticket.is_escalated
        and ticket.status not in lifecycle.ENDS,
    }


@requires("helpdesk.change_ticket")
def workaround_view(model_admin, request, pk: int):
    """Record "workaround provided" on a continuous-effort ticket."""
    ticket = get_object_or_404(Ticket, pk=pk)
    back = reverse("admin:helpdesk_ticket_change", args=[pk])
    if request.method != "POST":
        return HttpResponseRedirect(back)
    form = WorkaroundForm(request.POST)
    if not form.is_valid():
        model_admin.message_user(
            request, "Describe the workaround for the customer.", messages.ERROR
        )
        return HttpResponseRedirect(back)
    try:
        continuous_effort.record_workaround(
            ticket, actor=request.user, note=form.cleaned_data["note"]
        )
    except ValidationError as exc:
        model_admin.message_user(
            request, "Not recorded: " + " ".join(exc.messages), messages.ERROR
        )
    else:
        model_admin.message_user(
            request,
            "Workaround recorded: the continuous effort ends; the resolution clock "
            "runs on.",
            messages.SUCCESS,
        )
    return HttpResponseRedirect(back)
