"""One polite answer to a refused e-mail, and the rules that keep it from looping.

Never to a message a machine sent (``Auto-Submitted``, ``Precedence: bulk/list/
junk``, reports, mailer daemons, our own addresses: ``ParsedMail.automatic``) or
that asks not to be answered (mailing lists, ``X-Auto-Response-Suppress``); at most
AUTO_REPLY_LIMIT a day to one address, so two helpdesks answering each other stop
after a few messages. The answer carries ``Auto-Submitted: auto-replied``
(RFC 3834 §5), added when the outbox sends it (``helpdesk.mail.threading``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from helpdesk.emails import queue_email
from helpdesk.mail.models import InboundMessage
from helpdesk.mail.threading import AUTO_REPLY_KEY

AUTO_REPLY_LIMIT = 3
AUTO_REPLY_WINDOW = timedelta(days=1)


def reason_not_to_answer(
    sender: str, no_auto_reply: str, *, now: datetime, our_addresses: tuple[str, ...]
) -> str:
    """Return why the refusal of a message from ``sender`` gets no answer, or ""."""
    if no_auto_reply:
        return no_auto_reply
    if not sender or sender in our_addresses:
        return "no address to answer"
    # Row locks would not help (the rows counted are other messages'); the limit
    # may let a burst of concurrent refusals through once, never a loop.
    answered = InboundMessage.objects.filter(
        sender=sender, auto_replied_at__gte=now - AUTO_REPLY_WINDOW
    ).count()
    if answered >= AUTO_REPLY_LIMIT:
        return f"{answered} automatic answers to {sender} in the last day already"
    return ""


def answer_refusal(inbound: InboundMessage, *, now: datetime) -> None:
    """Queue the automatic answer to the refused ``inbound`` (in the caller's
    transaction) and record it on the row."""
    queue_email(
        key=f"{AUTO_REPLY_KEY}{inbound.pk}",
        to=inbound.sender,
        template="inbound_refused",
        context={
            "subject": inbound.subject,
            "reason": inbound.reason,
            "limit": AUTO_REPLY_LIMIT,
        },
    )
    inbound.auto_replied_at = now
