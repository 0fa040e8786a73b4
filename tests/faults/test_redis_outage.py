"""Redis goes away under a customer filing tickets: stopped (connections refused,
its queue lost) or frozen (SIGSTOP: connections accepted, nothing answered). The
portal still answers at once with the ticket saved, and once Redis is back every
e-mail goes out exactly once.

The Redis is one of our own on a free port; the shared one is never touched."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.urls import reverse

from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail, Ticket
from helpdesk.tasks import ping
from tests.faults.conftest import DEADLINE, HANG_SECONDS, celery_on
from tests.helpdesk.factories import administrator

pytestmark = [
    pytest.mark.faults,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def customer(client):
    admin = administrator()
    client.force_login(admin.user)
    return admin


def file_in_the_portal(client, customer, summary: str) -> float:
    """File a ticket through the portal; return how long the request took."""
    severity = customer.organization.support_plan.severities.get(level=3)
    started = time.monotonic()
    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": summary,
            "severity": severity.pk,
            "environment": "production",
            "description": "The export job stopped at 09:00.",
        },
    )
    took = time.monotonic() - started
    ticket = Ticket.objects.get(summary=summary)
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    return took


def send_what_waits_with_a_worker(app) -> None:
    """Start a worker on the Redis that is back, run the sweep through it twice,
    and wait until both ran (the solo worker runs its queue in order)."""
    with start_worker(
        app, pool="solo", perform_ping_check=False, shutdown_timeout=DEADLINE
    ):
        tasks.send_pending_emails.delay(older_than_seconds=0)
        tasks.send_pending_emails.delay(older_than_seconds=0)
        assert ping.delay().get(timeout=DEADLINE) == "pong"


def delivered_once_each() -> bool:
    ids = [m.extra_headers["Message-ID"] for m in mail.outbox]
    expected = set(OutboundEmail.objects.values_list("message_id", flat=True))
    return len(ids) == len(set(ids)) and set(ids) == expected


def test_a_stopped_redis_costs_the_customer_nothing_and_loses_no_email(
    client, customer, private_redis, celery_app_live
):
    with celery_on(celery_app_live, private_redis.url):
        file_in_the_portal(client, customer, "Before the outage")  # hint queued
        private_redis.stop()  # and its queue with it: nothing persists

        took = [
            file_in_the_portal(client, customer, f"During the outage {n}")
            for n in range(2)
        ]

        assert max(took) < HANG_SECONDS
        assert Ticket.objects.count() == 3
        assert mail.outbox == []
        private_redis.start()
        send_what_waits_with_a_worker(celery_app_live)
        assert len(mail.outbox) == 3
        assert delivered_once_each()

        # Back to normal: once the pause is over, a new ticket's hint is published
        # and a worker sends it at once.
        emails._broker_paused_until = 0.0
        with start_worker(
            celery_app_live,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=DEADLINE,
        ):
            file_in_the_portal(client, customer, "After the outage")
            assert ping.delay().get(timeout=DEADLINE) == "pong"
            assert len(mail.outbox) == 4

    assert delivered_once_each()
    assert not OutboundEmail.objects.waiting().exists()


def test_a_frozen_redis_costs_the_customer_seconds_at_most_and_loses_no_email(
    client, customer, private_redis, celery_app_live
):
    with celery_on(celery_app_live, private_redis.url):
        file_in_the_portal(client, customer, "Before the freeze")  # a live connection
        private_redis.freeze()
        try:
            took = [
                file_in_the_portal(client, customer, f"While frozen {n}")
                for n in range(3)
            ]
        finally:
            private_redis.thaw()

        assert max(took) < HANG_SECONDS
        assert Ticket.objects.count() == 4
        # A publish that timed out may still have reached Redis, and run now: the
        # worker's send and the sweep's find the row claimed or sent, not twice.
        send_what_waits_with_a_worker(celery_app_live)

    assert len(mail.outbox) == 4
    assert delivered_once_each()
    assert not OutboundEmail.objects.waiting().exists()
