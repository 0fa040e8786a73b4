"""Passwords: how often a reset may be asked for, and what follows a change.

A reset link may be asked for ``HELPDESK_PASSWORD_RESETS_PER_ADDRESS`` times an hour
from one client address and ``HELPDESK_PASSWORD_RESETS_PER_EMAIL`` times an hour for
one e-mail address. Both count every request, whether or not an account has that
e-mail, so what a visitor sees never depends on which accounts exist: past the
address's limit the page says so (it is about the visitor, not an account); past the
e-mail's limit the page is the usual "check your e-mail" and no e-mail is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from accounts.models import User
from accounts.throttle import hit

logger = logging.getLogger(__name__)

RESET_PERIOD = timedelta(hours=1)


@dataclass(frozen=True)
class ResetAllowance:
    """Whether a reset e-mail may go out; ``address_limited`` says the page must say
    why not, with ``retry_after_seconds`` until the count starts again."""

    may_send: bool
    address_limited: bool = False
    retry_after_seconds: int = 0


def count_password_reset(
    *, address: str | None, email: str, now: datetime
) -> ResetAllowance:
    """Count one request for a reset link for ``email`` from ``address``.

    Per-address limit 10, per-e-mail 3: the fourth request for one e-mail within the
    hour sends nothing and looks like the first; the eleventh from one address is
    refused with a reason. A refused request does not count against the e-mail.
    """
    period = RESET_PERIOD
    if not hit(
        "password-reset:address",
        address or "unknown",
        limit=settings.HELPDESK_PASSWORD_RESETS_PER_ADDRESS,
        period=period,
        now=now,
    ):
        elapsed = int(now.timestamp()) % int(period.total_seconds())
        return ResetAllowance(
            may_send=False,
            address_limited=True,
            retry_after_seconds=int(period.total_seconds()) - elapsed,
        )
    if not hit(
        "password-reset:email",
        email.strip().lower(),
        limit=settings.HELPDESK_PASSWORD_RESETS_PER_EMAIL,
        period=period,
        now=now,
    ):
        logger.info("password reset e-mail withheld: that e-mail's hourly limit")
        return ResetAllowance(may_send=False)
    return ResetAllowance(may_send=True)


def after_password_set(user: User, *, how: str) -> None:
    """Tell ``user`` their password changed (so a change they did not make is
    noticed), and lift log-in lockouts on their account after a reset by e-mail:
    whoever reset it holds the mailbox. ``how`` is "changed" or "reset"."""
    if how == "reset":
        AxesProxyHandler.reset_attempts(username=user.email.lower())
    context = {"user": user, "how": how, "base_url": settings.HELPDESK_BASE_URL}
    try:
        send_mail(
            subject=" ".join(
                render_to_string("portal/password_changed_subject.txt", context).split()
            ),
            message=render_to_string("portal/password_changed_email.txt", context),
            from_email=None,
            recipient_list=[user.email],
        )
    except Exception:
        # The password is stored either way; a mail outage must not hide that.
        logger.exception("password-changed notice to user %s not sent", user.pk)
