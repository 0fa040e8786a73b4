"""IMAP for real: messages delivered into Dovecot (IMAP APPEND) are fetched by a real
Celery worker process; killed in the middle of the batch and started again, it
processes every message exactly once (PostgreSQL, a Redis of our own)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from helpdesk import tasks
from helpdesk.mail import sources
from helpdesk.mail.models import InboundMessage
from helpdesk.models import Message
from tests.faults.conftest import DEADLINE, celery_on, wait_for
from tests.helpdesk.mail.conftest import eml

ROOT = Path(__file__).resolve().parents[3]
REPLIES = 150

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="a worker process shares the database: PostgreSQL",
    ),
]


def worker(env: dict[str, str]) -> subprocess.Popen:
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


def kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)  # no warm shutdown
        process.wait(timeout=DEADLINE)


def test_a_worker_killed_mid_batch_processes_every_message_once_after_a_restart(
    dovecot, ticket, private_redis, celery_app_live, tmp_path
):
    gmail = eml("gmail_reply.eml", ticket=ticket)
    dovecot.append(
        *[
            gmail.replace(b"Gmail0001", f"Gmail{n:04d}".encode())
            for n in range(REPLIES)
        ],
        eml("unknown_sender.eml"),
        eml("dsn_bounce.eml", ticket=ticket),
    )
    total = REPLIES + 2
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
        INBOUND_MAIL_URL=dovecot.url(),
        HELPDESK_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )

    first = worker(env)
    try:
        with celery_on(celery_app_live, private_redis.url):
            tasks.receive_inbound_mail.apply_async()
        assert wait_for(lambda: InboundMessage.objects.count() >= 10)
        kill(first)
    finally:
        kill(first)
    done_before_kill = InboundMessage.objects.count()
    assert done_before_kill < total, "the batch ended before the kill"
    assert dovecot.count("INBOX") > 0

    second = worker(env)
    try:
        with celery_on(celery_app_live, private_redis.url):
            tasks.receive_inbound_mail.apply_async()
        assert wait_for(lambda: dovecot.count("INBOX") == 0, timeout=3 * DEADLINE)
    finally:
        kill(second)

    assert InboundMessage.objects.count() == total
    assert Message.objects.filter(ticket=ticket, is_from_email=True).count() == REPLIES
    assert dovecot.count(sources.PROCESSED) == REPLIES + 1  # and the bounce
    assert dovecot.count(sources.FAILED) == 1  # the stranger, refused
    outcomes = sorted(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes.count("replied") == REPLIES
