"""A real SMTP server that says "try again later" for twenty minutes, refuses a
recipient for good, or is sent the same message twice: every e-mail is delivered
exactly once, a refused one is failed with the reason, and a second copy carries
the same Message-ID."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts import roles
from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = [pytest.mark.faults, pytest.mark.django_db]

START = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
BUSY = "451 4.3.0 Mail server busy, try again later"


def file_tickets(count: int) -> list[OutboundEmail]:
    """``count`` tickets of one organisation, each filed by its own administrator:
    ``count`` confirmations to ``count`` addresses."""
    first = administrator()
    for number in range(count):
        admin = first if number == 0 else administrator(organization=first.organization)
        file_ticket(admin, summary=f"Outage report {number}")
    return list(OutboundEmail.objects.order_by("pk"))


def test_451_for_twenty_minutes_then_250_delivers_each_email_exactly_once(
    smtp_server,
):
    AgentFactory(role=roles.SUPPORT_MANAGER)
    outage_ends = START + timedelta(minutes=20)
    smtp_server.refuse = lambda address: (
        BUSY if datetime.now(UTC) < outage_ends else None
    )
    with time_machine.travel(START, tick=False) as traveller:
        queued = file_tickets(5)
        for minute in range(1, 61):  # beat's sweep, every minute for an hour
            traveller.move_to(START + timedelta(minutes=minute))
            tasks.send_pending_emails()
            if minute == 19:
                assert smtp_server.delivered == []
                waiting = OutboundEmail.objects.waiting()
                assert waiting.count() == 5 + 1  # the tickets' and the alert
                assert all(e.last_error.startswith(BUSY) for e in waiting)

    ids = smtp_server.message_ids()
    alerts = OutboundEmail.objects.filter(key__startswith="outbox-stuck:")
    assert len(ids) == len(set(ids)) == 5 + 1  # each once, the alert included
    assert set(ids) == {e.message_id for e in [*queued, *alerts]}
    assert not OutboundEmail.objects.waiting().exists()
    assert not OutboundEmail.objects.failed().exists()
    retried = OutboundEmail.objects.exclude(pk__in=[a.pk for a in alerts])
    assert min(e.attempts for e in retried) > 3  # backed off, not given up


def test_a_550_recipient_fails_the_row_with_the_reason_and_the_rest_go_out(
    smtp_server,
):
    queued = file_tickets(3)
    gone = queued[1]
    smtp_server.refuse = lambda address: (
        f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address == gone.to
        else None
    )

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        first = tasks.send_pending_emails()
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        later = tasks.send_pending_emails()

    gone.refresh_from_db()
    assert first == {"sent": 2, "retrying": 0, "failed": 1}
    assert later == {"sent": 0, "retrying": 0, "failed": 0}
    assert gone.failed_at is not None
    assert gone.sent_at is None
    assert gone.last_error == (
        f"550 5.1.1 <{gone.to}>: Recipient address rejected: User unknown ({gone.to})"
    )
    assert sorted(smtp_server.message_ids()) == sorted(
        e.message_id for e in queued if e.pk != gone.pk
    )


def test_a_message_sent_twice_carries_the_same_message_id(smtp_server, monkeypatch):
    """The one double SMTP allows: the server accepted, and the worker died before
    it recorded that. The claim runs out, the message goes again, recognisably the
    same."""
    [queued] = file_tickets(1)
    monkeypatch.setattr(emails, "_record_sent", lambda email: None)  # died here

    assert emails.deliver(queued.pk) == "sent"
    monkeypatch.undo()
    assert emails.deliver(queued.pk) == "skipped"  # the claim still holds
    with time_machine.travel(
        timezone.now() + emails.CLAIM_TIMEOUT + timedelta(seconds=1)
    ):
        assert emails.deliver(queued.pk) == "sent"
        assert emails.deliver(queued.pk) == "skipped"

    first, second = smtp_server.delivered
    assert first.message_id == second.message_id == queued.message_id
    assert first.subject == second.subject


def test_a_batch_is_one_smtp_connection(smtp_server, monkeypatch):
    from django.core.mail.backends.smtp import EmailBackend

    opened = []
    real_open = EmailBackend.open

    def open_and_count(self):
        created = real_open(self)
        if created:
            opened.append(self)
        return created

    monkeypatch.setattr(EmailBackend, "open", open_and_count)
    file_tickets(25)

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        counts = emails.send_batch()

    assert counts["sent"] == 25
    assert len(opened) == 1
    assert len(set(smtp_server.message_ids())) == 25
