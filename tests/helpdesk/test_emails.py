"""The outbox: written with the ticket, sent after commit, never twice; retried until
sent or refused for good; stuck and failed mail shown and retried in the console.

The mail server here is Django's in-memory backend with scripted answers; the real
SMTP server (aiosmtpd) and a real Redis going away are in tests/faults/.
"""

import itertools
import smtplib
import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts import roles
from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

BUSY = smtplib.SMTPRecipientsRefused(
    {"ada@acme.example": (451, b"4.3.0 Mail server busy, try again later")}
)
NO_SUCH_USER = smtplib.SMTPRecipientsRefused(
    {"ada@acme.example": (550, b"5.1.1 No such user here")}
)


class ScriptedServer(locmem.EmailBackend):
    """Django's in-memory backend, answering as the test says: ``answer(message)``
    returns an exception to raise, or None to accept; ``unreachable`` refuses the
    connection itself. ``opened`` counts connections."""

    answer = staticmethod(lambda message: None)
    unreachable: Exception | None = None
    opened = 0

    def open(self):
        if ScriptedServer.unreachable is not None:
            raise ScriptedServer.unreachable
        ScriptedServer.opened += 1
        return True

    def send_messages(self, messages):
        for message in messages:
            refusal = ScriptedServer.answer(message)
            if refusal is not None:
                raise refusal
        return super().send_messages(messages)


@pytest.fixture
def server(settings, monkeypatch):
    settings.EMAIL_BACKEND = f"{__name__}.ScriptedServer"
    monkeypatch.setattr(ScriptedServer, "answer", staticmethod(lambda message: None))
    monkeypatch.setattr(ScriptedServer, "unreachable", None)
    monkeypatch.setattr(ScriptedServer, "opened", 0)
    return ScriptedServer


def refuse_with(server, refusal) -> None:
    server.answer = staticmethod(lambda message: refusal)


def one_email() -> OutboundEmail:
    file_ticket()  # on_commit never runs inside the test transaction: not sent
    return OutboundEmail.objects.get()


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
    assert email.extra_headers["Message-ID"] == OutboundEmail.objects.get().message_id
    assert email.extra_headers["Message-ID"].startswith("<outbox-")


def test_delivering_twice_sends_once():
    email = one_email()

    first = emails.deliver(email.pk)
    second = emails.deliver(email.pk)

    assert (first, second) == ("sent", "skipped")
    assert len(mail.outbox) == 1
    email.refresh_from_db()
    assert email.sent_at is not None
    assert email.attempts == 1
    assert email.claimed_by == ""


def test_a_claim_of_a_killed_worker_runs_out_within_a_minute():
    """A worker that claimed a batch and died leaves it to the next sweep after
    its claim ran out, and each e-mail goes out once."""
    admin = administrator()
    for _ in range(3):
        file_ticket(admin)
    claim = emails._claim(limit=10)  # the worker dies here

    assert timedelta(minutes=1) >= emails.CLAIM_TIMEOUT
    assert len(claim.ids) == 3
    assert tasks.send_pending_emails(older_than_seconds=0)["sent"] == 0
    with time_machine.travel(
        timezone.now() + emails.CLAIM_TIMEOUT + timedelta(seconds=1)
    ):
        assert tasks.send_pending_emails(older_than_seconds=0)["sent"] == 3
        assert tasks.send_pending_emails(older_than_seconds=0)["sent"] == 0
    assert len(mail.outbox) == 3


def test_a_message_begins_only_while_its_claim_outlasts_the_slowest_send():
    """Each SMTP exchange waits at most SMTP_TIMEOUT_SECONDS, four of them per
    message: a message begun with SEND_WINDOW of its claim left is answered before
    the claim runs out, so no other worker can send it meanwhile."""
    assert timedelta(seconds=4 * emails.SMTP_TIMEOUT_SECONDS) < emails.SEND_WINDOW
    assert emails.SEND_WINDOW < emails.CLAIM_TIMEOUT


def test_a_slow_server_gets_each_message_once(server):
    """Each send takes 20 s: after the first, the rest of the batch is released
    rather than sent late in its claim; the next batches send them, once each."""
    admin = administrator()
    for _ in range(4):
        file_ticket(admin)
    with time_machine.travel(timezone.now(), tick=False) as traveller:

        def slow(message):
            traveller.shift(timedelta(seconds=20))

        server.answer = staticmethod(slow)
        first = emails.send_batch()
        totals = emails.drain()

    assert (first["sent"], first["released"]) == (1, 3)
    assert totals["sent"] == 3
    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    assert sorted(ids) == sorted(
        OutboundEmail.objects.values_list("message_id", flat=True)
    )


def test_a_batch_goes_out_over_one_connection(server):
    admin = administrator()
    for _ in range(5):
        file_ticket(admin)

    counts = emails.send_batch()

    assert counts["sent"] == 5
    assert server.opened == 1
    assert len(mail.outbox) == 5


def test_a_transient_failure_backs_off_and_is_retried(server):
    email = one_email()
    refuse_with(server, BUSY)
    now = timezone.now()

    with time_machine.travel(now, tick=False):
        assert emails.deliver(email.pk) == "retrying"
        assert emails.deliver(email.pk) == "skipped"  # backing off
    email.refresh_from_db()
    assert email.attempts == 1
    assert email.last_error.startswith("451 4.3.0 Mail server busy")
    assert email.next_attempt_at == now + timedelta(seconds=30)
    assert (email.claimed_by, email.failed_at, email.sent_at) == ("", None, None)

    refuse_with(server, None)
    with time_machine.travel(now + timedelta(seconds=30), tick=False):
        assert emails.deliver(email.pk) == "sent"
    email.refresh_from_db()
    assert (email.attempts, email.last_error) == (2, "")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    ("attempts", "wait"),
    [
        (1, timedelta(seconds=30)),
        (2, timedelta(minutes=1)),
        (3, timedelta(minutes=2)),
        (5, timedelta(minutes=8)),
        (6, timedelta(minutes=16)),
        (7, timedelta(minutes=30)),
        (200, timedelta(minutes=30)),
    ],
)
def test_the_backoff_doubles_up_to_30_minutes(attempts, wait):
    assert emails.backoff(attempts) == wait


def test_transient_failures_are_retried_for_days_before_the_row_fails(server):
    email = one_email()
    refuse_with(server, OSError("Connection refused"))
    queued = email.created_at
    tries = []
    with time_machine.travel(queued, tick=False) as traveller:
        while emails.deliver(email.pk) == "retrying":
            email.refresh_from_db()
            tries.append(timezone.now())
            traveller.move_to(email.next_attempt_at)
    email.refresh_from_db()

    assert tries[-1] - queued >= timedelta(days=3)  # still retried after three days
    assert max(b - a for a, b in itertools.pairwise(tries)) == timedelta(minutes=30)
    assert email.failed_at - queued >= emails.RETRY_FOR
    assert email.last_error.startswith(f"gave up after {email.attempts} attempts")
    assert "Connection refused" in email.last_error
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("refusal", "outcome"),
    [
        (NO_SUCH_USER, "failed"),
        (BUSY, "retrying"),
        (smtplib.SMTPDataError(550, b"5.1.1 Recipient address rejected"), "failed"),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), "retrying"),
        (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not allowed", "x"), "retrying"),
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Bad credentials"), "retrying"),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "retrying"),
        (TimeoutError("timed out"), "retrying"),
    ],
    ids=[
        "550-rcpt",
        "451-rcpt",
        "550-5.1.1-after-data",
        "554-spam",
        "553-sender",
        "535-auth",
        "disconnected",
        "timeout",
    ],
)
def test_only_a_permanent_refusal_of_the_recipient_fails_the_row(
    server, refusal, outcome
):
    email = one_email()
    refuse_with(server, refusal)

    assert emails.deliver(email.pk) == outcome

    email.refresh_from_db()
    assert (email.failed_at is not None) == (outcome == "failed")
    assert email.last_error
    assert email.sent_at is None


def test_a_refused_recipient_is_failed_with_the_reason_and_never_tried_again(server):
    email = one_email()
    refuse_with(server, NO_SUCH_USER)

    result = tasks.send_pending_emails(older_than_seconds=0)
    refuse_with(server, None)
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        again = tasks.send_pending_emails(older_than_seconds=0)

    email.refresh_from_db()
    assert result == {"sent": 0, "retrying": 0, "failed": 1}
    assert again == {"sent": 0, "retrying": 0, "failed": 0}
    assert email.failed_at is not None
    assert email.last_error == "550 5.1.1 No such user here (ada@acme.example)"
    assert mail.outbox == []


def test_an_unreachable_server_backs_off_the_batch_and_stops_the_sweep(server):
    admin = administrator()
    for _ in range(3):
        file_ticket(admin)
    server.unreachable = ConnectionRefusedError(111, "Connection refused")

    totals = emails.drain()

    assert (totals["claimed"], totals["retrying"], totals["unreachable"]) == (3, 3, 1)
    assert set(OutboundEmail.objects.values_list("attempts", flat=True)) == {1}


def test_the_message_id_is_fixed_per_row_and_derived_from_its_key(server):
    email = one_email()
    refuse_with(server, BUSY)
    emails.deliver(email.pk)
    refuse_with(server, None)

    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        emails.deliver(email.pk)

    email.refresh_from_db()
    assert email.message_id == emails.message_id_for(email.key)
    assert emails.message_id_for("other") != email.message_id
    assert mail.outbox[0].extra_headers["Message-ID"] == email.message_id


def test_the_periodic_sweep_sends_what_is_still_waiting_once():
    file_ticket()
    file_ticket()

    result = tasks.send_pending_emails(older_than_seconds=0)
    again = tasks.send_pending_emails(older_than_seconds=0)

    assert result == {"sent": 2, "retrying": 0, "failed": 0}
    assert again == {"sent": 0, "retrying": 0, "failed": 0}
    assert len(mail.outbox) == 2


def test_the_sweep_leaves_fresh_rows_to_their_own_task():
    file_ticket()

    assert tasks.send_pending_emails()["sent"] == 0
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert tasks.send_pending_emails()["sent"] == 1


def test_a_sweep_with_a_backlog_asks_idle_workers_to_help(monkeypatch):
    admin = administrator()
    for _ in range(3):
        file_ticket(admin)
    monkeypatch.setattr(emails, "BATCH_SIZE", 1)
    helpers = []
    monkeypatch.setattr(emails, "publish_hint", lambda task, *a: helpers.append(task))

    result = tasks.send_pending_emails(older_than_seconds=0)

    assert helpers == [tasks.drain_outbox, tasks.drain_outbox]
    assert result["sent"] == 3


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


def test_after_a_failed_publish_the_process_leaves_hints_to_the_sweep_for_a_while(
    monkeypatch,
):
    """A frozen broker answers nothing until the socket time-out: one request pays
    it, the next ones in the pause do not knock at all."""
    monkeypatch.setattr(emails, "_broker_paused_until", 0.0)
    knocks = []

    def frozen_broker(*args, **kwargs):
        knocks.append(args)
        raise OperationalError("Timeout reading from socket")

    monkeypatch.setattr(tasks.send_email, "apply_async", frozen_broker)

    conf = tasks.send_email.app.conf
    conf.task_always_eager = False  # a real broker: the pause applies
    try:
        first = emails.publish_hint(tasks.send_email, 1)
        second = emails.publish_hint(tasks.send_email, 2)
        paused_for = emails._broker_paused_until - time.monotonic()
        monkeypatch.setattr(emails, "_broker_paused_until", 0.0)  # the pause is over
        third = emails.publish_hint(tasks.send_email, 3)
    finally:
        conf.task_always_eager = True

    assert (first, second, third) == (False, False, False)
    assert len(knocks) == 2  # the first and the third
    assert 0 < paused_for <= emails.BROKER_PAUSE_SECONDS


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


# --- stuck mail: the Support Managers hear once per episode ------------------------


def alerts() -> list[OutboundEmail]:
    return list(OutboundEmail.objects.filter(key__startswith="outbox-stuck:"))


def test_mail_stuck_for_15_minutes_alerts_the_support_managers_once(server):
    managers = [AgentFactory(role=roles.SUPPORT_MANAGER) for _ in range(2)]
    AgentFactory(role=roles.SUPPORT_ENGINEER)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        file_ticket()
        refuse_with(server, BUSY)
        for minute in range(1, 40):
            traveller.move_to(start + timedelta(minutes=minute))
            tasks.send_pending_emails()
            if minute == 14:
                assert alerts() == []
            if minute == 16:
                assert len(alerts()) == 2
        assert len(alerts()) == 2  # once for the episode, not every minute

        refuse_with(server, None)
        traveller.move_to(start + timedelta(hours=2))  # past every back-off
        tasks.send_pending_emails()

    assert sorted(a.to for a in alerts()) == sorted(m.email for m in managers)
    [alert] = [m for m in mail.outbox if m.to == [managers[0].email]]
    assert "1 outgoing e-mail of the helpdesk has waited more than 15 minutes" in (
        alert.body
    )
    assert "451 4.3.0 Mail server busy" in alert.body
    assert "/admin/helpdesk/outboundemail/?state=stuck" in alert.body
    assert OutboundEmail.objects.waiting().count() == 0


def test_a_new_episode_alerts_again_and_a_stuck_alert_alerts_nobody(server):
    AgentFactory(role=roles.SUPPORT_MANAGER)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        file_ticket()
        refuse_with(server, BUSY)
        traveller.move_to(start + timedelta(minutes=16))
        tasks.send_pending_emails()
        assert len(alerts()) == 1
        # The ticket's mail goes out; the alert alone stays stuck: no new alert.
        OutboundEmail.objects.exclude(key__startswith="outbox-stuck:").update(
            sent_at=timezone.now()
        )
        traveller.move_to(start + timedelta(hours=2))
        tasks.send_pending_emails()
        assert len(alerts()) == 1

        file_ticket()  # a second outage, later
        traveller.move_to(start + timedelta(hours=2, minutes=16))
        tasks.send_pending_emails()

    assert len(alerts()) == 2


def test_no_alert_while_mail_flows():
    AgentFactory(role=roles.SUPPORT_MANAGER)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        file_ticket()
        tasks.send_pending_emails(older_than_seconds=0)
    assert alerts() == []


# --- the console: stuck and failed mail, "Retry now" -------------------------------


@pytest.fixture
def outbox(server):
    """One e-mail of each kind: sent, failed, stuck (backing off), fresh."""
    admin = administrator()
    sent, failed, stuck, fresh = (
        file_ticket(admin, summary=summary)
        for summary in ("Sent one", "Failed one", "Stuck one", "Fresh one")
    )
    rows = {
        name: OutboundEmail.objects.get(ticket=ticket)
        for name, ticket in zip(
            ("sent", "failed", "stuck", "fresh"),
            (sent, failed, stuck, fresh),
            strict=True,
        )
    }
    now = timezone.now()
    OutboundEmail.objects.filter(pk=rows["sent"].pk).update(sent_at=now)
    OutboundEmail.objects.filter(pk=rows["failed"].pk).update(
        failed_at=now, last_error="550 5.1.1 No such user here", attempts=1
    )
    OutboundEmail.objects.filter(pk=rows["stuck"].pk).update(
        created_at=now - timedelta(minutes=20),
        next_attempt_at=now + timedelta(minutes=8),
        attempts=5,
        last_error="451 4.3.0 Mail server busy",
    )
    return rows


def changelist(client, **params):
    return client.get(reverse("admin:helpdesk_outboundemail_changelist"), params)


def subjects(response) -> set[str]:
    return {email.subject for email in response.context["cl"].result_list}


def test_the_console_lists_stuck_and_failed_mail(client, outbox):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))

    stuck = changelist(client, state="stuck")
    failed = changelist(client, state="failed")

    assert subjects(stuck) == {outbox["stuck"].subject}
    assert subjects(failed) == {outbox["failed"].subject}
    assert b"Stuck: waiting over 15 min (1)" in stuck.content
    assert b"Failed (1)" in stuck.content
    assert b"451 4.3.0 Mail server busy" in stuck.content
    assert b"stuck, retrying" in stuck.content


def test_retry_now_sends_failed_and_stuck_mail_at_once(
    client, outbox, django_capture_on_commit_callbacks
):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
    chosen = [outbox[name].pk for name in ("sent", "failed", "stuck")]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:helpdesk_outboundemail_changelist"),
            {"action": "retry_now", "_selected_action": chosen},
            follow=True,
        )

    texts = [str(m) for m in response.context["messages"]]
    assert "2 e-mails will be sent again now." in texts
    assert "1 already sent or being sent: left alone." in texts
    sent = [m.subject for m in mail.outbox]
    assert sent.count(outbox["failed"].subject) == sent.count(outbox["stuck"].subject)
    assert sent.count(outbox["stuck"].subject) == 1
    assert outbox["sent"].subject not in sent
    failed = OutboundEmail.objects.get(pk=outbox["failed"].pk)
    assert failed.sent_at is not None
    assert failed.failed_at is None


def test_retry_now_needs_the_change_permission(client, outbox):
    viewer = AgentFactory(role=roles.SUPPORT_ENGINEER)
    viewer.user_permissions.add(
        *roles_permission("helpdesk.view_outboundemail"),
    )
    client.force_login(viewer)
    url = reverse("admin:helpdesk_outboundemail_changelist")

    page = changelist(client)
    response = client.post(
        url, {"action": "retry_now", "_selected_action": [outbox["failed"].pk]}
    )
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))
    engineer = changelist(client)

    assert page.status_code == 200
    assert b"retry_now" not in page.content
    assert response.status_code in (200, 302)
    assert OutboundEmail.objects.get(pk=outbox["failed"].pk).failed_at is not None
    assert engineer.status_code == 403


def test_a_row_page_stays_read_only_for_a_support_manager(client, outbox):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
    url = reverse("admin:helpdesk_outboundemail_change", args=[outbox["failed"].pk])

    page = client.get(url)
    response = client.post(url, {"to": "mallory@example.com"})

    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert response.status_code == 403
    assert OutboundEmail.objects.get(pk=outbox["failed"].pk).to != "mallory@example.com"


def roles_permission(name: str):
    from django.contrib.auth.models import Permission

    app_label, codename = name.split(".")
    return Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    )
