"""Real things going away: a Redis of our own that is stopped or frozen (never the
shared one on 6379), and an SMTP server (aiosmtpd, in this process) that answers
as the test says.

Every wait polls for its condition until a generous deadline, reached only when
something is broken; the one timed assertion allowed is a hang detector with a wide
margin (a request must answer within HANG_SECONDS while Redis is away).
"""

from __future__ import annotations

import email
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from helpdesk import emails

DEADLINE = 60  # seconds; only ever reached when something is broken
HANG_SECONDS = 5  # a request that would block on Redis must answer sooner


def wait_for(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_services() -> bool:
    return os.environ.get("HELPDESK_REQUIRE_SERVICES", "") == "1"


@pytest.fixture(autouse=True)
def broker_not_paused(monkeypatch):
    """Each test starts as a fresh process would: no publish failed yet."""
    monkeypatch.setattr(emails, "_broker_paused_until", 0.0)


# --- a Redis of our own --------------------------------------------------------------


class PrivateRedis:
    """A redis-server on a free port, started, stopped, frozen (SIGSTOP) and thawed
    by the test, with no persistence."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.frozen = False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return client.ping()
            except redis.exceptions.ConnectionError:
                return False

        assert wait_for(answers), f"redis-server on {self.port} did not start"

    def stop(self) -> None:
        if self.process is None:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def freeze(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)
        self.frozen = False


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if _require_services():
            pytest.fail("redis-server is required but not installed")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _reset_connections(app) -> None:
    app._pool = None
    app.amqp._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


@contextmanager
def celery_on(app, url: str):
    """Point the app's broker and result store at ``url`` (our own Redis)."""
    original = app.conf.broker_url, app.conf.result_backend
    app.conf.broker_url = app.conf.result_backend = url
    _reset_connections(app)
    try:
        yield
    finally:
        app.conf.broker_url, app.conf.result_backend = original
        _reset_connections(app)


# --- an SMTP server in this process --------------------------------------------------


@dataclass
class Delivery:
    message_id: str
    to: list[str]
    subject: str


@dataclass
class ScriptedSMTP:
    """An aiosmtpd handler. ``refuse(address)`` returns an SMTP reply that refuses
    the recipient (e.g. "451 4.3.0 Try again later"), or None to accept;
    ``before_data`` runs (in a thread) before a message is accepted and may return
    a reply that refuses it. ``delivered`` lists what was accepted."""

    refuse: Callable[[str], str | None] = lambda address: None
    before_data: Callable[[], str | None] = lambda: None
    delivered: list[Delivery] = field(default_factory=list)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.refuse(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        reply = await asyncio.get_running_loop().run_in_executor(None, self.before_data)
        if reply:
            return reply
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.delivered.append(
                Delivery(
                    message_id=message["Message-ID"],
                    to=list(envelope.rcpt_tos),
                    subject=str(message["Subject"]),
                )
            )
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [d.message_id for d in self.delivered]


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free port, and Django's SMTP backend pointed at it."""
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is a dev dependency")
    from aiosmtpd.controller import Controller

    handler = ScriptedSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()
