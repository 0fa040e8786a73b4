"""Benchmark the inbound e-mail pipeline: 1,000 messages fetched from a real IMAP
server (Dovecot, IMAPS on loopback), against the same pipeline fed from a maildir.

Run from the repository root as root (Dovecot switches users):
`.venv/bin/python bench/inbound_imap.py [--messages 1000] [--postgres]`.

It starts a private Dovecot (tests/helpdesk/mail/conftest.py's, on free ports with
a self-signed certificate), migrates a fresh database (a SQLite file, or with
``--postgres`` the database ``helpdesk_bench_inbound`` on DATABASE_URL's server,
dropped at the end), files one ticket, and makes N messages shaped like the test
corpus: 70% Gmail replies to the ticket, 20% new tickets from its Support
Administrator (HTML only), 10% from strangers (refused and answered). Then:

- ``maildir``: the N messages processed from a maildir (the baseline: the pipeline
  and the database, no network);
- ``IMAP``: the same number APPENDed to the server (not timed), then one
  ``poll_imap`` fetching, processing and moving every message.

It prints the wall time of each, messages per second, and the ratio IMAP/maildir
(the cost of fetching and moving each message over IMAP), and checks that every
message was processed exactly once. A report, not a gate: it exits 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_DB = "helpdesk_bench_inbound"
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432"
CORPUS = ROOT / "tests" / "helpdesk" / "mail" / "corpus"


def pg_urls() -> tuple[str, str]:
    configured = os.environ.get("DATABASE_URL", "")
    base = configured if configured.startswith(("postgres", "pgsql")) else DEFAULT_PG
    parts = urlsplit(base)
    return tuple(
        urlunsplit(("postgres", parts.netloc, f"/{name}", "", ""))
        for name in ("postgres", BENCH_DB)
    )


def pg_recreate(maintenance_url: str, *, create: bool = True) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        if create:
            conn.execute(f"CREATE DATABASE {BENCH_DB}")


def messages(tag: str, count: int, reference: str, thread_id: str) -> list[bytes]:
    """``count`` messages with Message-IDs unique to ``tag``."""
    reply = (
        (CORPUS / "gmail_reply.eml")
        .read_bytes()
        .replace(b"HD-REF", reference.encode())
        .replace(b"<THREAD-ID>", thread_id.encode())
    )
    new = (CORPUS / "html_only.eml").read_bytes()
    stranger = (CORPUS / "unknown_sender.eml").read_bytes()
    out = []
    for n in range(count):
        kind = n % 10
        if kind < 7:
            raw = reply.replace(b"Gmail0001", f"{tag}{n}".encode())
        elif kind < 9:
            raw = new.replace(b"html-only-0001", f"{tag}{n}".encode()).replace(
                b"Subject: SSO", f"Subject: [{n}] SSO".encode()
            )
        else:
            raw = stranger.replace(b"unknown-0001", f"{tag}{n}".encode()).replace(
                b"mallory@", f"mallory{n}@".encode()
            )
        out.append(raw)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if os.geteuid() != 0 or not Path("/usr/sbin/dovecot").exists():
        sys.exit(
            "needs root and Debian's dovecot-imapd (apt-get install dovecot-imapd)"
        )

    var = Path(tempfile.mkdtemp(prefix="inbound-bench-"))
    if args.postgres:
        maintenance, database_url = pg_urls()
        pg_recreate(maintenance)
    else:
        database_url = f"sqlite:///{var / 'bench.sqlite3'}"
    os.environ.update(
        DATABASE_URL=database_url,
        HELPDESK_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        HELPDESK_INBOUND_MAX_BYTES=str(25 * 1024**2),
    )
    os.environ.pop("REDIS_URL", None)  # no broker: hints fail fast, rows stay
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)  # the broker hints' warnings, one per e-mail
    from django.core.management import call_command

    from helpdesk.mail import sources
    from helpdesk.mail.models import InboundMessage
    from helpdesk.models import OutboundEmail
    from tests.helpdesk.factories import file_ticket
    from tests.helpdesk.mail.conftest import PrivateDovecot

    call_command("migrate", verbosity=0, interactive=False)
    from tests.helpdesk.factories import administrator

    ada = administrator(user__email="ada@acme.example", organization__slug="acme")
    ticket = file_ticket(ada)
    thread_id = OutboundEmail.objects.get(key=f"ticket-created:{ticket.pk}").message_id

    dovecot_dir = Path(tempfile.mkdtemp(prefix="inbound-bench-dovecot-"))
    dovecot_dir.chmod(0o755)
    server = PrivateDovecot(dovecot_dir)
    server.start()
    try:
        count = args.messages
        # Baseline: the maildir.
        maildir = var / "mail-in"
        sources.ensure_maildir(maildir)
        for n, raw in enumerate(messages("md", count, ticket.reference, thread_id)):
            (maildir / "new" / f"{n:06d}.eml").write_bytes(raw)
        started = time.perf_counter()
        by_maildir = sources.poll_maildir(maildir, seconds=3600)
        maildir_seconds = time.perf_counter() - started

        with server.mailbox() as box:
            for raw in messages("imap", count, ticket.reference, thread_id):
                box.append(raw, "INBOX")
        started = time.perf_counter()
        by_imap = sources.poll(server.url(), seconds=3600)
        imap_seconds = time.perf_counter() - started

        recorded = InboundMessage.objects.count()
        left = server.count("INBOX")
        moved = server.count(sources.PROCESSED) + server.count(sources.FAILED)
    finally:
        server.stop()
        shutil.rmtree(dovecot_dir, ignore_errors=True)

    db = "PostgreSQL" if args.postgres else "SQLite"
    print(f"inbound e-mail, {count} messages each, {db}")
    for label, seconds, counts in (
        ("maildir", maildir_seconds, by_maildir),
        ("IMAP", imap_seconds, by_imap),
    ):
        print(f"  {label:<8}: {seconds:7.2f} s  {count / seconds:7.1f}/s  {counts}")
    print(f"  ratio IMAP/maildir: {imap_seconds / maildir_seconds:.2f}")
    once = recorded == 2 * count and left == 0 and moved == count
    print(
        f"  exactly once: {'yes' if once else 'NO'} ({recorded} recorded, "
        f"{moved} moved, {left} left in INBOX)"
    )
    if args.postgres:
        from django.db import connections

        connections.close_all()
        pg_recreate(pg_urls()[0], create=False)
    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
