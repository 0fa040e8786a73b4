"""How a clock reads to people: remaining or overdue time, its state and colour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from helpdesk import clocks
from helpdesk.models import SLOClock


@dataclass(frozen=True)
class ClockView:
    state: str  # breached, at risk, on track, paused, met, best effort
    text: str
    colour: str


def span(delta: timedelta) -> str:
    """Return a duration as the console shows it: 2d 3h, 1h 05m or 7m."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m"


def _short(at: datetime) -> str:
    """ "28 Nov 13:04 GMT": in the zone active for the page, named."""
    local = timezone.localtime(at)
    return f"{local:%d %b %H:%M} {local.tzname() or ''}".rstrip()


def view(clock: SLOClock, now: datetime) -> ClockView:
    """Return the state and a short text: open time left on the clock's calendar,
    or how long it is overdue."""
    if clock.status == SLOClock.Status.BEST_EFFORT:
        return ClockView("best effort", "best effort", "grey")
    if clock.status == SLOClock.Status.MET:
        if clock.outcome == "breached":
            return ClockView("breached", f"met late ({_short(clock.met_at)})", "red")
        return ClockView("met", f"met {_short(clock.met_at)}", "green")
    if clock.status == SLOClock.Status.PAUSED:
        return ClockView("paused", "paused", "grey")
    if clock.due_at is None:
        return ClockView("paused", "paused", "grey")
    if clock.breached_at is not None or now > clock.due_at:
        return ClockView("breached", f"overdue {span(now - clock.due_at)}", "red")
    left = clocks.schedule_of(clock.calendar).elapsed(now, clock.due_at)
    if left <= clock.target * 0.25:
        return ClockView("at risk", f"{span(left)} left", "orange")
    return ClockView("on track", f"{span(left)} left", "green")
