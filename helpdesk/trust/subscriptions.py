"""Status updates by e-mail: double opt-in, a signed one-click unsubscribe link, and
one e-mail per confirmed subscriber per incident update, through the outbox.

Tokens are signed (``django.core.signing``, salted per purpose), so no token is
stored: a confirmation link expires after CONFIRM_MAX_AGE; an unsubscribe link names
the subscriber and works until they unsubscribe.
"""

from __future__ import annotations

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from helpdesk.emails import queue_email
from helpdesk.trust.models import IncidentUpdate, StatusSubscriber

CONFIRM_SALT = "helpdesk.trust.subscribe"
UNSUBSCRIBE_SALT = "helpdesk.trust.unsubscribe"
CONFIRM_MAX_AGE = 60 * 60 * 24 * 3  # seconds: three days to click the link
KEY_PREFIX = "status-update:"


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


def notify_subscribers(update: IncidentUpdate) -> int:
    """Queue the update for every confirmed subscriber, once each (the outbox key
    names the update and the subscriber); return how many were queued."""
    incident = update.incident
    count = 0
    for subscriber in StatusSubscriber.objects.filter(
        confirmed_at__isnull=False
    ).order_by("pk"):
        queue_email(
            key=f"{KEY_PREFIX}{update.pk}:{subscriber.pk}",
            to=subscriber.email,
            template="status_update",
            context={
                "incident": incident,
                "update": update,
                "unsubscribe_path": unsubscribe_path(subscriber),
            },
        )
        count += 1
    return count


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
