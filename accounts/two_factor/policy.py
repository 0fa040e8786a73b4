"""Who must use two-factor sign-in, and what an agent's session must do next.

Required for superusers and Support Managers (while ``HELPDESK_REQUIRE_2FA`` is on),
optional for every other agent; an agent who has set it up is always asked for a code,
whatever their role. Customers never see it: they cannot open the console.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from django.conf import settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import roles

if TYPE_CHECKING:
    from accounts.models import User

REQUIRED_ROLES = (roles.SUPPORT_MANAGER,)


class Step(Enum):
    """What an agent's session must do before a console page answers."""

    NONE = "none"  # verified, or two-factor is optional and not set up
    VERIFY = "verify"  # has an authenticator: enter a code from it
    SET_UP = "set_up"  # must use two-factor and has no authenticator yet


def is_required(user: User) -> bool:
    """Return whether ``user`` may not use the console without two-factor sign-in."""
    if not settings.HELPDESK_REQUIRE_2FA:
        return False
    return user.is_superuser or user.groups.filter(name__in=REQUIRED_ROLES).exists()


def is_enrolled(user: User) -> bool:
    """Return whether ``user`` has a confirmed authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def next_step(user: User) -> Step:
    """Return what an agent's session must do first (``user`` comes from
    django-otp's middleware, which adds ``is_verified``).

    A session verified by a code needs nothing; otherwise an enrolled agent verifies
    and a required one without an authenticator sets one up.
    """
    if user.is_verified():
        return Step.NONE
    if is_enrolled(user):
        return Step.VERIFY
    if is_required(user):
        return Step.SET_UP
    return Step.NONE
