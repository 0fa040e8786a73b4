"""SLO clock arithmetic: pure functions of values (a Schedule, instants, durations).

A clock counts ``target`` of open time on its schedule from ``start``, skipping its
pauses. The same functions serve the live path (``helpdesk.clocks``) and the rebuild
from the event log (``replay``), so both always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from policies.business_time import Schedule

Pause = tuple[datetime, datetime | None]

# Warnings at 75% and 90% of the target, the breach at 100%.
THRESHOLDS = (75, 90, 100)


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


def counted_until(
    schedule: Schedule,
    start: datetime,
    amount: timedelta,
    pauses: Sequence[Pause] = (),
) -> datetime | None:
    """Return when ``amount`` of open time has been counted from ``start``, skipping
    ``pauses``; None if an open-ended pause starts before that.

    Mon-Fri 09-17, start Mon 09:00, 8 h, paused Mon 12:00-Tue 12:00: due Tue 17:00.
    """
    position, remaining = _utc(start), amount
    for pause_start, pause_end in sorted(pauses, key=lambda p: _utc(p[0])):
        pause_start = max(_utc(pause_start), position)
        if pause_end is not None and _utc(pause_end) <= position:
            continue
        reach = _utc(schedule.add(position, remaining))
        if reach <= pause_start:
            return reach
        remaining -= schedule.elapsed(position, pause_start)
        if pause_end is None:
            return None
        position = _utc(pause_end)
    return _utc(schedule.add(position, remaining))


def counted_between(
    schedule: Schedule, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Return the open time counted from ``start`` to ``end``, pauses excluded."""
    if end <= start:
        return timedelta(0)
    total = schedule.elapsed(start, end)
    for pause_start, pause_end in pauses:
        lo = max(_utc(pause_start), _utc(start))
        hi = min(_utc(pause_end) if pause_end else _utc(end), _utc(end))
        if hi > lo:
            total -= schedule.elapsed(lo, hi)
    return total


@lru_cache(maxsize=256)
def _threshold_amounts(target: timedelta) -> tuple[tuple[int, timedelta], ...]:
    # A handful of distinct targets serve every clock: the sweep computes these once.
    return tuple((pct, target * pct / 100) for pct in THRESHOLDS)


def alert_instants(
    schedule: Schedule,
    start: datetime,
    target: timedelta,
    pauses: Sequence[Pause] = (),
) -> dict[int, datetime | None]:
    """Return when each threshold (75, 90, 100 % of ``target``) is reached, in UTC;
    None for those that a pause still open stops the clock before.

    The 100% instant is the due instant (``counted_until``). Clocks without pauses
    skip the pause walk, and 24x7 ones add durations directly.
    """
    instants: dict[int, datetime | None] = {}
    start = _utc(start)
    for pct, amount in _threshold_amounts(target):
        if pauses:
            instants[pct] = counted_until(schedule, start, amount, pauses)
        elif schedule.is_always:  # 24x7 and elapsed-time clocks: absolute time
            instants[pct] = start + amount
        else:
            instants[pct] = _utc(schedule.add(start, amount))
    return instants


@dataclass
class ReplayedClock:
    """What a clock's event log says: the state a live clock must match."""

    status: str = "running"
    started_at: datetime | None = None
    target: timedelta = timedelta(0)
    calendar_id: int | None = None
    met_at: datetime | None = None
    pauses: list[list] = field(default_factory=list)
    due_at: datetime | None = None


def replay(events: Iterable, schedule_for) -> ReplayedClock:
    """Rebuild a clock from its events (oldest first).

    ``events`` have ``kind``, ``at``, ``target`` and ``calendar_id_used``;
    ``schedule_for(calendar_id)`` returns the Schedule of a calendar id (or 24x7 for
    None). Warnings and breaches do not move the clock.
    """
    clock = ReplayedClock()
    for event in events:
        kind = event.kind
        if kind in ("start", "target_change"):
            if kind == "start":
                clock.started_at = event.at
            clock.target = event.target
            clock.calendar_id = event.calendar_id_used
        elif kind == "pause":
            clock.pauses.append([event.at, None])
            clock.status = "paused"
        elif kind == "resume":
            clock.pauses[-1][1] = event.at
            clock.status = "running"
        elif kind == "met":
            if clock.pauses and clock.pauses[-1][1] is None:
                clock.pauses[-1][1] = event.at
            clock.met_at = event.at
            clock.status = "met"
        elif kind == "reopen":
            clock.pauses.append([clock.met_at, event.at])
            clock.met_at = None
            clock.status = "running"
        elif kind == "best_effort":
            clock.status = "best_effort"
    if clock.started_at is not None:
        clock.due_at = counted_until(
            schedule_for(clock.calendar_id),
            clock.started_at,
            clock.target,
            [tuple(p) for p in clock.pauses],
        )
    return clock
