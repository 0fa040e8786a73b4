"""How a clock reads to people: remaining or overdue time, its state and colour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from helpdesk import clocks
from helpdesk.models import SLOClock

# Time left on a calendar that is not 24x7: "1d 0h business time left".
BUSINESS = "business time left"


@dataclass(frozen=True)
class ClockView:
    state: str  # breached, at risk, on track, paused, met, best effort
    text: str
    colour: str
    # Time left counts only the calendar's open hours (it is not 24x7).
    is_business_time: bool = False

    @property
    def short(self) -> str:
        """The text for a narrow column: "1d 0h left" (the column marks business
        time on its own)."""
        return (
            self.text.replace(BUSINESS, "left") if self.is_business_time else self.text
        )


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
    """Return the state and a short text: open time left on the clock's calendar
    ("5h 00m left" on a 24x7 one, "1d 0h business time left" on one that closes),
    or how long it is overdue (in wall-clock time: the due instant has passed)."""
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
    schedule = clocks.schedule_of(clock.calendar)
    left = schedule.elapsed(now, clock.due_at)
    # Open time on a calendar that closes is not wall-clock time: say so.
    business = not schedule.is_always
    text = f"{span(left)} {BUSINESS}" if business else f"{span(left)} left"
    if left <= clock.target * 0.25:
        return ClockView("at risk", text, "orange", business)
    return ClockView("on track", text, "green", business)
