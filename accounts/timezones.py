"""Each agent reads the console in their own time zone.

Instants are stored in UTC; the console shows them in the zone of the agent who
asks (``User.time_zone``, else ``HELPDESK_AGENT_TIME_ZONE``), with the zone named.
The portal shows its customers' organisation's zone instead (its base template).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_http_methods


def agent_zone(user) -> zoneinfo.ZoneInfo | None:
    """Return the zone ``user`` reads the console in, or None for a non-agent."""
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return None
    try:
        return zoneinfo.ZoneInfo(user.zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # A zone removed from the system's database since it was chosen.
        return None


# The console's pages: the admin and the staff reports. Elsewhere (the portal, the
# public trust site) the middleware does not look at the user, so public pages stay
# cacheable (no "Vary: Cookie" from reading the session).
CONSOLE_PREFIXES = ("/admin/", "/staff/")


class AgentTimeZoneMiddleware:
    """Activate the agent's zone for a console request (after
    AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(CONSOLE_PREFIXES):
            return self.get_response(request)
        zone = agent_zone(request.user)
        if zone is None:
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# --- "Time zone" in the console's user links: each agent chooses their own -------


@cache
def zone_choices() -> list[tuple[str, str]]:
    return [
        (name, name.replace("_", " "))
        for name in sorted(zoneinfo.available_timezones())
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/"))
    ] + [("UTC", "UTC")]


def set_time_zone(user, zone: str, *, actor) -> None:
    """Store the zone ``user`` reads the console in ("" for the default).

    An agent sets their own; setting another's needs ``accounts.change_user``.
    """
    if actor.pk != user.pk and not actor.has_perm("accounts.change_user"):
        raise PermissionDenied("You may set only your own time zone.")
    user.time_zone = zone
    user.full_clean(validate_unique=False, validate_constraints=False)
    user.save(update_fields=["time_zone"])


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(label="Time zone", required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = settings.HELPDESK_AGENT_TIME_ZONE
        self.fields["time_zone"].choices = [
            ("", f"The console's default ({default})"),
            *zone_choices(),
        ]


@require_http_methods(["GET", "POST"])
def my_time_zone(request: HttpRequest) -> HttpResponse:
    """The agent's own time zone (an admin view: agents only)."""
    user = request.user
    form = TimeZoneForm(request.POST or None, initial={"time_zone": user.time_zone})
    if request.method == "POST" and form.is_valid():
        set_time_zone(user, form.cleaned_data["time_zone"], actor=user)
        messages.success(request, f"Times are now shown in {user.zone}.")
        return redirect("my_time_zone")
    context = {
        **admin.site.each_context(request),
        "title": "Your time zone",
        "form": form,
        "zone": user.zone,
        "now": timezone.now().astimezone(zoneinfo.ZoneInfo(user.zone)),
    }
    return TemplateResponse(request, "admin/my_time_zone.html", context)
