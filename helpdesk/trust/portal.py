"""What the portal's new-ticket view asks of the trust site (one narrow module, so
the portal needs no more than two calls): the deflection panel's context, and the
record that a ticket was filed after it."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from helpdesk.trust import deflection


def new_ticket_context(request: HttpRequest) -> dict:
    """A token per visit and the suggestions for the summary typed so far, shown on
    the page itself, so it works without JavaScript too."""
    source = request.POST if request.method == "POST" else request.GET
    token = deflection.parse_token(source.get("deflection_token"))
    return {
        "suggestions": deflection.suggestions(
            source.get("summary", ""),
            token=token or deflection.new_token(),
            user=request.user,
            organization=request.organization,
            now=timezone.now(),
        ),
        "suggestions_url": reverse("portal:new_ticket_suggestions"),
    }


def record_filed(request: HttpRequest, ticket) -> None:
    """Link the ticket to the visit's record of what was suggested."""
    deflection.record_filed(
        request.POST.get("deflection_token"),
        ticket,
        user=request.user,
        now=timezone.now(),
    )
