"""The gate: no console page answers an agent whose session still owes a code.

It guards paths rather than views, so every admin URL (``ModelAdmin`` views, custom
admin views, the two-factor pages themselves) and every staff page under ``/staff/``
(SLO attainment, the TAM hours reports, TAM time logging) is covered without
decorating each one; ``tests/accounts/test_two_factor.py`` fails for a new page that
is neither guarded nor on its list of public prefixes. Install it after django-otp's
``OTPMiddleware``, which gives ``request.user`` its ``is_verified()``.

Only the admin's log-in and log-out pages stay open to an unverified agent, plus the
one two-factor page the session needs next: ``verify`` for an agent with an
authenticator, ``set_up`` for one who must use two-factor and has none.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from accounts.two_factor import policy

STAFF_PREFIX = "/staff/"

_STEP_URLS = {
    policy.Step.VERIFY: "two_factor:verify",
    policy.Step.SET_UP: "two_factor:set_up",
}


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: tuple[tuple[str, ...], frozenset[str]] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._gate(request) or self.get_response(request)

    def paths(self) -> tuple[tuple[str, ...], frozenset[str]]:
        """Return (the guarded path prefixes, the always-open paths), resolved once."""
        if self._paths is None:
            guarded = (reverse("admin:index"), STAFF_PREFIX)
            open_paths = frozenset({reverse("admin:login"), reverse("admin:logout")})
            self._paths = guarded, open_paths
        return self._paths

    def _gate(self, request: HttpRequest) -> HttpResponse | None:
        guarded, open_paths = self.paths()
        path = request.path_info
        if not path.startswith(guarded) or path in open_paths:
            return None
        user = request.user
        if not (user.is_authenticated and user.is_active and user.is_staff):
            return None  # the admin's own log-in page deals with them
        step = policy.next_step(user)
        if step is policy.Step.NONE:
            return None
        target = reverse(_STEP_URLS[step])
        if path == target:
            return None
        return redirect_to_login(request.get_full_path(), target)
