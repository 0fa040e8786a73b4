"""The Celery round trip for real: a worker on Redis, and the embedded broker that
`make run` uses with no service at all."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker

from helpdesk.tasks import ping

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration

DEADLINE = 60  # seconds; every wait polls until then, reached only when broken


def test_ping_round_trip_through_redis_and_a_real_worker(celery_app_live):
    with start_worker(
        celery_app_live,
        pool="solo",
        perform_ping_check=False,
        shutdown_timeout=DEADLINE,
    ):
        result = ping.delay()

        assert result.get(timeout=DEADLINE) == "pong"
    assert celery_app_live.conf.broker_url.startswith("redis://")


def test_ping_round_trip_on_the_embedded_broker_without_any_service(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        HELPDESK_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="helpdesk.settings"
    )
    # A file, not a pipe nobody reads: a chatty worker never blocks on a full pipe.
    worker_log = tmp_path / "worker.log"
    with worker_log.open("w") as log:
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
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    # The reply waits for the worker to boot as well as to answer.
    client = textwrap.dedent(
        f"""
        import django
        django.setup()
        from django.conf import settings
        assert settings.CELERY_BROKER_URL.startswith("filesystem://")
        from helpdesk.tasks import ping
        print(ping.delay().get(timeout={DEADLINE}))
        """
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", client],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=2 * DEADLINE,
        )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

    assert result.returncode == 0, result.stderr + worker_log.read_text()
    assert result.stdout.strip() == "pong"


def test_redis_connections_give_up_in_seconds_and_publishes_do_not_retry():
    """What keeps a request from waiting on Redis: short time-outs on every
    connection, one connection attempt per publish (kombu retries for seconds
    otherwise), and no retry of a timed-out command."""
    from helpdesk import settings  # the project's, before the tests' locmem cache

    broker = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    cache = settings.CACHES["default"]["OPTIONS"]
    results = settings.CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["retry_policy"]

    assert broker["max_retries"] == 0
    for options in (broker, cache):
        assert options["socket_connect_timeout"] <= 1
        assert options["socket_timeout"] <= 2
    assert settings.CELERY_REDIS_SOCKET_CONNECT_TIMEOUT <= 1
    assert settings.CELERY_REDIS_SOCKET_TIMEOUT <= 2
    assert settings.CELERY_REDIS_RETRY_ON_TIMEOUT is False
    assert results["max_retries"] * results["interval_max"] < 2
