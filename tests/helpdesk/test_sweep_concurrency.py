"""The sweep on real PostgreSQL with real workers: twice in a row, two at once, and a
worker killed half-way then restarted — nothing lost, nothing doubled."""

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction

from helpdesk import alerts, tasks
from helpdesk.models import OutboundEmail, SLOClock, SLOEvent
from tests.helpdesk.factories import many_due_clocks

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
    ),
]


def notified() -> tuple[int, int]:
    """Alerts and breaches listed in the digest e-mails, as their headers count them."""
    alerts = breaches = 0
    for body in OutboundEmail.objects.filter(key__startswith="slo:").values_list(
        "body_text", flat=True
    ):
        found = re.search(r"(\d+) SLO alerts? \((\d+) breach", body)
        alerts, breaches = alerts + int(found[1]), breaches + int(found[2])
    return alerts, breaches


def alert_counts() -> tuple[int, int]:
    unique = (
        SLOEvent.objects.alerts()
        .order_by()
        .values("clock", "threshold", "due_version")
        .distinct()
    )
    return SLOEvent.objects.alerts().count(), unique.count()


def test_the_sweep_twice_in_a_row_and_two_sweeps_at_once(celery_app_live):
    many_due_clocks(300)

    with start_worker(
        celery_app_live, pool="threads", concurrency=2, perform_ping_check=False
    ):
        first = tasks.sweep_slo_clocks.delay(chunk=50)
        second = tasks.sweep_slo_clocks.delay(chunk=50)
        results = [first.get(timeout=120), second.get(timeout=120)]
        again = tasks.sweep_slo_clocks.delay(chunk=50).get(timeout=120)

    assert sum(r["alerts"] for r in results) == 900  # shared out, not repeated
    assert alert_counts() == (900, 900)  # 75, 90 and 100 for each clock, once
    assert again == {"clocks": 0, "alerts": 0, "emails": 0, "busy": False}
    assert SLOEvent.objects.filter(kind="breach").count() == 300
    assert notified() == (900, 300)  # each alert in exactly one e-mail


def test_a_worker_killed_mid_sweep_then_restarted_loses_and_doubles_nothing(tmp_path):
    many_due_clocks(3000)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_"))
    }
    db = connection.settings_dict
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        HELPDESK_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )

    def worker() -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "helpdesk",
                "worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    first = worker()
    try:
        tasks.sweep_slo_clocks.apply_async(kwargs={"chunk": 20}, ignore_result=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and SLOEvent.objects.alerts().count() == 0:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)  # mid-sweep, no warm shutdown
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    partial, _ = alert_counts()
    assert 0 < partial < 9000, "the kill should land in the middle of the sweep"

    second = worker()
    try:
        result = tasks.sweep_slo_clocks.delay(chunk=200).get(timeout=180)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=30)

    assert result["clocks"] > 0
    assert alert_counts() == (9000, 9000)
    assert SLOEvent.objects.filter(kind="breach").count() == 3000
    assert SLOClock.objects.filter(breached_at__isnull=False).count() == 3000
    assert notified() == (9000, 3000)


def test_sweeps_in_plain_threads_share_the_work(transactional_db):
    import threading

    many_due_clocks(200)
    results = []

    def run() -> None:
        try:
            results.append(alerts.sweep(chunk=25))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(r["alerts"] for r in results) == 600
    assert alert_counts() == (600, 600)
    assert not any(r["busy"] for r in results)


def test_a_sweep_waits_for_clock_transitions_and_they_for_it(monkeypatch):
    """A transition holds the sweep row shared until it commits: a sweep meanwhile
    records nothing (and says it was busy), the next one records it all."""
    import threading

    many_due_clocks(10)
    monkeypatch.setattr(alerts, "SWEEP_LOCK_WAIT", timedelta(seconds=0.3))
    holding, release = threading.Event(), threading.Event()

    def transition() -> None:
        try:
            with transaction.atomic():
                alerts.swept_until()
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    thread = threading.Thread(target=transition)
    thread.start()
    try:
        assert holding.wait(timeout=30)
        assert alerts.sweep() == {"clocks": 0, "alerts": 0, "emails": 0, "busy": True}
        assert not SLOEvent.objects.alerts().exists()
    finally:
        release.set()
        thread.join()

    assert alerts.sweep()["alerts"] == 30
    assert alert_counts() == (30, 30)
