"""The outbox: written with the ticket, sent after commit, never twice."""

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db


def test_the_confirmation_is_text_and_html_with_the_due_instant(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_ticket()

    [email] = mail.outbox
    html, mime = email.alternatives[0]
    assert mime == "text/html"
    assert ticket.reference in html
    assert "First response due by" in email.body
    assert "never send API keys" in email.body
    assert email.extra_headers["Message-ID"].startswith("<outbox-")


def test_delivering_twice_sends_once():
    file_ticket()  # on_commit never runs inside the test transaction
    email = OutboundEmail.objects.get()

    first = emails.deliver(email.pk)
    second = emails.deliver(email.pk)

    assert (first, second) == ("sent", "skipped")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.sent_at is not None
    assert email.attempts == 1


def test_a_row_claimed_by_a_live_worker_is_left_alone_until_the_claim_expires():
    file_ticket()
    email = OutboundEmail.objects.get()
    OutboundEmail.objects.filter(pk=email.pk).update(claimed_at=timezone.now())

    assert emails.deliver(email.pk) == "skipped"
    with time_machine.travel(
        timezone.now() + emails.CLAIM_TIMEOUT + timedelta(seconds=1)
    ):
        assert emails.deliver(email.pk) == "sent"
    assert len(mail.outbox) == 1


def test_a_failed_send_is_released_for_a_retry(monkeypatch):
    file_ticket()
    email = OutboundEmail.objects.get()

    def refuse(self, fail_silently=False):
        raise OSError("SMTP server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    with pytest.raises(OSError, match="SMTP server down"):
        emails.deliver(email.pk)
    monkeypatch.undo()

    email.refresh_from_db()
    assert email.claimed_at is None
    assert email.attempts == 1
    assert "SMTP server down" in email.last_error
    assert emails.deliver(email.pk) == "sent"


def test_the_periodic_sweep_sends_what_is_still_waiting_once():
    file_ticket()
    file_ticket()

    result = tasks.send_pending_emails(older_than_seconds=0)
    again = tasks.send_pending_emails(older_than_seconds=0)

    assert result == {"sent": 2, "failed": 0}
    assert again == {"sent": 0, "failed": 0}
    assert len(mail.outbox) == 2


def test_the_sweep_leaves_fresh_rows_to_their_own_task():
    file_ticket()

    assert tasks.send_pending_emails() == {"sent": 0, "failed": 0}
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert tasks.send_pending_emails() == {"sent": 1, "failed": 0}


def test_a_broker_outage_saves_the_ticket_and_leaves_the_email_for_the_sweep(
    monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(tasks.send_email, "apply_async", broker_down)

    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_ticket()

    assert ticket.pk is not None
    assert mail.outbox == []
    assert OutboundEmail.objects.get().sent_at is None
    monkeypatch.undo()
    assert tasks.send_pending_emails(older_than_seconds=0)["sent"] == 1
    assert len(mail.outbox) == 1


def test_queueing_the_same_key_twice_writes_one_row():
    ticket = file_ticket(administrator())

    again = emails.queue_email(
        key=f"ticket-created:{ticket.pk}",
        to="someone@example.com",
        template="ticket_created",
        context={"recipient": ticket.requester, "due": None},
        ticket=ticket,
    )

    assert OutboundEmail.objects.count() == 1
    assert again.to == ticket.requester.email
