"""Workers at the outbox on real PostgreSQL: two draining one backlog share it, and
a worker killed mid-batch leaves its claimed rows to the next sweep, with no e-mail
lost or sent twice."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from helpdesk import emails, tasks
from helpdesk.models import OutboundEmail
from tests.faults.conftest import DEADLINE, celery_on, wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.faults,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
    ),
]


def backlog(count: int) -> set[str]:
    """``count`` e-mails due a minute ago; return their Message-IDs."""
    due = timezone.now() - timedelta(minutes=1)
    OutboundEmail.objects.bulk_create(
        [
            OutboundEmail(
                key=f"backlog:{n}",
                to=f"reader{n}@customer.example",
                subject=f"Backlog {n}",
                body_text="Sent after an outage.",
                next_attempt_at=due,
                message_id=emails.message_id_for(f"backlog:{n}"),
            )
            for n in range(count)
        ]
    )
    OutboundEmail.objects.update(created_at=due)
    return set(OutboundEmail.objects.values_list("message_id", flat=True))


def test_two_workers_share_a_backlog_and_send_each_email_once(smtp_server):
    expected = backlog(600)
    start = threading.Barrier(2)
    results = []

    def worker() -> None:
        try:
            start.wait(timeout=DEADLINE)
            results.append(emails.drain())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * DEADLINE)

    ids = smtp_server.message_ids()
    assert sorted(r["sent"] for r in results)[0] > 0  # both took a share
    assert sum(r["sent"] for r in results) == 600
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    assert not OutboundEmail.objects.waiting().exists()


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(
    smtp_server, private_redis, celery_app_live, tmp_path
):
    expected = backlog(10)
    arrived, release = threading.Event(), threading.Event()
    seen = []

    def third_message_hangs() -> str | None:
        seen.append(1)
        if len(seen) == 3:
            arrived.set()
            release.wait(timeout=DEADLINE)
            return "451 4.3.0 Too late"  # its client is gone by now
        return None

    smtp_server.before_data = third_message_hangs
    db = connection.settings_dict
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "EMAIL_"))
    }
    env.update(
        DATABASE_URL=(
            f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
            f"/{db['NAME']}"
        ),
        REDIS_URL=private_redis.url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        HELPDESK_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    worker = subprocess.Popen(
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
    try:
        with celery_on(celery_app_live, private_redis.url):
            tasks.send_pending_emails.apply_async(kwargs={"older_than_seconds": 0})
        assert arrived.wait(timeout=DEADLINE), "the worker never reached message 3"
        os.killpg(worker.pid, signal.SIGKILL)  # mid-send, no warm shutdown
        worker.wait(timeout=DEADLINE)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        release.set()

    assert OutboundEmail.objects.filter(sent_at__isnull=False).count() == 2
    assert OutboundEmail.objects.exclude(claimed_by="").count() == 8
    assert len(smtp_server.message_ids()) == 2

    # The next sweep after the claim ran out (a minute) sends the rest, once.
    with time_machine.travel(
        timezone.now() + emails.CLAIM_TIMEOUT + timedelta(seconds=1)
    ):
        assert tasks.send_pending_emails(older_than_seconds=0)["sent"] == 8

    assert wait_for(lambda: len(smtp_server.message_ids()) == 10)
    ids = smtp_server.message_ids()
    assert len(ids) == len(set(ids)) == 10
    assert set(ids) == expected
    assert not OutboundEmail.objects.waiting().exists()
