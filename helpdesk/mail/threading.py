"""Threads both ways: which ticket an inbound e-mail answers, and the headers that
make every outbound e-mail about a ticket one thread in the customer's mail client.

Inbound: ``In-Reply-To``/``References`` against the Message-IDs we sent (the outbox)
and received (an e-mail that filed or answered the ticket), else the ``[HD-000123]``
token in the subject. Outbound: every e-mail has its own Message-ID (per outbox
row); one about a ticket answers the ticket's first message: the customer's own
e-mail when they filed it by mail, else our confirmation.
"""

from __future__ import annotations

import re

from django.conf import settings

from helpdesk.mail.models import InboundMessage
from helpdesk.mail.parsing import ParsedMail
from helpdesk.models import OutboundEmail, Ticket

# The key prefix of automatic answers (refusals): RFC 3834 headers, never threaded.
AUTO_REPLY_KEY = "auto-reply:"


def reference_in(subject: str) -> str:
    """Return the ticket reference in ``subject``'s ``[HD-000123]`` token, or ""."""
    prefix = re.escape(settings.HELPDESK_REFERENCE_PREFIX)
    found = re.search(rf"\[({prefix}-\d{{1,12}})\]", subject, re.IGNORECASE)
    return found.group(1).upper() if found else ""


def find_ticket(mail: ParsedMail) -> Ticket | None:
    """Return the ticket ``mail`` answers, or None."""
    if mail.thread_ids:
        ids = list(mail.thread_ids)
        by_id = {
            message_id: ticket_id
            for message_id, ticket_id in OutboundEmail.objects.filter(
                message_id__in=ids, ticket__isnull=False
            ).values_list("message_id", "ticket_id")
        }
        by_id.update(
            InboundMessage.objects.filter(message_id__in=ids, ticket__isnull=False)
            .values_list("message_id", "ticket_id")
            .iterator()
        )
        for message_id in ids:  # the one it answers directly first
            if message_id in by_id:
                return _ticket(pk=by_id[message_id])
    reference = reference_in(mail.subject)
    if reference:
        return _ticket(reference=reference)
    return None


def _ticket(**lookup) -> Ticket | None:
    return (
        Ticket.objects.select_related("organization", "requester")
        .filter(**lookup)
        .first()
    )


def thread_root(ticket_id: int) -> list[str]:
    """Return the Message-IDs an e-mail about the ticket answers, oldest first: the
    customer's e-mail that filed it (if by mail), then our confirmation."""
    from helpdesk.emails import message_id_for

    root = (
        InboundMessage.objects.filter(
            ticket_id=ticket_id, outcome=InboundMessage.Outcome.CREATED
        )
        .exclude(message_id="")
        .values_list("message_id", flat=True)
        .first()
    )
    confirmation = message_id_for(f"ticket-created:{ticket_id}")
    return [root, confirmation] if root else [confirmation]


def outbound_headers(email: OutboundEmail) -> dict[str, str]:
    """Return the threading headers of one outbox e-mail (besides its Message-ID):
    Reply-To is the support address; an e-mail about a ticket answers the ticket's
    first message; an automatic answer says so (RFC 3834) and answers the message
    it refuses."""
    headers = {}
    if email.key.startswith(AUTO_REPLY_KEY):
        headers["Auto-Submitted"] = "auto-replied"
        headers["X-Auto-Response-Suppress"] = "All"
        inbound_id = email.key.removeprefix(AUTO_REPLY_KEY)
        refused = (
            InboundMessage.objects.filter(pk=inbound_id)
            .values_list("message_id", flat=True)
            .first()
            if inbound_id.isdigit()
            else None
        )
        if refused:
            headers["In-Reply-To"] = refused
            headers["References"] = refused
        return headers
    if email.ticket_id is None:
        return headers
    references = [
        message_id
        for message_id in thread_root(email.ticket_id)
        if message_id != email.message_id
    ]
    if references:
        headers["In-Reply-To"] = references[0]
        headers["References"] = " ".join(references)
    return headers


def subject_with_reference(subject: str, reference: str) -> str:
    """Return ``subject`` with ``[HD-000123]`` in front unless it carries it."""
    if not reference or f"[{reference}]" in subject:
        return subject
    return f"[{reference}] {subject}"[:250]
