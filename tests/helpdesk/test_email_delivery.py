"""E-mail through the real thing: a Celery worker on Redis, and a broker outage.

Every wait polls for its condition until a generous deadline: a loaded CI machine
makes a test slower, never red. No assertion here is about how long something took.
"""

import socket
import time
from contextlib import contextmanager

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.core import mail

from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail
from helpdesk.tasks import ping
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DEADLINE = 60  # seconds; only ever reached when something is broken
DEAD_BROKER_PORT = 1


def _wait_for(condition, timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@contextmanager
def worker(app):
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=DEADLINE
    ):
        yield


@contextmanager
def broker_at(app, url: str):
    """Point the app's producers at ``url`` (a dead port: an unreachable broker)."""
    original = app.conf.broker_url

    def reset_pools() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = url
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = original
        reset_pools()


@pytest.fixture(autouse=True)
def broker_not_paused(monkeypatch):
    """Each test starts as a fresh process would: no publish failed yet."""
    monkeypatch.setattr(emails, "_broker_paused_until", 0.0)


@pytest.fixture
def broker_knocks(monkeypatch) -> list:
    """Every connection attempt to the dead broker's port, in order."""
    knocks = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if isinstance(address, tuple) and address[1:2] == (DEAD_BROKER_PORT,):
            knocks.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return knocks


def test_a_real_worker_on_redis_delivers_the_confirmation(celery_app_live):
    admin = administrator()

    with worker(celery_app_live):
        ticket = file_ticket(admin)  # commits: the task is published on commit

        assert _wait_for(lambda: len(mail.outbox) == 1)

    assert ticket.reference in mail.outbox[0].subject
    assert OutboundEmail.objects.get().sent_at is not None


def test_a_ticket_filed_while_the_broker_is_down_is_saved_and_mailed_once_later(
    celery_app_live,
):
    admin = administrator()

    with broker_at(celery_app_live, f"redis://127.0.0.1:{DEAD_BROKER_PORT}/0"):
        ticket = file_ticket(admin)  # the failed publish is logged, not raised

    assert ticket.pk is not None
    email = OutboundEmail.objects.get()
    assert email.sent_at is None
    assert mail.outbox == []

    with worker(celery_app_live):
        tasks.send_pending_emails.delay(older_than_seconds=0)
        tasks.send_pending_emails.delay(older_than_seconds=0)
        # A redelivered send_email for the same row sends nothing more.
        tasks.send_email.delay(email.pk)
        # The solo worker runs its queue in order: once ping answers, all ran.
        assert ping.delay().get(timeout=DEADLINE) == "pong"

    assert len(mail.outbox) == 1
    assert OutboundEmail.objects.get().sent_at is not None


def test_filing_while_the_broker_is_down_knocks_on_it_once(
    celery_app_live, broker_knocks
):
    """The customer is not kept waiting on the broker: one connection attempt per
    publish, counted instead of timed."""
    admin = administrator()

    with broker_at(celery_app_live, f"redis://127.0.0.1:{DEAD_BROKER_PORT}/0"):
        file_ticket(admin)

    assert OutboundEmail.objects.count() == 1  # one e-mail: one publish
    assert len(broker_knocks) == 1


def test_after_a_failed_publish_the_next_requests_do_not_knock_for_a_while(
    celery_app_live, broker_knocks
):
    """One request pays for a broker that is down; the next ones in the pause leave
    their e-mail to the sweep without trying."""
    admin = administrator()

    with broker_at(celery_app_live, f"redis://127.0.0.1:{DEAD_BROKER_PORT}/0"):
        file_ticket(admin)
        file_ticket(admin)
        file_ticket(admin)

    assert OutboundEmail.objects.count() == 3
    assert len(broker_knocks) == 1


def test_the_outbox_tasks_leave_nothing_in_the_result_store(celery_app_live):
    admin = administrator()
    store = redis.Redis.from_url(celery_app_live.conf.result_backend)

    with worker(celery_app_live):
        file_ticket(admin)
        assert _wait_for(lambda: len(mail.outbox) == 1)
        sweep = tasks.send_pending_emails.delay(older_than_seconds=0)
        assert ping.delay().get(timeout=DEADLINE) == "pong"

    assert not store.exists(f"celery-task-meta-{sweep.id}")
    assert tasks.send_email.ignore_result
    assert tasks.drain_outbox.ignore_result
