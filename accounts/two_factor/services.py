"""Every write of two-factor sign-in: set up an authenticator, check a code, make
recovery codes, turn it off.

A wrong code is refused with the reason in words and leaves nothing changed but
django-otp's failure count, which makes the device wait 1, 2, 4, 8… seconds before
it checks another code (``OTP_TOTP_THROTTLE_FACTOR``). Those failures are stored even
though the check fails, so nothing here raises inside the transaction that records
them: results come back as a :class:`~accounts.rules.Decision`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.rules import Decision

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"

WRONG_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows "
    "now, or one of your recovery codes."
)
WRONG_SETUP_CODE = (
    "That code is not right. Check that your phone's clock is set automatically "
    "and enter the 6-digit code the app shows now."
)


@dataclass(frozen=True)
class Verified:
    """The outcome of checking a code: the device that accepted it, if any."""

    decision: Decision
    device: Device | None = None
    recovery_codes_left: int | None = None  # set when a recovery code was used


def normalize(code: str) -> str:
    """Return ``code`` as typed, without spaces and hyphens, lower-cased.

    " 123 456 " -> "123456"; "ABCD-EFGH" -> "abcdefgh".
    """
    return "".join(code.split()).replace("-", "").lower()


def format_recovery_code(code: str) -> str:
    """Return a recovery code as shown: "abcdefgh" -> "abcd-efgh"."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _throttled(device: Device) -> Decision | None:
    """Return the refusal while ``device`` makes the agent wait, else None."""
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    locked_until = (info or {}).get("locked_until")
    if locked_until is None:
        return Decision(False, "This code cannot be checked now. Try again later.")
    seconds = max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
    wait = f"{seconds} seconds" if seconds != 1 else "1 second"
    return Decision(
        False,
        f"Too many wrong codes: wait {wait}, then enter a new code. "
        "Each wrong code doubles the wait.",
    )


def _check(device: Device, code: str, wrong: str) -> Decision:
    refusal = _throttled(device)
    if refusal is not None:
        return refusal
    if device.verify_token(code):
        return Decision(True)
    return Decision(False, wrong)


def pending_authenticator(user: User) -> TOTPDevice:
    """Return the authenticator ``user`` is setting up, creating it the first time.

    It stays unconfirmed (and so unusable) until a code from it is entered, and the
    same secret is shown again when the set-up page is reloaded.
    """
    device = (
        TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    )
    if device is None:
        device = TOTPDevice.objects.create(
            user=user, name=AUTHENTICATOR_NAME, confirmed=False
        )
    return device


def confirm_authenticator(
    user: User, device: TOTPDevice, code: str
) -> tuple[Decision, list[str]]:
    """Confirm the pending authenticator ``device`` with a ``code`` from it.

    On success it replaces any authenticator ``user`` had before, and a first set of
    recovery codes is made when ``user`` has none left; those codes come back (shown
    once), else an empty list.
    """
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(pk=device.pk, user=user, confirmed=False)
            .first()
        )
        if device is None:
            return (
                Decision(False, "This set-up has expired: scan the new QR code."),
                [],
            )
        decision = _check(device, normalize(code), WRONG_SETUP_CODE)
        if not decision:
            return decision, []
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = [] if recovery_codes_left(user) else _new_recovery_codes(user)
    logger.info("two-factor: %s set up an authenticator app", user.email)
    return decision, codes


def verify(user: User, code: str) -> Verified:
    """Check ``code`` from ``user``'s authenticator app, or one of their recovery
    codes (used up by this check).

    Six or eight digits are an authenticator code; anything else is a recovery code,
    so a mistyped recovery code never counts against the authenticator.
    """
    code = normalize(code)
    if not code:
        return Verified(Decision(False, "Enter a code."))
    authenticator = code.isdigit() and len(code) in (6, 8)
    model = TOTPDevice if authenticator else StaticDevice
    with transaction.atomic():
        if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            return Verified(
                Decision(False, "Two-factor sign-in is not set up for this account.")
            )
        device = (
            model.objects.select_for_update()
            .filter(user=user, confirmed=True)
            .order_by("pk")
            .first()
        )
        if device is None:
            return Verified(Decision(False, WRONG_CODE))
        decision = _check(device, code, WRONG_CODE)
        left = None if authenticator else device.token_set.count()
    if not decision:
        logger.warning("two-factor: refused a code from %s", user.email)
        return Verified(decision)
    if not authenticator:
        logger.info("two-factor: %s used a recovery code, %s left", user.email, left)
    return Verified(decision, device, left)


def _new_recovery_codes(user: User) -> list[str]:
    device, _ = StaticDevice.objects.select_for_update().get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes: set[str] = set()
    while len(codes) < settings.HELPDESK_2FA_RECOVERY_CODES:
        codes.add(StaticToken.random_token())
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=code) for code in sorted(codes)
    )
    device.throttle_reset()
    return sorted(codes)


@transaction.atomic
def generate_recovery_codes(user: User) -> tuple[Decision, list[str]]:
    """Replace ``user``'s recovery codes with a new set; the old ones stop working.

    The device keeps its row, so a session verified with an old code stays verified.
    """
    if not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return (
            Decision(False, "Set up an authenticator app before recovery codes."),
            [],
        )
    codes = _new_recovery_codes(user)
    logger.info("two-factor: %s made new recovery codes", user.email)
    return Decision(True), codes


@transaction.atomic
def remove_two_factor(user: User, *, acting_user: User | None) -> int:
    """Delete ``user``'s authenticators and recovery codes; return how many devices.

    Every session verified with them stops being verified (django-otp's middleware
    drops a session's device once it is gone).
    """
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    if removed:
        logger.info(
            "two-factor: removed for %s by %s",
            user.email,
            acting_user.email if acting_user else "a command",
        )
    return removed
