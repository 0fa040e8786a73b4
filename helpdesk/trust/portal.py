"""What the portal asks of the trust site (one narrow module, so the portal needs no
more than these calls): the deflection panel of the new-ticket page, the same panel
alone for the script that follows the summary as it is typed, and the record that a
ticket was filed after it."""

from __future__ import annotations

from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from helpdesk.trust import deflection


def suggestions(request: HttpRequest, source: QueryDict) -> deflection.Suggestions:
    """The suggestions for the form's fields in ``source``: the summary typed so far,
    the product chosen (``product``, an entry of the organisation's plan's
    catalogue) and the visit's token (``token_field``)."""
    return _suggestions(request, source, token_field="token")


def _suggestions(
    request: HttpRequest, source: QueryDict, *, token_field: str
) -> deflection.Suggestions:
    organization = request.organization
    token = deflection.parse_token(source.get(token_field))
    return deflection.suggestions(
        source.get("summary", ""),
        token=token or deflection.new_token(),
        user=request.user,
        organization=organization,
        now=timezone.now(),
        entry=deflection.chosen_entry(source.get("product"), organization),
    )


def new_ticket_context(request: HttpRequest) -> dict:
    """A token per visit and the suggestions for the summary typed so far (and the
    product chosen), shown on the page itself, so it works without JavaScript too."""
    source = request.POST if request.method == "POST" else request.GET
    return {
        "suggestions": _suggestions(request, source, token_field="deflection_token"),
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
