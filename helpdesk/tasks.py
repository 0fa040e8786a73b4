"""Celery tasks of the ticket core. Tasks take ids, call one service, return JSON."""

import logging
from datetime import timedelta

from celery import shared_task

from helpdesk import emails

logger = logging.getLogger(__name__)


@shared_task(name="helpdesk.ping")
def ping() -> str:
    """Return "pong": proves the web → broker → worker → result round trip."""
    return "pong"


@shared_task(
    name="helpdesk.send_email",
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_kwargs={"max_retries": 5},
)
def send_email(email_id: int) -> str:
    """Deliver one outbox e-mail (a no-op if it was already sent)."""
    return emails.deliver(email_id)


@shared_task(name="helpdesk.send_pending_emails")
def send_pending_emails(older_than_seconds: int = 30) -> dict:
    """Send every outbox e-mail still waiting: the safety net for broker outages.

    E-mails younger than ``older_than_seconds`` are left to their own send_email
    task, which is normally already on its way.
    """
    sent = failed = 0
    pending = emails.pending_email_ids(older_than=timedelta(seconds=older_than_seconds))
    for email_id in pending:
        try:
            if emails.deliver(email_id) == "sent":
                sent += 1
        except Exception:
            failed += 1
            logger.exception("outbox e-mail %s failed", email_id)
    return {"sent": sent, "failed": failed}


@shared_task(name="helpdesk.sweep_slo_clocks")
def sweep_slo_clocks(chunk: int | None = None) -> dict:
    """Record the SLO warnings and breaches that are due (every minute, by beat)."""
    from helpdesk import alerts

    return alerts.sweep(chunk=chunk or alerts.SWEEP_CHUNK)
