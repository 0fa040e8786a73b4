"""The doors that poll: an IMAP mailbox (production) and a local maildir (the
embedded default), both named by ``INBOUND_MAIL_URL``.

Each message is handed to ``process_message`` and only then moved: to the processed
folder, or to the failed folder when it was refused or could not be read (IMAP:
folders ``Processed`` and ``Failed``; maildir: ``processed/`` and ``failed/``, with
the reason beside it in ``<name>.reason.txt``). A crash between the two leaves the
message where it was; the next poll finds it already recorded (the unique
constraints), reports a duplicate and moves it. A message that fails never stops
the ones behind it; only a database that cannot be reached does, and the messages
left wait for the next poll.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings
from imap_tools.errors import MailboxMoveError

from helpdesk.mail.inbound import InboundResult, process_message
from helpdesk.mail.models import InboundMessage

logger = logging.getLogger(__name__)

PROCESSED, FAILED = "Processed", "Failed"
IMAP_TIMEOUT_SECONDS = 30
# One poll works for about this long and leaves the rest to the next one.
POLL_SECONDS = 50.0


@dataclass(frozen=True)
class MailboxConfig:
    scheme: str  # imaps (TLS from the start), imap (STARTTLS) or maildir
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    path: str = ""
    cafile: str = ""  # a private CA's certificate, for a server it signed

    def __str__(self) -> str:  # never the password
        if self.scheme == "maildir":
            return f"maildir://{self.path}"
        return f"{self.scheme}://{self.username}@{self.host}:{self.port}/{self.folder}"


def parse_url(url: str) -> MailboxConfig:
    """Return the mailbox of ``INBOUND_MAIL_URL`` (settings checked its form).

    "imaps://help%40acme.example:pw@mail.acme.example/INBOX" -> IMAP over TLS on
    port 993, user "help@acme.example"; "maildir:///srv/mail-in" -> that folder.
    """
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if parts.scheme == "maildir":
        return MailboxConfig(scheme="maildir", path=unquote(parts.path))
    return MailboxConfig(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or (993 if parts.scheme == "imaps" else 143),
        username=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.strip("/")) or "INBOX",
        cafile=query.get("cafile", [""])[0],
    )


def poll(url: str | None = None, *, seconds: float = POLL_SECONDS) -> dict[str, int]:
    """Process what waits in the configured mailbox; return the outcome counts."""
    config = parse_url(url or settings.INBOUND_MAIL_URL)
    if config.scheme == "maildir":
        return poll_maildir(Path(config.path), seconds=seconds)
    return poll_imap(config, seconds=seconds)


# --- maildir ---------------------------------------------------------------------


def ensure_maildir(root: Path) -> None:
    for sub in ("tmp", "new", "cur", "processed", "failed"):
        (root / sub).mkdir(parents=True, exist_ok=True)


def poll_maildir(root: Path, *, seconds: float = POLL_SECONDS) -> dict[str, int]:
    """Process the messages in ``root/new`` and ``root/cur``, oldest first."""
    ensure_maildir(root)
    deadline = time.monotonic() + seconds
    counts: Counter[str] = Counter()
    waiting = sorted(
        (p for sub in ("new", "cur") for p in (root / sub).iterdir() if p.is_file()),
        key=lambda p: (p.stat().st_mtime, p.name),
    )
    for path in waiting:
        if time.monotonic() >= deadline:
            break
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # another poller took it
            continue
        result = process_message(raw, source=InboundMessage.Source.MAILDIR)
        counts[str(result.outcome)] += 1
        _file_away(path, root, result)
    return dict(counts)


def _file_away(path: Path, root: Path, result: InboundResult) -> None:
    folder = root / ("processed" if result.is_accepted else "failed")
    name = path.name.split(":")[0]  # drop maildir flags (":2,S")
    try:
        path.replace(folder / name)
    except FileNotFoundError:
        return
    if not result.is_accepted:
        (folder / f"{name}.reason.txt").write_text(
            f"{result.outcome}: {result.reason}\n", encoding="utf-8"
        )


# --- IMAP ------------------------------------------------------------------------


def connect(config: MailboxConfig):
    """Return a logged-in imap_tools mailbox on ``config.folder``."""
    from imap_tools import MailBox, MailBoxStartTls

    context = ssl.create_default_context(cafile=config.cafile or None)
    if config.scheme == "imaps":
        box = MailBox(
            config.host,
            config.port,
            timeout=IMAP_TIMEOUT_SECONDS,
            ssl_context=context,
        )
    else:
        box = MailBoxStartTls(
            config.host, config.port, timeout=IMAP_TIMEOUT_SECONDS, ssl_context=context
        )
    box.login(config.username, config.password, initial_folder=config.folder)
    # imaplib keeps the capabilities announced before login, where servers such as
    # Dovecot leave out MOVE: without it a message is copied, then deleted, and a
    # crash in between leaves a second copy in the processed folder.
    status, data = box.client.capability()
    if status == "OK" and data and data[-1]:
        box.client.capabilities = tuple(data[-1].decode().upper().split())
    return box


def poll_imap(config: MailboxConfig, *, seconds: float = POLL_SECONDS) -> dict:
    """Process the messages in the IMAP folder, moving each one when done."""
    deadline = time.monotonic() + seconds
    counts: Counter[str] = Counter()
    with connect(config) as box:
        for folder in (PROCESSED, FAILED):
            if not box.folder.exists(folder):
                box.folder.create(folder)
        for uid in box.uids("ALL"):
            if time.monotonic() >= deadline:
                break
            raw = _fetch(box, uid)
            if raw is None:  # expunged by another poller meanwhile
                continue
            result = process_message(raw, source=InboundMessage.Source.IMAP)
            counts[str(result.outcome)] += 1
            try:
                box.move(uid, PROCESSED if result.is_accepted else FAILED)
            except MailboxMoveError:
                # Another poll moved it first (beat's polls may overlap): it is
                # recorded once either way.
                logger.info("inbound IMAP message %s was already moved", uid)
    return dict(counts)


def _fetch(box, uid: str) -> bytes | None:
    """Return the message's bytes exactly as stored (BODY.PEEK: not marked seen)."""
    status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
    if status != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return item[1]
    return None
