"""Who may file and work tickets: plain rules that views, admin and tests share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import Organization, User


@dataclass(frozen=True)
class Decision:
    """Whether something is allowed and, when it is not, why, in words for the user."""

    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def may_file_tickets(
    user: User, organization: Organization, *, today: date
) -> Decision:
    """Decide whether ``user`` may file or reply to tickets for ``organization``.

    Only named Support Administrators of an organisation whose licence is active on
    ``today`` may; the licence's last day still counts.
    """
    if not user.is_authenticated or not user.is_active:
        return Decision(False, "Please log in with your Support Administrator account.")
    if not organization.administrators.filter(user=user).exists():
        return Decision(
            False,
            f"Only the named Support Administrators of {organization} may file and "
            "reply to support requests. Ask one of them to add you.",
        )
    if not organization.has_active_licence(today):
        return Decision(
            False,
            f"The licence of {organization} ended on "
            f"{organization.licence_active_until:%d %B %Y}. Support is available "
            "with an active licence; please contact your account manager to renew.",
        )
    return Decision(True)


def login_name(request, credentials: dict | None) -> str:
    """Return the e-mail a login attempt is counted against, in one case, so that
    ALICE@example.com and alice@example.com share one throttle (django-axes).

    A failed attempt carries the form's ``username``; a successful one, the user's
    ``email`` (Axes names it by ``USERNAME_FIELD``)."""
    credentials = credentials or {}
    name = (
        credentials.get("username")
        or credentials.get("email")
        or request.POST.get("username", "")
    )
    return str(name).strip().lower()
