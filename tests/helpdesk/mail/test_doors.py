"""The three doors into process_message: the MTA pipe (receive_mail), the maildir
and IMAP (a real Dovecot), each moving what it processed where it belongs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from helpdesk import tasks
from helpdesk.mail import sources
from helpdesk.mail.models import InboundMessage
from helpdesk.models import Message, Ticket
from tests.helpdesk.mail.conftest import eml

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


def receive(monkeypatch, raw: bytes) -> tuple[int, str, str]:
    """Run ``manage.py receive_mail`` with ``raw`` on standard input."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("receive_mail", stdout=out, stderr=err)
    return exited.value.code, out.getvalue(), err.getvalue()


# --- receive_mail ----------------------------------------------------------------


def test_receive_mail_files_a_ticket_and_exits_0(monkeypatch, ada):
    code, out, _ = receive(monkeypatch, eml("html_only.eml"))

    ticket = Ticket.objects.get()
    assert (code, out.strip()) == (0, f"created {ticket.reference}")
    assert InboundMessage.objects.get().source == "pipe"


def test_receive_mail_exits_0_for_a_duplicate_and_a_refusal(monkeypatch, ada):
    assert receive(monkeypatch, eml("html_only.eml"))[0] == 0
    code, out, _ = receive(monkeypatch, eml("html_only.eml"))
    assert (code, out.split(":")[0]) == (0, "duplicate")

    code, out, _ = receive(monkeypatch, eml("unknown_sender.eml"))
    assert code == 0
    assert out.startswith("refused: We do not know the address")


def test_receive_mail_answers_ex_dataerr_for_an_unreadable_message(monkeypatch, db):
    code, _, err = receive(monkeypatch, b"garbage without headers\n")

    assert code == 65
    assert "no sender" in err


def test_receive_mail_answers_ex_noinput_for_nothing(monkeypatch, db):
    assert receive(monkeypatch, b"")[0] == 66


def test_receive_mail_answers_ex_tempfail_while_the_database_is_down(tmp_path):
    """A real process with a database that refuses connections: the MTA keeps the
    message and tries again later."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))
    }
    env.update(
        DATABASE_URL="postgres://helpdesk@127.0.0.1:9/helpdesk",
        HELPDESK_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "receive_mail"],
        input=eml("unknown_sender.eml"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 75, result.stderr
    assert b"database unavailable" in result.stderr
    assert b"Traceback" not in result.stderr


# --- the maildir -----------------------------------------------------------------


def drop(root: Path, name: str, raw: bytes) -> Path:
    sources.ensure_maildir(root)
    path = root / "new" / name
    path.write_bytes(raw)
    return path


def test_the_maildir_door_processes_new_mail_and_files_it_away(tmp_path, ticket):
    root = tmp_path / "mail-in"
    drop(root, "1.reply", eml("gmail_reply.eml", ticket=ticket))
    drop(root, "2.stranger", eml("unknown_sender.eml"))
    drop(root, "3.bounce", eml("dsn_bounce.eml", ticket=ticket))

    counts = sources.poll(f"maildir://{root}")

    assert counts == {"replied": 1, "refused": 1, "ignored": 1}
    assert sorted(p.name for p in (root / "processed").iterdir()) == [
        "1.reply",
        "3.bounce",
    ]
    assert sorted(p.name for p in (root / "failed").iterdir()) == [
        "2.stranger",
        "2.stranger.reason.txt",
    ]
    reason = (root / "failed" / "2.stranger.reason.txt").read_text()
    assert reason.startswith("refused: We do not know the address")
    assert not any((root / "new").iterdir())
    assert sources.poll(f"maildir://{root}") == {}


def test_a_crash_before_the_move_repeats_nothing(tmp_path, ticket, monkeypatch):
    root = tmp_path / "mail-in"
    drop(root, "1.reply", eml("gmail_reply.eml", ticket=ticket))
    original = Path.replace

    def crash(self, target):
        raise KeyboardInterrupt  # the worker dies after processing, before moving

    monkeypatch.setattr(Path, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        sources.poll_maildir(root)
    monkeypatch.setattr(Path, "replace", original)

    assert sources.poll_maildir(root) == {"duplicate": 1}
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert [p.name for p in (root / "processed").iterdir()] == ["1.reply"]


def test_one_bad_message_never_stops_the_batch_behind_it(tmp_path, ticket):
    root = tmp_path / "mail-in"
    drop(root, "1.garbage", b"\x00\x01 not mail")
    drop(root, "2.reply", eml("apple_mail_reply.eml", ticket=ticket))

    assert sources.poll_maildir(root) == {"failed": 1, "replied": 1}


def test_the_default_mailbox_is_the_maildir_under_var():
    config = sources.parse_url(settings.INBOUND_MAIL_URL)

    assert config.scheme == "maildir"
    assert config.path.endswith("mail-in")


def test_imap_urls_are_read_like_django_environ_ones():
    config = sources.parse_url("imaps://help%40acme.example:p%2Fw@mail.acme.example/")

    assert (config.host, config.port, config.folder) == (
        "mail.acme.example",
        993,
        "INBOX",
    )
    assert (config.username, config.password) == ("help@acme.example", "p/w")
    assert "p/w" not in str(config)
    assert sources.parse_url("imap://u:p@mail.example/Support").port == 143


def test_beat_polls_the_mailbox_with_the_task():
    entry = settings.CELERY_BEAT_SCHEDULE["receive-inbound-mail"]

    assert entry["task"] == tasks.receive_inbound_mail.name


# --- IMAP (a real Dovecot) -------------------------------------------------------


@pytest.mark.parametrize("scheme", ["imaps", "imap"])
def test_the_imap_door_moves_each_message_to_processed_or_failed(
    dovecot, ticket, scheme
):
    dovecot.append(
        eml("outlook_reply.eml", ticket=ticket),
        eml("secret_in_log.eml", ticket=ticket),
        eml("out_of_office.eml", ticket=ticket),
    )

    counts = sources.poll(dovecot.url(scheme))

    assert counts == {"replied": 1, "refused": 1, "ignored": 1}
    assert dovecot.count("INBOX") == 0
    assert dovecot.count(sources.PROCESSED) == 2
    assert dovecot.count(sources.FAILED) == 1
    assert set(InboundMessage.objects.values_list("source", flat=True)) == {"imap"}
    assert sources.poll(dovecot.url(scheme)) == {}


def test_the_task_polls_the_configured_mailbox(dovecot, ticket, settings):
    settings.INBOUND_MAIL_URL = dovecot.url()
    dovecot.append(eml("gmail_reply.eml", ticket=ticket))

    assert tasks.receive_inbound_mail() == {"replied": 1}
    assert Message.objects.get(ticket=ticket).is_from_email
