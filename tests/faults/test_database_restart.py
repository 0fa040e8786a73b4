"""PostgreSQL goes away under customers filing tickets, and comes back (a restart):
every request answers at once, with the ticket saved or with the 503 page that says
the change may not have been saved (and then nothing of it is); once the database is
back, every e-mail goes out once and every SLO alert is recorded once.

The application runs as it does in production: gunicorn and manage.py processes
against a PostgreSQL cluster of this test's own (initdb and pg_ctl in a temporary
directory, on a free port), which the test stops and starts. The shared cluster on
5432 is never touched. Skipped where the PostgreSQL server binaries are missing."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import requests

from tests.faults.conftest import DEADLINE, HANG_SECONDS, free_port, wait_for

pytestmark = [pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[2]
CUSTOMER = "gil@globex.example"  # Globex, on Jelastic: 24x7 response targets
PASSWORD = "helpdesk-demo"
OUTAGE_MESSAGE = "your last change may not have been saved"


def _server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory with initdb."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """A PostgreSQL cluster in ``workdir`` on a free port (trust authentication on
    127.0.0.1, sockets in the directory), run as the ``postgres`` user when this
    process is root (initdb and the server refuse root)."""

    def __init__(self, bindir: Path, workdir: Path) -> None:
        self.bindir, self.workdir = bindir, workdir
        self.data = workdir / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/helpdesk"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(workdir, "postgres")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=DEADLINE,
        )

    def initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1"
            " -c fsync=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.workdir / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        # Fast: active sessions are cut off, as in a crash of the server process.
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-m",
            "fast",
            "-w",
            "stop",
        )

    def connect(self, dbname: str = "helpdesk"):
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
            autocommit=True,
        )  # fmt: skip


@pytest.fixture
def private_postgres():
    bindir = _server_binaries()
    if bindir is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb refuses root")
    # A directory of its own under the system's temp directory: pytest's are
    # private to this user, and the server may run as another.
    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-pg-"))
    server = PrivatePostgres(bindir, workdir)
    server.initdb()
    server.start()
    with server.connect("postgres") as conn:
        conn.execute("CREATE DATABASE helpdesk")
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


class App:
    """The application's processes (gunicorn, manage.py) on the private database,
    the embedded broker in a directory of their own and mail to ``smtp_port``."""

    def __init__(self, database_url: str, workdir: Path, smtp_port: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")},
            "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
            "DJANGO_DEBUG": "false",  # the error pages users see
            "DATABASE_URL": database_url,
            "REDIS_URL": "",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "HELPDESK_VAR_DIR": str(workdir),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self.server: subprocess.Popen | None = None
        self.log = workdir / "gunicorn.log"

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=DEADLINE * 5,
            check=check,
        )

    def python(self, code: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.manage("shell", "-c", code, check=check)

    def serve(self) -> None:
        with self.log.open("w") as log:
            self.server = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "gunicorn"),
                    "helpdesk.wsgi",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "2",
                    "--timeout",
                    "30",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def answers() -> bool:
            try:
                return requests.get(f"{self.base}/healthz", timeout=5).ok
            except requests.RequestException:
                return False

        assert wait_for(answers), self.log.read_text()[-3000:]

    def stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=DEADLINE)


@pytest.fixture
def app(private_postgres, smtp_server, tmp_path):
    application = App(private_postgres.url, tmp_path, smtp_server.port)
    application.manage("migrate", "--no-input")
    application.manage("collectstatic", "--no-input")
    application.manage("seed_demo")
    application.serve()
    try:
        yield application
    finally:
        application.stop()


def logged_in(app: App) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{app.base}/portal/login/", timeout=DEADLINE)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    response = session.post(
        f"{app.base}/portal/login/",
        data={"username": CUSTOMER, "password": PASSWORD, "csrfmiddlewaretoken": token},
        timeout=DEADLINE,
    )
    assert response.ok, response.text[:500]
    assert "/login/" not in response.url, response.text[:500]
    return session


def file(app: App, session: requests.Session, summary: str, severity: int):
    """POST the portal's new-ticket form; return (status, seconds, page text)."""
    form = f"{app.base}/portal/tickets/new/"
    token = session.cookies.get("csrftoken")
    started = time.monotonic()
    response = session.post(
        form,
        data={
            "summary": summary,
            "severity": severity,
            "environment": "production",
            "description": "Every deploy fails since 09:00.",
            "customer_contact": "Gil, +1 555 0101",
            "csrfmiddlewaretoken": token,
        },
        headers={"Referer": form},
        allow_redirects=False,
        timeout=DEADLINE,
    )
    return response.status_code, time.monotonic() - started, response.text


def rows(server: PrivatePostgres, sql: str, params=()) -> list[tuple]:
    with server.connect() as conn:
        return conn.execute(sql, params).fetchall()


SEND_TWICE = (
    "from helpdesk import tasks\n"
    "for _ in range(2): print(tasks.send_pending_emails(older_than_seconds=0))"
)
SWEEP = (
    "from datetime import timedelta\n"
    "from django.utils import timezone\n"
    "from helpdesk import alerts\n"
    "print(alerts.sweep(now=timezone.now() + timedelta(days=3)))"
)


def test_a_postgresql_restart_loses_no_ticket_email_or_alert_and_doubles_none(
    app, private_postgres, smtp_server
):
    [(severity,)] = rows(
        private_postgres,
        "SELECT s.id FROM policies_severity s JOIN policies_supportplan p"
        " ON p.id = s.plan_id WHERE p.slug = 'jelastic' AND s.level = 3",
    )
    before = set(rows(private_postgres, "SELECT id FROM helpdesk_ticket"))
    session = logged_in(app)
    answers: dict[str, int] = {}

    for n in range(3):
        status, _, _ = file(app, session, f"Before the restart {n}", severity)
        answers[f"Before the restart {n}"] = status
    assert set(answers.values()) == {302}

    private_postgres.stop()
    took = []
    for n in range(3):
        status, seconds, text = file(app, session, f"During the outage {n}", severity)
        answers[f"During the outage {n}"] = status
        took.append(seconds)
        assert status == 503
        assert OUTAGE_MESSAGE in text
    assert max(took) < HANG_SECONDS
    health = requests.get(f"{app.base}/healthz", timeout=DEADLINE)
    assert health.status_code == 503
    assert health.json()["status"] == "down"
    # The sweep and the outbox run meanwhile (beat keeps calling them): they fail
    # and write nothing.
    assert app.python(SWEEP, check=False).returncode != 0
    assert app.python(SEND_TWICE, check=False).returncode != 0
    private_postgres.start()

    for n in range(3):
        summary = f"After the restart {n}"
        for _ in range(3):  # a worker's connection from before fails once, cleanly
            status, _, text = file(app, session, summary, severity)
            if status != 503:
                break
            assert OUTAGE_MESSAGE in text
            assert not rows(
                private_postgres,
                "SELECT 1 FROM helpdesk_ticket WHERE summary = %s",
                [summary],
            )
        answers[summary] = status
    assert [s for k, s in answers.items() if k.startswith("After")] == [302] * 3

    # Saved: exactly the tickets whose request said so, each whole.
    saved = {
        summary: ticket_id
        for ticket_id, summary in rows(
            private_postgres, "SELECT id, summary FROM helpdesk_ticket"
        )
        if (ticket_id,) not in before
    }
    assert set(saved) == {k for k, status in answers.items() if status == 302}
    assert len(saved) == 6
    for ticket_id in saved.values():
        [(clocks, outbox, history)] = rows(
            private_postgres,
            "SELECT (SELECT count(*) FROM helpdesk_sloclock WHERE ticket_id = %s),"
            " (SELECT count(*) FROM helpdesk_outboundemail WHERE key = %s),"
            " (SELECT count(*) FROM helpdesk_historicalticket WHERE id = %s)",
            [ticket_id, f"ticket-created:{ticket_id}", ticket_id],
        )
        assert (clocks, outbox, history) == (1, 1, 1)

    # Alerts: each threshold of each clock once, however many sweeps: the three
    # of every new ticket's clock (its 75%, 90% and due instants are 3 days behind).
    alert_counts = (
        "SELECT count(*), count(DISTINCT (clock_id, threshold, due_version))"
        " FROM helpdesk_sloevent WHERE kind IN ('warning', 'breach')"
    )
    app.python(SWEEP)
    [(alerts, distinct)] = rows(private_postgres, alert_counts)
    app.python(SWEEP)
    assert rows(private_postgres, alert_counts) == [(alerts, distinct)]
    assert alerts == distinct
    per_ticket = rows(
        private_postgres,
        "SELECT c.ticket_id, count(e.id) FROM helpdesk_sloclock c"
        " LEFT JOIN helpdesk_sloevent e ON e.clock_id = c.id"
        " AND e.kind IN ('warning', 'breach')"
        " WHERE c.ticket_id = ANY(%s) GROUP BY c.ticket_id",
        [list(saved.values())],
    )
    assert sorted(count for _, count in per_ticket) == [3] * len(saved)

    # E-mail: everything in the outbox that is due delivered, each message once
    # (alert digests for business-hours clocks wait for the calendar to open).
    app.python(SEND_TWICE)
    expected = {
        message_id
        for (message_id,) in rows(
            private_postgres,
            "SELECT message_id FROM helpdesk_outboundemail"
            " WHERE COALESCE(send_after, now()) <= now()",
        )
    }
    delivered = smtp_server.message_ids()
    assert len(delivered) == len(set(delivered))
    assert set(delivered) == expected
    assert not rows(
        private_postgres,
        "SELECT 1 FROM helpdesk_outboundemail"
        " WHERE sent_at IS NULL AND COALESCE(send_after, now()) <= now()",
    )
    confirmations = {d.subject for d in smtp_server.delivered if CUSTOMER in d.to}
    assert len(confirmations) >= len(saved)
