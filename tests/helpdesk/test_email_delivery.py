"""E-mail through the real thing: a Celery worker on Redis, and a broker outage."""

import time
from contextlib import contextmanager

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from helpdesk import tasks
from helpdesk.models import OutboundEmail
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


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


def test_a_real_worker_on_redis_delivers_the_confirmation(celery_app_live):
    admin = administrator()

    with start_worker(celery_app_live, pool="solo", perform_ping_check=False):
        ticket = file_ticket(admin)  # commits: the task is published on commit

        assert _wait_for(lambda: len(mail.outbox) == 1)

    assert ticket.reference in mail.outbox[0].subject
    assert OutboundEmail.objects.get().sent_at is not None


def test_a_ticket_filed_while_the_broker_is_down_is_saved_and_mailed_once_later(
    celery_app_live,
):
    admin = administrator()

    with broker_at(celery_app_live, "redis://127.0.0.1:1/0"):
        started = time.monotonic()
        ticket = file_ticket(admin)
        elapsed = time.monotonic() - started

    assert ticket.pk is not None
    assert elapsed < 10  # the customer is not kept waiting on the broker
    assert OutboundEmail.objects.get().sent_at is None
    assert mail.outbox == []

    with start_worker(celery_app_live, pool="solo", perform_ping_check=False):
        first = tasks.send_pending_emails.delay(older_than_seconds=0).get(timeout=20)
        second = tasks.send_pending_emails.delay(older_than_seconds=0).get(timeout=20)
        # A redelivered send_email for the same row sends nothing more.
        again = tasks.send_email.delay(OutboundEmail.objects.get().pk).get(timeout=20)

    assert first == {"sent": 1, "failed": 0}
    assert second == {"sent": 0, "failed": 0}
    assert again == "skipped"
    assert len(mail.outbox) == 1
