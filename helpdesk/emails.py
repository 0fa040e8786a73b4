"""The e-mail outbox: queue in the caller's transaction, deliver after commit.

``queue_email`` writes an OutboundEmail row in the same transaction as the ticket or
message that causes it. The row is the truth; the ``send_email`` task published after
commit is only a hint that saves a minute. A publish that fails (the broker is down,
or frozen past its short time-outs) is logged, never raised, and for a while after it
this process skips its hints instead of making every request wait: the every-minute
``send_pending_emails`` sweep sends whatever is still due.

Workers claim due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) for CLAIM_TIMEOUT,
send a batch over one SMTP connection and record each row as soon as its server
answered:

- accepted: ``sent_at``, never sent again;
- a transient failure (a refused connection, a time-out, SMTP 4xx): tried again
  after a back-off of 30 s doubling to at most 30 minutes, for RETRY_FOR after it
  was due (``next_attempt_at``, ``last_error``);
- refused for good (SMTP 5xx for the recipient): ``failed_at`` with the reason.

A worker killed mid-batch leaves its claims to run out, and the next sweep after that
sends the rows: within about a minute. The Message-ID is fixed per row, so the one
copy that can go out twice (the worker died between the server's answer and the
update) is recognisably the same message.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac

from helpdesk.models import OutboundEmail, Ticket

logger = logging.getLogger(__name__)

# A worker's claim on the rows of its batch. A worker killed mid-batch leaves its
# rows to the first sweep after the claim ran out: they go out within about a minute.
CLAIM_TIMEOUT = timedelta(minutes=1)
# Each SMTP exchange (connecting, MAIL, RCPT, DATA, the end of the data) waits at most
# this long; one message is at most four of them after the connection is open. A
# message is begun only while SEND_WINDOW of its claim is left, so even a server that
# answers at the last moment has answered before the claim runs out, and no other
# worker can have claimed the row and sent it a second time meanwhile.
SMTP_TIMEOUT_SECONDS = 10
SEND_WINDOW = timedelta(seconds=4 * SMTP_TIMEOUT_SECONDS + 5)
BATCH_SIZE = 100
# A transient failure is retried 30 s later, then 1, 2, 4 ... minutes, at most 30
# minutes apart, until RETRY_FOR after the e-mail was due (Postfix's default queue
# lifetime; the reliability issue asks for at least three days).
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
RETRY_FOR = timedelta(days=5)
# Mail still waiting this long after it was due is stuck: the console's filter and
# the Support Managers' alert (helpdesk.notifications.notify_stuck_outbox).
STUCK_AFTER = timedelta(minutes=15)
# One sweep (or helper) sends batch after batch for about this long, and leaves the
# rest to the next one a minute later.
DRAIN_SECONDS = 50.0
# A sweep that finds more than a batch due asks up to this many idle workers to help.
MAX_HELPERS = 8
# After a failed publish this process leaves its hints to the sweep for this long,
# so a frozen broker costs one request its time-out, not every request.
BROKER_PAUSE_SECONDS = 15.0

SENT, RETRYING, FAILED, RELEASED, SKIPPED = (
    "sent",
    "retrying",
    "failed",
    "released",
    "skipped",
)

_broker_paused_until = 0.0  # time.monotonic() of this process


def queue_email(
    *,
    key: str,
    to: str,
    template: str,
    context: dict,
    ticket: Ticket | None = None,
    send_after: datetime | None = None,
) -> OutboundEmail:
    """Write the e-mail rendered from ``emails/<template>.{subject,txt,html}`` to the
    outbox (once per ``key``) and hint a worker to send it on commit. An e-mail held
    until ``send_after`` is left to the periodic sweep."""
    context = {"base_url": settings.HELPDESK_BASE_URL, "ticket": ticket, **context}
    subject = " ".join(render_to_string(f"emails/{template}.subject", context).split())
    now = timezone.now()
    email = OutboundEmail(
        key=key,
        to=to,
        subject=subject,
        body_text=render_to_string(f"emails/{template}.txt", context),
        body_html=render_to_string(f"emails/{template}.html", context),
        ticket=ticket,
        send_after=send_after,
        next_attempt_at=send_after or now,
        message_id=message_id_for(key),
    )
    created = _insert_once(email)
    if not created:
        email = OutboundEmail.objects.get(key=key)
    if created and (send_after is None or send_after <= now):
        from helpdesk.tasks import send_email

        enqueue_on_commit(send_email, email.pk)
    return email


def _insert_once(email: OutboundEmail) -> bool:
    """Insert ``email`` unless a row with its key exists; return whether it did.

    One statement (``INSERT ... ON CONFLICT (key) DO NOTHING RETURNING id``, on
    PostgreSQL and SQLite 3.35+) where ``get_or_create`` takes four (a read, then a
    savepoint around the insert): filing a ticket queues its e-mails in the request.
    The unique key still decides, so two concurrent callers insert one row.
    """
    if not db_connection.features.can_return_columns_from_insert:
        _, created = OutboundEmail.objects.get_or_create(
            key=email.key,
            defaults={
                f.attname: getattr(email, f.attname)
                for f in OutboundEmail._meta.concrete_fields
                if not f.primary_key and f.name != "key"
            },
        )
        return created
    opts = OutboundEmail._meta
    quote = db_connection.ops.quote_name
    fields = [f for f in opts.concrete_fields if not f.primary_key]
    values = [
        f.get_db_prep_save(f.pre_save(email, add=True), db_connection) for f in fields
    ]
    columns = ", ".join(quote(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    with db_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(opts.db_table)} ({columns}) VALUES ({placeholders}) "
            f"ON CONFLICT ({quote(opts.get_field('key').column)}) DO NOTHING "
            f"RETURNING {quote(opts.pk.column)}",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    email.pk = row[0]
    email._state.adding = False
    return True


def enqueue_on_commit(task, *args) -> None:
    """Hint a worker to run ``task`` once the transaction commits (see
    :func:`publish_hint`): never raises, never waits long on the broker."""
    transaction.on_commit(lambda: publish_hint(task, *args))


def publish_hint(task, *args) -> bool:
    """Publish ``task`` once, without retries; return whether it was published.

    A failure is logged, not raised: the outbox row (or whatever the task works on)
    waits for the periodic sweep. After one, this process skips its hints for
    BROKER_PAUSE_SECONDS: a broker that is frozen rather than down answers nothing
    until the socket time-out, and each request would otherwise wait that long.
    """
    global _broker_paused_until
    eager = task.app.conf.task_always_eager  # runs here: no broker to wait for
    if not eager and time.monotonic() < _broker_paused_until:
        logger.info("broker paused: %s%r left for the periodic sweep", task.name, args)
        return False
    try:
        task.apply_async(args=args, retry=False)
    except Exception:
        if not eager:
            _broker_paused_until = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning(
            "broker unavailable: %s%r left for the periodic sweep", task.name, args
        )
        return False
    return True


def deliver(email_id: int) -> str:
    """Send one outbox e-mail if it is due and no worker holds it.

    Return "sent"; "retrying" (a transient failure, recorded: it goes out later);
    "failed" (refused for good, recorded); or "skipped" (already sent or failed,
    held, backing off, or being sent by another worker).
    """
    counts = _send_claimed(_claim(email_id=email_id, limit=1))
    for outcome in (SENT, RETRYING, FAILED):
        if counts[outcome]:
            return outcome
    return SKIPPED


def send_batch(
    *, limit: int = BATCH_SIZE, created_before: datetime | None = None
) -> dict[str, int]:
    """Claim up to ``limit`` due e-mails, oldest due first (only those created before
    ``created_before``, if given), send them over one SMTP connection and record each
    outcome. Return the counts: ``claimed``, ``sent``, ``retrying``, ``failed``,
    ``released`` (left for later: the claim ran short) and ``unreachable`` (1 when
    the server could not be reached at all)."""
    return _send_claimed(_claim(limit=limit, created_before=created_before))


def drain(
    *, created_before: datetime | None = None, seconds: float = DRAIN_SECONDS
) -> dict[str, int]:
    """Send due e-mails batch after batch until none is left, the server cannot be
    reached, or ``seconds`` have passed; return the summed counts of the batches."""
    deadline = time.monotonic() + seconds
    totals = dict.fromkeys(_COUNTS, 0)
    while True:
        counts = send_batch(created_before=created_before)
        for name in totals:
            totals[name] += counts[name]
        if (
            not counts["claimed"]
            or counts["unreachable"]
            or time.monotonic() >= deadline
        ):
            return totals


def helpers_wanted(*, now: datetime, created_before: datetime | None = None) -> int:
    """Return how many other workers the sweep should ask to drain with it: one per
    batch due beyond its own first, at most MAX_HELPERS (a bounded count)."""
    due = OutboundEmail.objects.due(now)
    if created_before is not None:
        due = due.filter(created_at__lt=created_before)
    backlog = due.order_by()[: BATCH_SIZE * (MAX_HELPERS + 1)].count()
    return min(MAX_HELPERS, max(0, backlog - 1) // BATCH_SIZE)


def retry_now(outbox: QuerySet[OutboundEmail]) -> int:
    """Make the unsent e-mails among ``outbox`` due at once, failed ones included, and
    hint workers; return how many. Rows a worker holds right now are left to it.

    A retried e-mail keeps its attempts; one refused for good is tried once more
    (and fails again if the server still refuses it).
    """
    from helpdesk.tasks import drain_outbox

    now = timezone.now()
    count = (
        outbox.filter(sent_at__isnull=True)
        .exclude(~Q(claimed_by=""), next_attempt_at__gt=now)
        .update(failed_at=None, next_attempt_at=now, claimed_at=None, claimed_by="")
    )
    for _ in range(min(MAX_HELPERS, -(-count // BATCH_SIZE))):
        enqueue_on_commit(drain_outbox, 0)
    return count


def backoff(attempts: int) -> timedelta:
    """Return the wait after the ``attempts``-th failed attempt in a row.

    1 -> 30 s, 2 -> 1 min, 3 -> 2 min, ... 7 and later -> 30 min.
    """
    return min(FIRST_BACKOFF * 2 ** min(max(attempts, 1) - 1, 16), MAX_BACKOFF)


def message_id_for(key: str) -> str:
    """Return the Message-ID of the outbox e-mail with ``key``, the same on every
    attempt. It is derived from the key with the secret key, so nobody outside can
    forge the ID of another customer's mail: "<outbox-9f2c…@helpdesk.local>"."""
    digest = salted_hmac(
        "helpdesk.emails.message_id", key, algorithm="sha256"
    ).hexdigest()[:32]
    sender = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = sender.rpartition("@")[2] or "helpdesk.local"
    return f"<outbox-{digest}@{domain}>"


# --- claiming and sending -------------------------------------------------------

_COUNTS = ("claimed", SENT, RETRYING, FAILED, RELEASED, "unreachable")


@dataclass(frozen=True, slots=True)
class _Claim:
    token: str
    ids: list[int]
    expires_at: datetime


def _claim(
    *,
    email_id: int | None = None,
    limit: int = BATCH_SIZE,
    created_before: datetime | None = None,
) -> _Claim:
    """Claim up to ``limit`` due rows for CLAIM_TIMEOUT: rows another worker is
    claiming at the same moment are skipped, not waited for (PostgreSQL; SQLite
    takes its write lock at the start of the transaction instead)."""
    now = timezone.now()
    token = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    due = OutboundEmail.objects.due(now)
    if email_id is not None:
        due = due.filter(pk=email_id)
    if created_before is not None:
        due = due.filter(created_at__lt=created_before)
    expires_at = now + CLAIM_TIMEOUT
    with transaction.atomic():
        ids = list(
            due.order_by("next_attempt_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            OutboundEmail.objects.filter(pk__in=ids).update(
                claimed_at=now, claimed_by=token, next_attempt_at=expires_at
            )
    return _Claim(token=token, ids=ids, expires_at=expires_at)


def _send_claimed(claim: _Claim) -> dict[str, int]:
    """Send the claimed rows, recording each outcome; return the counts."""
    counts = dict.fromkeys(_COUNTS, 0)
    counts["claimed"] = len(claim.ids)
    if not claim.ids:
        return counts
    rows = list(
        OutboundEmail.objects.filter(pk__in=claim.ids, claimed_by=claim.token)
        .select_related("ticket")  # its reference goes in the subject
        .order_by("pk")
    )
    with _quick_commits():
        try:
            _send_rows(rows, claim, counts)
        except BaseException:
            # A time limit or a shutdown: what this worker has not sent is due again.
            try:
                _release(claim)
            except Exception:
                logger.exception(
                    "outbox claim %s not released: it runs out", claim.token
                )
            raise
    return counts


def _send_rows(rows: list[OutboundEmail], claim: _Claim, counts: dict) -> None:
    """Send ``rows`` over one SMTP connection, opened again after one that broke,
    and stop when the claim runs short or the server cannot be reached."""
    connection = None
    try:
        for index, email in enumerate(rows):
            if timezone.now() > claim.expires_at - SEND_WINDOW:
                counts[RELEASED] += _release(claim)
                return
            if connection is None:
                connection = get_connection(timeout=SMTP_TIMEOUT_SECONDS)
                try:
                    connection.open()
                except Exception as exc:
                    # Nothing can go out now: each row backs off, and the sweep
                    # stops here rather than knock again for every batch.
                    connection = None
                    counts["unreachable"] = 1
                    for waiting in rows[index:]:
                        counts[_record_failure(waiting, claim, exc)] += 1
                    return
            try:
                accepted = connection.send_messages([_message(email)])
            except Exception as exc:
                counts[_record_failure(email, claim, exc)] += 1
                if _breaks_connection(exc):
                    _close(connection)
                    connection = None
                continue
            if accepted:
                _record_sent(email)
                counts[SENT] += 1
            else:
                failure = RuntimeError("the mail backend accepted nothing")
                counts[_record_failure(email, claim, failure)] += 1
    finally:
        if connection is not None:
            _close(connection)


@contextmanager
def _quick_commits():
    """On PostgreSQL, let the outcomes of a batch commit without waiting for their
    WAL to reach the disk (``synchronous_commit`` off for this connection, until
    the batch ends). Each row is still recorded, and visible to every worker, right
    after its server answered; only a crash of the database server itself in the
    fraction of a second before the WAL is written could lose a "sent" and send
    that message again (with the same Message-ID). Waiting for the disk instead
    costs a few milliseconds per e-mail, a third of the drain rate."""
    if db_connection.vendor != "postgresql" or db_connection.in_atomic_block:
        yield
        return
    with db_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with db_connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except Exception:  # the connection broke; the next one starts afresh
            logger.debug("synchronous_commit not reset", exc_info=True)


# Functions of an outbox row that return more headers for it, registered at start-up
# by the apps that queue such mail (wiring only: helpdesk.trust.apps adds the
# List-Unsubscribe headers of status e-mails, derived from the row's key).
HEADER_HOOKS: list[Callable[[OutboundEmail], dict[str, str]]] = []


def _message(email: OutboundEmail) -> EmailMultiAlternatives:
    """The e-mail of one outbox row: its own Message-ID; answers go to the support
    address; one about a ticket carries ``[HD-000123]`` and threads under the
    ticket's first message (``helpdesk.mail.threading``)."""
    from helpdesk.mail import threading

    email.message_id = email.message_id or message_id_for(email.key)
    reference = email.ticket.reference if email.ticket_id else ""
    message = EmailMultiAlternatives(
        subject=threading.subject_with_reference(email.subject, reference),
        body=email.body_text,
        to=[email.to],
        reply_to=[settings.HELPDESK_SUPPORT_ADDRESS],
        headers={
            "Message-ID": email.message_id,
            **threading.outbound_headers(email),
        },
    )
    for extra_headers in HEADER_HOOKS:  # e.g. List-Unsubscribe (helpdesk.trust)
        message.extra_headers.update(extra_headers(email))
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    return message


def _record_sent(email: OutboundEmail) -> None:
    updated = OutboundEmail.objects.filter(
        pk=email.pk, sent_at__isnull=True, failed_at__isnull=True
    ).update(
        sent_at=timezone.now(),
        attempts=F("attempts") + 1,
        last_error="",
        claimed_at=None,
        claimed_by="",
    )
    if not updated:
        logger.warning(
            "outbox e-mail %s was sent after another worker had taken it over: it "
            "may arrive twice, with the same Message-ID",
            email.pk,
        )


def _record_failure(email: OutboundEmail, claim: _Claim, exc: Exception) -> str:
    """Record a failed attempt: back off, or fail for good; return which."""
    now = timezone.now()
    attempts = email.attempts + 1
    reason = _describe(exc)
    if not isinstance(exc, OSError | ValueError | UnicodeError):
        logger.error("outbox e-mail %s: unexpected error", email.pk, exc_info=exc)
    if _is_permanent(exc):
        outcome, changes = FAILED, {"failed_at": now}
        logger.error("outbox e-mail %s refused for good: %s", email.pk, reason)
    elif now - (email.send_after or email.created_at) >= RETRY_FOR:
        outcome, changes = FAILED, {"failed_at": now}
        reason = f"gave up after {attempts} attempts in {RETRY_FOR.days} days: {reason}"
        logger.error("outbox e-mail %s %s", email.pk, reason)
    else:
        retry_at = now + backoff(attempts)
        outcome, changes = RETRYING, {"next_attempt_at": retry_at}
        logger.warning(
            "outbox e-mail %s not sent (%s); next attempt at %s",
            email.pk,
            reason,
            f"{retry_at:%H:%M:%S}",
        )
    OutboundEmail.objects.filter(pk=email.pk, claimed_by=claim.token).update(
        attempts=attempts,
        last_error=reason[:2000],
        claimed_at=None,
        claimed_by="",
        **changes,
    )
    return outcome


def _release(claim: _Claim) -> int:
    """Make the claimed rows not yet sent or failed due again; return how many."""
    return OutboundEmail.objects.filter(
        pk__in=claim.ids, claimed_by=claim.token
    ).update(next_attempt_at=timezone.now(), claimed_at=None, claimed_by="")


def _is_permanent(exc: Exception) -> bool:
    """Whether the server refused the recipient for good: 5xx to RCPT TO, or 5xx
    with an addressing status (5.1.x, RFC 3463) after the data from a server that
    checks recipients late. A 5xx about the sender or the connection (a bad
    password, a suspended account) is ours to fix, not the recipient's: retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError) and 500 <= exc.smtp_code < 600:
        return _text(exc.smtp_error).startswith("5.1.")
    return False


def _breaks_connection(exc: Exception) -> bool:
    """Whether the connection is unusable after ``exc`` (smtplib resets the
    transaction after a refusal; 421 means the server is closing)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    return True


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {_text(reply)} ({recipient})"
            for recipient, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return f"{type(exc).__name__}: {exc}"


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _close(connection) -> None:
    try:
        connection.close()
    except Exception:  # the server went away first: nothing left to close
        logger.debug("closing the SMTP connection failed", exc_info=True)
