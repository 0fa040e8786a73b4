"""The two-factor pages of the agent console, under ``/admin/two-factor/``.

``set_up`` shows the QR code and secret of a new authenticator and confirms it with a
code; ``verify`` asks for a code after the password; ``recovery_codes`` shows a new
set once; ``manage`` is the "Two-factor sign-in" page linked from the user links.
Every page is an admin view (agents only, never cached); ``middleware`` decides which
of them an unverified session may open.
"""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import urlencode

import qrcode
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from qrcode.image.svg import SvgPathFillImage

from accounts.two_factor import policy, services
from accounts.two_factor.forms import CodeForm

# A new set of recovery codes waits here between the POST that made it and the one
# page that shows it, so a reload or the back button never shows the codes again.
CODES_SESSION_KEY = "two_factor_recovery_codes"
NEXT_SESSION_KEY = "two_factor_next"


def _page(request: HttpRequest, template: str, title: str, status: int = 200, **kw):
    context = {**admin.site.each_context(request), "title": title, **kw}
    return render(request, template, context, status=status)


def _step_page(request: HttpRequest, template: str, title: str, **kw):
    """A page an unverified session may see: no sidebar listing the console's models."""
    return _page(request, template, title, is_nav_sidebar_enabled=False, **kw)


def _next_url(request: HttpRequest) -> str:
    """Return where to go after this step: a ``next`` on this site, else the console."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate,
        allowed_hosts={request.get_host()},
        require_https=request.is_secure(),
    ):
        return candidate
    return reverse("admin:index")


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _qr_svg(url: str) -> str:
    """Return ``url`` as an inline SVG QR code (on white, so dark mode scans too)."""
    image = qrcode.make(url, image_factory=SvgPathFillImage, border=2)
    # The SVG is built from path data only: no text of ``url`` appears in it.
    return mark_safe(image.to_string(encoding="unicode"))


def _spaced(secret: str) -> str:
    """Return the key in groups of four, easier to type: "ABCDEFGH" -> "ABCD EFGH"."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _show_codes(request: HttpRequest, codes: list[str], next_url: str) -> HttpResponse:
    request.session[CODES_SESSION_KEY] = codes
    request.session[NEXT_SESSION_KEY] = next_url
    return redirect("two_factor:recovery_codes")


def _render_manage(
    request: HttpRequest, turn_off_form: CodeForm | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    return _page(
        request,
        "two_factor/manage.html",
        "Two-factor sign-in",
        status=status,
        device=device,
        is_required=policy.is_required(user),
        recovery_codes_left=services.recovery_codes_left(user) if device else 0,
        turn_off_form=turn_off_form or CodeForm(),
    )


@require_GET
def manage(request: HttpRequest) -> HttpResponse:
    return _render_manage(request)


@require_http_methods(["GET", "POST"])
def set_up(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app (or replace the one in use) and confirm it."""
    user = request.user
    next_url = _next_url(request)
    is_replacing = policy.is_enrolled(user)
    if is_replacing and not user.is_verified():
        # With only the password, nobody may add a second authenticator.
        return redirect(_with_next("two_factor:verify", next_url))
    device = services.pending_authenticator(user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        decision, codes = services.confirm_authenticator(
            user, device, form.cleaned_data["code"]
        )
        if decision:
            request.session.cycle_key()
            otp_login(request, device)
            if codes:
                return _show_codes(request, codes, next_url)
            messages.success(
                request,
                "Your new authenticator app is set up; codes from the old one no "
                "longer work."
                if is_replacing
                else "Two-factor sign-in is on.",
            )
            return redirect(next_url)
        form.add_error("code", decision.reason)
        device = services.pending_authenticator(user)  # a new one if that expired
    secret = b32encode(device.bin_key).decode()
    return _step_page(
        request,
        "two_factor/set_up.html",
        "Set up two-factor sign-in",
        status=400 if form.errors else 200,
        form=form,
        qr_svg=_qr_svg(device.config_url),
        secret=_spaced(secret),
        next=next_url,
        is_replacing=is_replacing,
        is_required=policy.is_required(user),
    )


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Ask for a code from the authenticator app, or a recovery code."""
    user = request.user
    next_url = _next_url(request)
    if user.is_verified() or not policy.is_enrolled(user):
        return redirect(next_url)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        result = services.verify(user, form.cleaned_data["code"])
        if result.decision:
            request.session.cycle_key()
            otp_login(request, result.device)
            left = result.recovery_codes_left
            if left is not None:
                level = messages.WARNING if left <= 3 else messages.INFO
                messages.add_message(
                    request,
                    level,
                    f"You signed in with a recovery code; it cannot be used again. "
                    f"{left} left. Make a new set on the Two-factor sign-in page."
                    if left
                    else "You signed in with your last recovery code. Make a new set "
                    "on the Two-factor sign-in page now.",
                )
            return redirect(next_url)
        form.add_error("code", result.decision.reason)
    return _step_page(
        request,
        "two_factor/verify.html",
        "Two-factor sign-in",
        status=400 if form.errors else 200,
        form=form,
        next=next_url,
    )


@require_http_methods(["GET", "POST"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """POST makes a new set of recovery codes; GET shows a new set, once."""
    if request.method == "POST":
        decision, codes = services.generate_recovery_codes(request.user)
        if not decision:
            messages.error(request, decision.reason)
            return redirect("two_factor:manage")
        return _show_codes(request, codes, reverse("two_factor:manage"))
    codes = request.session.pop(CODES_SESSION_KEY, None)
    next_url = request.session.pop(NEXT_SESSION_KEY, None)
    if not codes:
        messages.info(
            request,
            "Recovery codes are shown only once, when they are made. Make a new set "
            "to see codes again; the old ones then stop working.",
        )
        return redirect("two_factor:manage")
    return _page(
        request,
        "two_factor/recovery_codes.html",
        "Your recovery codes",
        codes=[services.format_recovery_code(code) for code in codes],
        next=next_url or reverse("two_factor:manage"),
    )


@require_POST
def turn_off(request: HttpRequest) -> HttpResponse:
    """Remove the authenticator and recovery codes, confirmed with a code."""
    user = request.user
    if policy.is_required(user):
        messages.error(
            request,
            "Two-factor sign-in is required for superusers and Support Managers, "
            "so it cannot be turned off. You can move it to a new phone instead.",
        )
        return redirect("two_factor:manage")
    if not policy.is_enrolled(user):
        messages.info(request, "Two-factor sign-in is already off.")
        return redirect("two_factor:manage")
    form = CodeForm(request.POST)
    if form.is_valid():
        result = services.verify(user, form.cleaned_data["code"])
        if result.decision:
            services.remove_two_factor(user, acting_user=user)
            messages.success(
                request,
                "Two-factor sign-in is off: your authenticator app and recovery "
                "codes no longer work.",
            )
            return redirect("two_factor:manage")
        form.add_error("code", result.decision.reason)
    return _render_manage(request, turn_off_form=form, status=400)
