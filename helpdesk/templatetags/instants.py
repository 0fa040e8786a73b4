"""Every instant shown to a person carries its zone: ``{{ ticket.created_at|instant }}``
reads "28 Nov 2026, 06:10 PST" in the zone active for the page (the agent's in the
console, the organisation's in the portal); "—" for no instant."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()


def instant_text(at: datetime | None, *, with_weekday: bool = False) -> str:
    """Return ``at`` in the current zone with the zone named, or "—"."""
    if at is None:
        return "—"
    local = timezone.localtime(at) if timezone.is_aware(at) else at
    shape = "D j M Y, H:i" if with_weekday else "j M Y, H:i"
    return f"{date_format(local, shape)} {local.tzname() or ''}".rstrip()


@register.filter(expects_localtime=False)
def instant(at: datetime | None) -> str:
    return instant_text(at)


@register.filter(expects_localtime=False)
def instant_day(at: datetime | None) -> str:
    """With the weekday: "Mon 30 Nov 2026, 09:00 PST" (due instants)."""
    return instant_text(at, with_weekday=True)
