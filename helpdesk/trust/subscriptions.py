"""Status updates by e-mail: double opt-in, a signed one-click unsubscribe link, and
one e-mail per confirmed subscriber per incident update, through the outbox.

The e-mails of an update are written by a worker (``helpdesk.trust.tasks``), not in
the agent's request: posting the update enqueues the fan-out on commit, and the
minutely sweep fans out any update still without ``subscribers_notified_at``.

Tokens are signed (``django.core.signing``, salted per purpose), so no token is
stored: a confirmation link expires after CONFIRM_MAX_AGE; an unsubscribe link names
the subscriber and works until they unsubscribe.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from helpdesk import emails
from helpdesk.emails import queue_email
from helpdesk.models import OutboundEmail
from helpdesk.trust.models import IncidentUpdate, StatusSubscriber

logger = logging.getLogger(__name__)

CONFIRM_SALT = "helpdesk.trust.subscribe"
UNSUBSCRIBE_SALT = "helpdesk.trust.unsubscribe"
CONFIRM_MAX_AGE = 60 * 60 * 24 * 3  # seconds: three days to click the link
KEY_PREFIX = "status-update:"
# Subscribers queued per transaction by the fan-out worker: a worker that dies
# loses at most one batch's work, redone when the update is fanned out again.
FAN_OUT_BATCH = 500
PENDING_PER_SWEEP = 20  # updates one sweep fans out; the next takes the rest


def confirm_token(subscriber: StatusSubscriber) -> str:
    return signing.dumps(
        {"id": subscriber.pk, "email": subscriber.email}, salt=CONFIRM_SALT
    )


def unsubscribe_token(subscriber: StatusSubscriber) -> str:
    return signing.dumps(
        {"id": subscriber.pk, "email": subscriber.email}, salt=UNSUBSCRIBE_SALT
    )


def unsubscribe_path(subscriber: StatusSubscriber) -> str:
    return reverse("trust:unsubscribe", args=[unsubscribe_token(subscriber)])


@transaction.atomic
def subscribe(email: str) -> StatusSubscriber:
    """Ask ``email`` to confirm (again, if it never did). A confirmed address is
    left alone, and the answer is the same either way, so the form does not tell
    who subscribes."""
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    subscriber, _ = StatusSubscriber.objects.get_or_create(email=email)
    if subscriber.confirmed_at is None:
        # One confirmation e-mail per address per day at most.
        day = timezone.now().strftime("%Y-%m-%d")
        queue_email(
            key=f"status-confirm:{subscriber.pk}:{day}",
            to=subscriber.email,
            template="status_confirm",
            context={
                "confirm_path": reverse(
                    "trust:confirm_subscription", args=[confirm_token(subscriber)]
                ),
            },
        )
    return subscriber


def _load(token: str, salt: str, max_age: int | None) -> StatusSubscriber | None:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired is one
        return None
    return StatusSubscriber.objects.filter(
        pk=data.get("id"), email=data.get("email")
    ).first()


@transaction.atomic
def confirm(token: str) -> StatusSubscriber | None:
    """Confirm the subscription the link names; None for a bad or expired link."""
    subscriber = _load(token, CONFIRM_SALT, CONFIRM_MAX_AGE)
    if subscriber is not None and subscriber.confirmed_at is None:
        subscriber.confirmed_at = timezone.now()
        subscriber.save(update_fields=["confirmed_at"])
    return subscriber


def subscriber_for_unsubscribe(token: str) -> StatusSubscriber | None:
    return _load(token, UNSUBSCRIBE_SALT, None)


@transaction.atomic
def unsubscribe(token: str) -> bool:
    """Remove the subscriber the link names; False if it names none (any more)."""
    subscriber = subscriber_for_unsubscribe(token)
    if subscriber is None:
        return False
    subscriber.delete()
    return True


def notify_subscribers(update: IncidentUpdate) -> None:
    """Have a worker e-mail ``update`` to the subscribers once the transaction
    commits: the request writes nothing per subscriber. The published task is a
    hint; if it is lost, the minutely sweep (``fan_out_pending``) does the work."""
    from helpdesk.trust.tasks import fan_out_status_update

    emails.enqueue_on_commit(fan_out_status_update, update.pk)


def fan_out(update_id: int) -> int:
    """Queue the update for every confirmed subscriber, once each, FAN_OUT_BATCH
    at a time (a transaction each), then mark it; return how many e-mails were
    queued now.

    Safe to run twice or to resume after a worker died midway: the outbox key names
    the update and the subscriber, keys already queued are skipped before rendering,
    and the insert ignores a key queued meanwhile (``ON CONFLICT DO NOTHING``).
    """
    update = (
        IncidentUpdate.objects.select_related("incident").filter(pk=update_id).first()
    )
    if update is None or update.subscribers_notified_at is not None:
        return 0
    confirmed = StatusSubscriber.objects.filter(confirmed_at__isnull=False)
    texts = _render(update)
    queued = after = 0
    while batch := list(
        confirmed.filter(pk__gt=after)
        .order_by("pk")
        .only("pk", "email")[:FAN_OUT_BATCH]
    ):
        queued += _queue_batch(update, batch, texts)
        after = batch[-1].pk
    IncidentUpdate.objects.filter(
        pk=update.pk, subscribers_notified_at__isnull=True
    ).update(subscribers_notified_at=timezone.now())
    _hint_senders(queued)
    return queued


def fan_out_pending(*, limit: int = PENDING_PER_SWEEP) -> int:
    """Every minute (beat): fan out the updates whose hint was lost or whose worker
    died, oldest first; return how many were fanned out. One that fails is logged
    and tried again by the next sweep."""
    pending = list(
        IncidentUpdate.objects.filter(subscribers_notified_at__isnull=True)
        .order_by("posted_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    done = 0
    for update_id in pending:
        try:
            fan_out(update_id)
        except SoftTimeLimitExceeded:
            raise  # the task's time is up: stop here; the next sweep goes on
        except Exception:
            logger.exception("status update %s not fanned out; retried", update_id)
        else:
            done += 1
    return done


@transaction.atomic
def _queue_batch(
    update: IncidentUpdate, subscribers: list[StatusSubscriber], texts: _Texts
) -> int:
    keys = {s.pk: f"{KEY_PREFIX}{update.pk}:{s.pk}" for s in subscribers}
    queued = set(
        OutboundEmail.objects.filter(key__in=keys.values()).values_list(
            "key", flat=True
        )
    )
    now = timezone.now()
    rows = [
        _status_email(texts, subscriber, key=keys[subscriber.pk], now=now)
        for subscriber in subscribers
        if keys[subscriber.pk] not in queued
    ]
    OutboundEmail.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


# Stands for the subscriber's unsubscribe path in the texts rendered once per update:
# the path (a signed token: letters, digits, "-", "_", ":" and "/") reads the same
# escaped or not, so putting it in afterwards is what rendering it in would give.
_PATH_MARK = "UNSUBSCRIBE-PATH-6f1d2c"


@dataclass(frozen=True, slots=True)
class _Texts:
    subject: str
    text: str
    html: str


def _render(update: IncidentUpdate) -> _Texts:
    """Render ``emails/status_update.*`` once for the update (the Markdown body,
    the components), as ``queue_email`` renders them, with a mark for the path."""
    context = {
        "base_url": settings.HELPDESK_BASE_URL,
        "ticket": None,
        "incident": update.incident,
        "update": update,
        "unsubscribe_path": _PATH_MARK,
    }
    return _Texts(
        subject=" ".join(
            render_to_string("emails/status_update.subject", context).split()
        ),
        text=render_to_string("emails/status_update.txt", context),
        html=render_to_string("emails/status_update.html", context),
    )


def _status_email(
    texts: _Texts, subscriber: StatusSubscriber, *, key: str, now
) -> OutboundEmail:
    """The outbox row of one subscriber's e-mail, due now."""
    path = unsubscribe_path(subscriber)
    return OutboundEmail(
        key=key,
        to=subscriber.email,
        subject=texts.subject.replace(_PATH_MARK, path),
        body_text=texts.text.replace(_PATH_MARK, path),
        body_html=texts.html.replace(_PATH_MARK, path),
        next_attempt_at=now,
        message_id=emails.message_id_for(key),
    )


def _hint_senders(queued: int) -> None:
    """Ask workers to send what was queued (one per outbox batch, a few at most);
    the outbox's own minutely sweep sends it otherwise."""
    from helpdesk.tasks import drain_outbox

    for _ in range(min(emails.MAX_HELPERS, -(-queued // emails.BATCH_SIZE))):
        emails.publish_hint(drain_outbox, 0)


def outbound_headers(email) -> dict[str, str]:
    """The List-Unsubscribe headers (RFC 2369, one-click RFC 8058) of a status
    e-mail (an outbox row keyed ``status-update:<update>:<subscriber>``); none for
    other mail or a subscriber who left meanwhile."""
    from django.conf import settings

    if not email.key.startswith(KEY_PREFIX):
        return {}
    subscriber_id = email.key.rsplit(":", 1)[-1]
    subscriber = StatusSubscriber.objects.filter(
        pk=int(subscriber_id), email=email.to
    ).first()
    if subscriber is None:
        return {}
    url = f"{settings.HELPDESK_BASE_URL}{unsubscribe_path(subscriber)}"
    return {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
