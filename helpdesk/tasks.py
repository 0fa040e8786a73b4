"""Celery tasks of the ticket core. Tasks take ids, call one service, return JSON."""

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from helpdesk import emails

logger = logging.getLogger(__name__)


@shared_task(name="helpdesk.ping")
def ping() -> str:
    """Return "pong": proves the web → broker → worker → result round trip."""
    return "pong"


# Nobody reads the result of the outbox tasks: they ignore it, so publishing one
# never subscribes to the result store and a worker writes nothing back.
@shared_task(name="helpdesk.send_email", ignore_result=True)
def send_email(email_id: int) -> str:
    """Deliver one outbox e-mail: "sent", or "skipped" when it is already sent, held,
    backing off or being sent. A failure is recorded on the row (no Celery retry:
    the row's ``next_attempt_at`` is the schedule, and the sweep keeps it)."""
    return emails.deliver(email_id)


@shared_task(name="helpdesk.send_pending_emails", ignore_result=True)
def send_pending_emails(older_than_seconds: int = 30) -> dict:
    """Every minute (beat): the safety net for lost hints and the retry schedule.

    Tell the Support Managers about mail stuck for 15 minutes (that alert is sent
    first, ahead of the mail it is about), ask idle workers to help when more than a
    batch is due, then send what is due batch by batch for up to a minute. E-mails
    younger than ``older_than_seconds`` are left to their own send_email hint.
    """
    from helpdesk import notifications

    now = timezone.now()
    created_before = now - timedelta(seconds=older_than_seconds)
    totals = {emails.SENT: 0, emails.RETRYING: 0, emails.FAILED: 0}
    for email_id in notifications.notify_stuck_outbox(now=now):
        outcome = emails.deliver(email_id)
        if outcome in totals:
            totals[outcome] += 1
    for _ in range(emails.helpers_wanted(now=now, created_before=created_before)):
        emails.publish_hint(drain_outbox, older_than_seconds)
    drained = emails.drain(created_before=created_before)
    return {name: count + drained[name] for name, count in totals.items()}


@shared_task(name="helpdesk.drain_outbox", ignore_result=True)
def drain_outbox(older_than_seconds: int = 30) -> dict:
    """Help the sweep with a backlog: send due outbox e-mails batch by batch."""
    created_before = timezone.now() - timedelta(seconds=older_than_seconds)
    return emails.drain(created_before=created_before)


@shared_task(name="helpdesk.sweep_slo_clocks")
def sweep_slo_clocks(chunk: int | None = None) -> dict:
    """Record the SLO warnings and breaches that are due (every minute, by beat)."""
    from helpdesk import alerts

    return alerts.sweep(chunk=chunk or alerts.SWEEP_CHUNK)


@shared_task(name="helpdesk.page_sev1_managers")
def page_sev1_managers() -> int:
    """Page the Support Managers about Sev1 tickets still unassigned or unanswered
    after the delay (every minute, by beat); return how many tickets."""
    from helpdesk import continuous_effort

    return continuous_effort.page_managers_due()


@shared_task(name="helpdesk.receive_inbound_mail", ignore_result=True)
def receive_inbound_mail() -> dict:
    """Every 15 seconds (beat): process the mail waiting at INBOUND_MAIL_URL (IMAP or
    the maildir) exactly once each; return the outcome counts."""
    from helpdesk.mail import sources

    return sources.poll()
