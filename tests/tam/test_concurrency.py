"""Concurrent time entries on real PostgreSQL: the bucket cannot be overdrawn unseen.

Two agents log 400 minutes each at the same moment against a 600-minute month. Each
service call is slowed down between reading the month's total and writing its entry,
so that without the row locks both would see 600 minutes free and neither entry
would be marked best effort.
"""

import threading
import time
from datetime import date

import pytest
from django.db import connection, connections

from tam import routing, services
from tam.models import TimeEntry
from tam.services import hours
from tests.tam.factories import contract

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (set DATABASE_URL)")


def test_concurrent_entries_queue_on_the_bucket_lock(postgres, monkeypatch):
    signed = contract(hours_per_month=10)
    real_used = routing.used_minutes
    slowed = []

    def slow_used(bucket):
        slowed.append(bucket.pk)
        total = real_used(bucket)
        time.sleep(0.3)  # the window in which an unlocked writer would slip in
        return total

    # record_time_entry looks used_minutes up in the globals of tam.services.hours.
    monkeypatch.setattr(hours, "used_minutes", slow_used)
    start = threading.Barrier(2)
    errors = []

    def agent_logs(agent):
        try:
            start.wait()
            services.record_time_entry(
                signed,
                agent=agent,
                worked_on=date(2027, 2, 10),
                minutes=400,
                activity=TimeEntry.Activity.CONFIGURATION,
            )
        except Exception as exc:  # surfaced below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=agent_logs, args=(agent,))
        for agent in (signed.tam, signed.backup_tam)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(slowed) == 2  # both writers went through the slowed-down read
    best_effort = sorted(
        TimeEntry.objects.values_list("best_effort_minutes", flat=True)
    )
    assert best_effort == [0, 200]
    assert not routing.hours_remain(signed.organization, date(2027, 2, 10))
