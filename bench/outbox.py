"""Benchmark how fast the e-mail outbox drains, with one and with two worker processes.

Run from the repository root: `.venv/bin/python bench/outbox.py`. It loads a backlog of
N due e-mails (2 KB of text and HTML each, as after an outage) into a fresh database,
starts an SMTP sink (aiosmtpd, in this process, on a free port of 127.0.0.1) and lets
worker processes drain it with ``helpdesk.emails.drain``: claim a batch, send it over
one SMTP connection, record each row. It prints the wall time from "go" to the last
row sent and e-mails per minute:

- ``1 worker, one message per connection``: the baseline, what ``send_email`` costs
  per e-mail (a claim and an SMTP connection each);
- ``1 worker`` and ``2 workers``: the batched drain.

Each run also prints the workers' CPU time per e-mail, which a busy machine changes
far less than the wall-clock rate (the database, the sink and the workers share its
CPUs), and checks that the sink received every Message-ID exactly once. The goal is
5,000 e-mails a minute with two workers (the outbox drained 500 a minute before,
however many workers ran); the summary says whether it was met and the ratios to the
baseline. It exits 0 whatever the results: it is a report, not a gate.

PostgreSQL (a fresh database ``helpdesk_bench_outbox`` on the server of
DATABASE_URL, else postgres@127.0.0.1:5432, dropped at the end) is where workers claim
with ``FOR UPDATE SKIP LOCKED``; ``--sqlite`` adds a run on a SQLite file under
var/bench/. No broker is used: the workers call the drain directly.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "helpdesk_bench_outbox"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
GOAL_PER_MINUTE_TWO_WORKERS = 5000
# About 2 KB in lines of 60 characters, as the templates write them.
BODY = "\n".join(["Your ticket HD-000123 has a new reply from the support team."] * 33)


# --- the SMTP sink -------------------------------------------------------------


class Sink:
    """Accepts every message and remembers its Message-ID."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        content = envelope.content
        start = content.find(b"Message-ID: ")
        end = content.find(b"\r\n", start)
        with self.lock:
            self.ids.append(content[start + 12 : end].decode())
        return "250 Message accepted for delivery"

    def take(self) -> list[str]:
        with self.lock:
            ids, self.ids = self.ids, []
        return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the database --------------------------------------------------------------


def pg_urls() -> tuple[str, str]:
    """Return (maintenance URL, bench URL) from DATABASE_URL's host and user."""
    configured = os.environ.get("DATABASE_URL", "")
    base = configured if configured.startswith(("postgres", "pgsql")) else DEFAULT_PG
    parts = urlsplit(base)

    def with_db(name: str) -> str:
        return urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))

    return with_db("postgres"), with_db(BENCH_DB)


def pg_recreate(maintenance_url: str, *, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


def configure(database_url: str, smtp_port: int) -> None:
    """Environment for this process and the workers it spawns."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    os.environ.pop("REDIS_URL", None)  # no broker: workers call the drain directly
    os.environ["HELPDESK_VAR_DIR"] = tempfile.mkdtemp(prefix="outbox-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["LOG_LEVEL"] = "ERROR"


def load_backlog(count: int) -> None:
    """Replace the outbox with ``count`` e-mails, all due a minute ago."""
    from datetime import timedelta

    from django.utils import timezone

    from helpdesk import emails
    from helpdesk.models import OutboundEmail

    OutboundEmail.objects.all().delete()
    due = timezone.now() - timedelta(minutes=1)
    for start in range(0, count, 5000):
        OutboundEmail.objects.bulk_create(
            [
                OutboundEmail(
                    key=f"bench:{n}",
                    to=f"reader{n}@customer.example",
                    subject=f"[HD-{n:06d}] A new reply",
                    body_text=BODY,
                    body_html=f"<p>{BODY}</p>",
                    next_attempt_at=due,
                    message_id=emails.message_id_for(f"bench:{n}"),
                )
                for n in range(start, min(start + 5000, count))
            ]
        )
    OutboundEmail.objects.update(created_at=due)


# --- the workers ---------------------------------------------------------------


def worker(mode: str, ready, go, results) -> None:
    """One worker process: set up Django, wait for "go", drain until nothing is due."""
    import django

    django.setup()
    from django.db import connection

    from helpdesk import emails
    from helpdesk.models import OutboundEmail

    connection.ensure_connection()
    ready.release()
    go.wait()
    cpu = time.process_time()
    sent = 0
    if mode == "per-message":
        for email_id in OutboundEmail.objects.waiting().values_list("pk", flat=True):
            sent += emails.deliver(email_id) == emails.SENT
    else:
        while True:
            counts = emails.drain(seconds=3600)
            sent += counts["sent"]
            if not counts["claimed"]:
                break
    results.put((sent, time.process_time() - cpu))
    connection.close()


def run(label: str, mode: str, workers: int, count: int, sink: Sink) -> dict:
    """Load the backlog, start ``workers`` processes, time the drain."""
    from django.db import connections

    load_backlog(count)
    connections.close_all()
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    processes = [
        context.Process(target=worker, args=(mode, ready, go, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    per_worker = [results.get(timeout=3600) for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    ids = sink.take()
    once = len(ids) == len(set(ids)) == count
    rate = count / elapsed * 60
    cpu_ms = sum(cpu for _, cpu in per_worker) / count * 1000
    print(
        f"  {label:<38} {count:>6,} in {elapsed:6.1f} s = {rate:>7,.0f}/min; "
        f"worker CPU {cpu_ms:.1f} ms/e-mail; per worker {[n for n, _ in per_worker]}; "
        f"each exactly once: {'yes' if once else 'NO'}",
        flush=True,
    )
    return {"rate": rate, "once": once, "cpu_ms": cpu_ms}


def bench(backend: str, count: int) -> None:
    """Every run on one backend, in this process, with its own sink; print them."""
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    if backend == "postgres":
        maintenance, url = pg_urls()
        pg_recreate(maintenance)
    else:
        path = ROOT / "var" / "bench" / "outbox.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    configure(url, port)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    print(f"\n{backend} (SMTP sink on 127.0.0.1:{port})", flush=True)
    try:
        runs = {
            "baseline": run(
                "1 worker, one message per connection",
                "per-message",
                1,
                max(count // 10, 500),
                sink,
            ),
            "one": run("1 worker, batches of one connection", "batch", 1, count, sink),
            "two": run("2 workers, batches of one connection", "batch", 2, count, sink),
        }
    finally:
        connections.close_all()
        controller.stop()
        if backend == "postgres":
            pg_recreate(pg_urls()[0], create=False)
    base, one, two = (runs[name]["rate"] for name in ("baseline", "one", "two"))
    print(
        f"  batched: {one / base:.1f}x the baseline with 1 worker, {two / base:.1f}x "
        f"with 2; 2 workers / 1 worker {two / one:.2f}; one worker process on a CPU "
        f"of its own would send {60_000 / runs['one']['cpu_ms']:,.0f}/min "
        f"(load average {', '.join(f'{n:.1f}' for n in os.getloadavg())})"
    )
    if backend == "postgres":
        verdict = "PASS" if two >= GOAL_PER_MINUTE_TWO_WORKERS else "FAIL"
        print(
            f"  {verdict}: 2 workers drain {two:,.0f}/min "
            f"(goal {GOAL_PER_MINUTE_TWO_WORKERS:,}/min)"
        )
    every = all(r["once"] for r in runs.values())
    print(f"  {'PASS' if every else 'FAIL'}: every e-mail delivered exactly once")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--emails", type=int, default=20000)
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    parser.add_argument(
        "--backend", choices=["postgres", "sqlite"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.backend:  # a child: one backend per process (Django has one database)
        bench(args.backend, args.emails)
        return
    print("outbox drain benchmark")
    print(
        f"  Python {platform.python_version()}, {os.cpu_count()} CPUs; an aiosmtpd "
        "sink in the benchmark's process; 2 KB of text and HTML per e-mail"
    )
    backends = [("postgres", args.emails)]
    if args.sqlite:
        backends.append(("sqlite", args.emails // 4))
    for backend, count in backends:
        command = [
            sys.executable,
            __file__,
            "--backend",
            backend,
            "--emails",
            str(count),
        ]
        completed = subprocess.run(command, cwd=ROOT, check=False)
        if completed.returncode:
            print(f"  {backend}: FAILED (exit {completed.returncode})")


if __name__ == "__main__":
    main()
