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


# django-axes stores the login name in a 255-character column (AccessAttempt.username).
LOGIN_NAME_MAX_LENGTH = 255


def login_name(request, credentials: dict | None) -> str:
    """Return the e-mail a login attempt is counted against, in one case, so that
    ALICE@example.com and alice@example.com share one throttle (django-axes).

    A failed attempt carries the form's ``username``; a successful one, the user's
    ``email`` (Axes names it by ``USERNAME_FIELD``). NUL bytes are dropped and the
    name is cut to Axes' 255-character column, so no name makes its query or its
    write fail (PostgreSQL refuses both). The login forms refuse names longer than
    an e-mail address (254 characters) before this is asked; a longer name cut to
    255 characters still never matches a real account's bucket.
    """
    credentials = credentials or {}
    name = (
        credentials.get("username")
        or credentials.get("email")
        or request.POST.get("username", "")
    )
    name = str(name).replace("\x00", "").strip().lower()
    return name[:LOGIN_NAME_MAX_LENGTH]
