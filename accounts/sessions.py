"""Sessions: idle and absolute time-outs, and responses no cache may keep.

``SessionTimeoutMiddleware`` logs out a session that has been idle longer than its
user's limit (``HELPDESK_AGENT_IDLE_MINUTES`` for agents,
``HELPDESK_CUSTOMER_IDLE_MINUTES`` for customers) or that is older than
``HELPDESK_SESSION_MAX_HOURS`` however busy, and sends the user to their log-in page
with a message. ``NoStoreMiddleware`` marks every
response to a logged-in user, and every download, ``Cache-Control: no-store, private``
so that neither a shared proxy nor the browser's disk keeps a copy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control

# Epoch seconds, so the session stays JSON.
LAST_SEEN_KEY = "_helpdesk_last_seen"
LOGGED_IN_KEY = "_helpdesk_logged_in"
# Activity is recorded at most this often, so a session is not rewritten on every
# click (and may end up to this much before its limit).
RECORD_EVERY = timedelta(minutes=1)


def idle_limit(user) -> timedelta:
    """Return how long ``user``'s session may sit unused: agents hold more."""
    minutes = (
        settings.HELPDESK_AGENT_IDLE_MINUTES
        if user.is_staff
        else settings.HELPDESK_CUSTOMER_IDLE_MINUTES
    )
    return timedelta(minutes=minutes)


def why_ended(
    *, last_seen_at: datetime, logged_in_at: datetime, idle: timedelta, now: datetime
) -> str:
    """Return why a session must end at ``now``, in words for the user; "" if not.

    idle=30 min, last seen 10:00: at 10:30 it lives, at 10:31 it has ended.
    """
    max_age = timedelta(hours=settings.HELPDESK_SESSION_MAX_HOURS)
    if now - logged_in_at > max_age:
        return (
            f"For your security you are asked to log in again every "
            f"{_duration(max_age)}. Please log in again."
        )
    if now - last_seen_at > idle:
        return (
            f"You were logged out after {_duration(idle)} without activity. "
            "Please log in again."
        )
    return ""


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _instant(value) -> datetime | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=timezone.get_current_timezone())


def record_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    """Start both clocks when someone logs in (``user_logged_in``)."""
    if request is None or not hasattr(request, "session"):
        return
    now = int(timezone.now().timestamp())
    request.session[LOGGED_IN_KEY] = now
    request.session[LAST_SEEN_KEY] = now


def login_url_for(user) -> str:
    """Return the log-in page ``user`` uses: the console's for agents."""
    return reverse("admin:login") if user.is_staff else reverse(settings.LOGIN_URL)


class SessionTimeoutMiddleware:
    """Log out a session past its idle or absolute limit; record activity otherwise.

    Goes after ``AuthenticationMiddleware`` and ``MessageMiddleware``.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # A request without a session cookie has no session to time out; asking for
        # request.user would load one and add "Vary: Cookie" to public pages.
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            user = request.user
            if user.is_authenticated:
                ended = self._check(request, user)
                if ended is not None:
                    return ended
        return self.get_response(request)

    def _check(self, request: HttpRequest, user) -> HttpResponse | None:
        session = request.session
        now = timezone.now()
        last_seen_at = _instant(session.get(LAST_SEEN_KEY))
        logged_in_at = _instant(session.get(LOGGED_IN_KEY))
        if last_seen_at is None or logged_in_at is None:
            # A session from before these clocks existed: they start now.
            last_seen_at = last_seen_at or now
            logged_in_at = logged_in_at or now
            session[LOGGED_IN_KEY] = int(logged_in_at.timestamp())
        reason = why_ended(
            last_seen_at=last_seen_at,
            logged_in_at=logged_in_at,
            idle=idle_limit(user),
            now=now,
        )
        if reason:
            login_url = login_url_for(user)
            logout(request)  # flushes the session: a new key, no data
            messages.info(request, reason)
            return redirect_to_login(request.get_full_path(), login_url)
        if now - last_seen_at >= RECORD_EVERY or LAST_SEEN_KEY not in session:
            session[LAST_SEEN_KEY] = int(now.timestamp())
        return None


# --- Cache-Control ----------------------------------------------------------------

_DOWNLOAD_TYPES = {"text/csv", "text/calendar"}


def is_download(response: HttpResponse) -> bool:
    """Whether ``response`` is a file: an attachment, a CSV or an iCalendar file."""
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return (
        isinstance(response, FileResponse)
        or response.has_header("Content-Disposition")
        or content_type in _DOWNLOAD_TYPES
    )


def _by_logged_in_user(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    if session is None or not hasattr(request, "user"):
        return False
    if settings.SESSION_COOKIE_NAME not in request.COOKIES and not session.accessed:
        return False  # no session came in and none was started: a public page
    return request.user.is_authenticated


class NoStoreMiddleware:
    """Add ``Cache-Control: no-store, private`` to every response to a logged-in user
    and to every download; public pages keep their headers.

    Goes after ``AuthenticationMiddleware``. Directives a view set are kept
    (``never_cache``'s ``max-age=0``), except ``public``, which ``private`` replaces.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_download(response) or _by_logged_in_user(request):
            patch_cache_control(response, no_store=True, private=True)
        return response
