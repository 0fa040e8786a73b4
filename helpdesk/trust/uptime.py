"""Uptime history: per component and per day, the share of the day with no open
incident. A pure module (no ORM, no settings; ``now`` passed in).

Days are calendar days in ``zone``: a DST change makes a day of 23 or 25 hours, and
durations are measured on UTC instants, never on wall clocks. Maintenance is shown
on the bar but does not count as downtime (it was announced).

A window from 23:00 to 01:00 UTC is one hour down on each of the two days; a
23-hour DST day in Europe/London measures 82,800 seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helpdesk.trust.status import State, worst


@dataclass(frozen=True)
class Interval:
    """An incident or maintenance window on a component; ``end`` None: still open."""

    start: datetime
    end: datetime | None
    state: str = State.DEGRADED


@dataclass(frozen=True)
class Day:
    day: date
    seconds: float  # length of the day: 86,400, or 82,800/90,000 on a DST change
    down_seconds: float
    maintenance_seconds: float
    state: State  # the worst state the component was in that day
    is_future: bool = False  # a day not begun yet (never in a 90-day history)

    @property
    def uptime(self) -> float:
        """Share of the day without an open incident, 0.0 to 1.0."""
        return 1.0 - self.down_seconds / self.seconds if self.seconds else 1.0

    @property
    def uptime_percent(self) -> str:
        return f"{self.uptime * 100:.2f}%"


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the UTC instants where ``day`` starts and ends in ``zone``."""
    start = datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone).astimezone(UTC)
    return start, end


def covered_seconds(
    intervals: Iterable[Interval], start: datetime, end: datetime, now: datetime
) -> float:
    """Return the seconds of [start, end) inside the union of ``intervals`` (an open
    interval runs until ``now``); overlapping intervals count once."""
    # In UTC: Python subtracts two instants of the same zone on their wall clocks,
    # which is an hour off across a DST change.
    start, end, now = (t.astimezone(UTC) for t in (start, end, now))
    clipped = sorted(
        (
            max(i.start.astimezone(UTC), start),
            min((i.end or now).astimezone(UTC), end, now),
        )
        for i in intervals
        if i.start < end and (i.end or now) > start
    )
    total = 0.0
    current_start = current_end = None
    for a, b in clipped:
        if b <= a:
            continue
        if current_end is None or a > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = a, b
        else:
            current_end = max(current_end, b)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total


def history(
    incidents: Sequence[Interval],
    maintenance: Sequence[Interval],
    *,
    zone: ZoneInfo,
    now: datetime,
    days: int = 90,
) -> list[Day]:
    """Return the last ``days`` days in ``zone`` up to today, oldest first."""
    today = now.astimezone(zone).date()
    result = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        start, end = day_bounds(day, zone)
        length = (end - start).total_seconds()
        overlapping = [i for i in incidents if i.start < end and (i.end or now) > start]
        in_maintenance = [
            i for i in maintenance if i.start < end and (i.end or now) > start
        ]
        state = worst(
            [State(i.state) for i in overlapping]
            + ([State.UNDER_MAINTENANCE] if in_maintenance else [])
        )
        result.append(
            Day(
                day=day,
                seconds=length,
                down_seconds=covered_seconds(overlapping, start, end, now),
                maintenance_seconds=covered_seconds(in_maintenance, start, end, now),
                state=state,
            )
        )
    return result


def uptime_over(days: Sequence[Day]) -> float:
    """Return the uptime over ``days`` weighted by their lengths."""
    total = sum(d.seconds for d in days)
    return 1.0 - sum(d.down_seconds for d in days) / total if total else 1.0
