"""The e-mail outbox: queue in the caller's transaction, deliver after commit.

``queue_email`` writes an OutboundEmail row in the same transaction as the ticket or
message that causes it, and asks a worker to send it once that transaction commits.
If the broker is down the row simply waits: the periodic ``send_pending_emails`` task
sends whatever is still unsent. ``deliver`` claims a row before sending and marks it
sent after, so a redelivered task or a second worker sends no duplicate.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.models import OutboundEmail, Ticket

logger = logging.getLogger(__name__)

# A claim older than this is presumed dead (its worker died mid-send) and is retried.
CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_ATTEMPTS = 10


def queue_email(
    *,
    key: str,
    to: str,
    template: str,
    context: dict,
    ticket: Ticket | None = None,
    send_after: datetime | None = None,
) -> OutboundEmail:
    """Write the e-mail rendered from ``emails/<template>.{subject,txt,html}`` to the
    outbox (once per ``key``) and enqueue its delivery on commit. An e-mail held
    until ``send_after`` is left to the periodic sweep."""
    context = {"base_url": settings.HELPDESK_BASE_URL, "ticket": ticket, **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject", context).split())
    email, created = OutboundEmail.objects.get_or_create(
        key=key,
        defaults={
            "to": to,
            "subject": subject,
            "body_text": render_to_string(f"emails/{template}.txt", context),
            "body_html": render_to_string(f"emails/{template}.html", context),
            "ticket": ticket,
            "send_after": send_after,
        },
    )
    if created and (send_after is None or send_after <= timezone.now()):
        from helpdesk.tasks import send_email

        enqueue_on_commit(send_email, email.pk)
    return email


def enqueue_on_commit(task, *args) -> None:
    """Send ``task`` to the broker after commit; a broker outage is logged, not
    raised: the periodic sweep picks the work up later."""

    def publish() -> None:
        try:
            task.apply_async(args=args, retry=False)
        except Exception:
            logger.warning(
                "broker unavailable: %s%r left for the periodic sweep", task.name, args
            )

    transaction.on_commit(publish)


def deliver(email_id: int) -> str:
    """Send one outbox e-mail unless it is sent or being sent; return what happened."""
    now = timezone.now()
    claimed = OutboundEmail.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT),
        Q(send_after__isnull=True) | Q(send_after__lte=now),
        pk=email_id,
        sent_at__isnull=True,
    ).update(claimed_at=now)
    if not claimed:
        return "skipped"
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        to=[email.to],
        headers={"Message-ID": _message_id(email)},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    try:
        message.send()
    except Exception as exc:
        OutboundEmail.objects.filter(pk=email.pk).update(
            claimed_at=None, attempts=email.attempts + 1, last_error=str(exc)[:2000]
        )
        raise
    OutboundEmail.objects.filter(pk=email.pk).update(
        sent_at=timezone.now(), attempts=email.attempts + 1, last_error=""
    )
    return "sent"


def pending_email_ids(*, older_than: timedelta = timedelta(seconds=30)) -> list[int]:
    """Return unsent e-mails that no worker holds, oldest first (indexed query)."""
    now = timezone.now()
    return list(
        OutboundEmail.objects.filter(
            Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT),
            Q(send_after__isnull=True) | Q(send_after__lte=now),
            sent_at__isnull=True,
            created_at__lt=now - older_than,
            attempts__lt=MAX_ATTEMPTS,
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:500]
    )


def _message_id(email: OutboundEmail) -> str:
    # Stable per outbox row: a receiving server can drop a duplicate by it.
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "helpdesk.local"
    return f"<outbox-{email.pk}-{email.created_at:%Y%m%d%H%M%S}@{domain}>"
