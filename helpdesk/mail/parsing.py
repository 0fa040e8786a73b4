"""One RFC 5322 message as the pipeline needs it: who wrote, to whom, which thread,
the text, the attachments and whether a machine sent it.

Parsed with the stdlib ``email`` package and ``policy.default`` (charsets and
encoded words decoded). No ORM, no settings: ``our_addresses`` is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from helpdesk.mail.html_text import html_to_text

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Senders that are machines by name (RFC 3834 §3.1.2 names the first two).
_DAEMONS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply")
_BULK = {"bulk", "list", "junk"}


class MalformedMail(ValueError):
    """The bytes are not a message we can read: no sender, or broken headers."""


@dataclass(frozen=True)
class MailAttachment:
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    sender: str  # the From address, lower case
    sender_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    thread_ids: tuple[str, ...]  # In-Reply-To, then References (newest first)
    text: str
    attachments: tuple[MailAttachment, ...] = ()
    automatic: str = ""  # why a machine sent it (RFC 3834), empty for a person
    no_auto_reply: str = ""  # why we must not answer it automatically
    headers: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def recipients(self) -> tuple[str, ...]:
        return self.to + self.cc

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


def parse(raw: bytes, *, our_addresses: tuple[str, ...] = ()) -> ParsedMail:
    """Return the parts of ``raw`` the pipeline acts on, or raise MalformedMail."""
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        sender_name, sender = parseaddr(str(message.get("From", "")))
        sender = sender.strip().lower()
        if "@" not in sender:
            raise MalformedMail("it has no sender address (From)")
        subject = " ".join(str(message.get("Subject", "")).split())
        message_id = _first_id(str(message.get("Message-ID", "")))
        thread_ids = tuple(
            dict.fromkeys(
                [
                    *_ids(str(message.get("In-Reply-To", ""))),
                    *reversed(_ids(str(message.get("References", "")))),
                ]
            )
        )
        to = _addresses(message, "To")
        cc = _addresses(message, "Cc")
        headers = {
            name.lower(): str(message.get(name, ""))
            for name in (
                "Auto-Submitted",
                "Precedence",
                "X-Autoreply",
                "X-Autorespond",
                "X-Auto-Response-Suppress",
                "List-Id",
                "List-Unsubscribe",
                "Return-Path",
            )
            if message.get(name) is not None
        }
    except MalformedMail:
        raise
    except (ValueError, TypeError, LookupError, IndexError) as exc:
        # policy.default raises while decoding a header it cannot make sense of.
        raise MalformedMail(f"its headers cannot be read ({exc})") from None
    text, attachments = _content(message)
    automatic = _automatic(message, sender, headers, our_addresses)
    return ParsedMail(
        message_id=message_id,
        sender=sender,
        sender_name=sender_name,
        to=to,
        cc=cc,
        subject=subject,
        thread_ids=thread_ids,
        text=text,
        attachments=tuple(attachments),
        automatic=automatic,
        no_auto_reply=automatic or _no_auto_reply(headers),
        headers=headers,
    )


def headers_only(
    raw: bytes, *, our_addresses: tuple[str, ...] = ()
) -> ParsedMail | None:
    """Return ``raw``'s headers parsed (no text, no attachments), or None: for
    answering a message too large to read whole, unless a machine sent it."""
    end = min(
        (i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0),
        default=min(len(raw), 65536),
    )
    try:
        return parse(raw[: min(end, 65536)] + b"\n\n", our_addresses=our_addresses)
    except MalformedMail:
        return None


def _first_id(value: str) -> str:
    found = _ids(value)
    return found[0][:250] if found else ""


def _ids(value: str) -> list[str]:
    return [match[:250] for match in _MESSAGE_ID.findall(value)]


def _addresses(message: EmailMessage, name: str) -> tuple[str, ...]:
    values = [str(value) for value in message.get_all(name, [])]
    return tuple(
        address.strip().lower() for _, address in getaddresses(values) if address
    )


def _content(message: EmailMessage) -> tuple[str, list[MailAttachment]]:
    """Return the message's text (plain preferred, HTML converted) and its files."""
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _decoded_text(body)
        text = (
            html_to_text(content) if body.get_content_subtype() == "html" else content
        )
    attachments = []
    for part in message.walk():
        if part is body or part.is_multipart():
            continue
        disposition = part.get_content_disposition()
        name = part.get_filename()
        if disposition != "attachment" and not name:
            continue  # the HTML twin of the text, or an unnamed inline part
        if disposition == "inline" and part.get("Content-ID") and body is not None:
            # An image inside the HTML (a signature logo), not a file the customer
            # attached.
            continue
        data = part.get_payload(decode=True) or b""
        attachments.append(
            MailAttachment(
                name=(name or "attachment").replace("/", "_")[-200:],
                content_type=part.get_content_type(),
                data=data,
            )
        )
    return text.replace("\r\n", "\n").strip(), attachments


def _decoded_text(part: EmailMessage) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or lying charset: keep what can be read.
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _automatic(
    message: EmailMessage,
    sender: str,
    headers: dict[str, str],
    our_addresses: tuple[str, ...],
) -> str:
    """Return why a machine sent ``message`` (RFC 3834 and common practice), or ""."""
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no"):
        return f"Auto-Submitted: {auto}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in _BULK:
        return f"Precedence: {precedence}"
    if message.get_content_type() == "multipart/report":
        return "a delivery or read report (multipart/report)"
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return "an auto-reply (X-Autoreply)"
    local = sender.partition("@")[0]
    if local in _DAEMONS or local.startswith(("mailer-daemon", "bounce")):
        return f"sent by a mail system ({sender})"
    if headers.get("return-path", "").strip() == "<>":
        return "a bounce (empty Return-Path)"
    if sender in our_addresses:
        return f"sent from our own address ({sender}): a loop"
    return ""


def _no_auto_reply(headers: dict[str, str]) -> str:
    """Return why a person's message must still get no automatic answer, or ""."""
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "a mailing-list message"
    suppress = headers.get("x-auto-response-suppress", "").lower()
    if any(word in suppress for word in ("all", "autoreply", "oof")):
        return f"X-Auto-Response-Suppress: {suppress}"
    return ""
