"""Dates of TAM contracts: terms, monthly buckets, rollover shares, working days.

Pure: no ORM, no settings, no clock. A term of N months starting on day D covers
[D, D + N months); its buckets are the contract months inside it, each starting on
the start's day of the month (clamped to the month's length), so every bucket starts
in a different calendar month and a monthly report can show one bucket per contract.

>>> term_end(date(2026, 1, 31), 6)
datetime.date(2026, 7, 30)
>>> [p.starts_on.isoformat() for p in bucket_periods(date(2026, 1, 31), 3)]
['2026-01-31', '2026-02-28', '2026-03-31']
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from policies.business_time import Schedule

__all__ = [
    "BucketPeriod",
    "add_months",
    "bucket_periods",
    "first_working_day_of_month",
    "first_working_day_on_or_after",
    "is_working_day",
    "nth_working_day_after",
    "rollover_shares",
    "term_end",
]


def add_months(day: date, months: int, *, anchor_day: int | None = None) -> date:
    """Return ``day`` moved by ``months``, on ``anchor_day`` (default: day's own day)
    clamped to the target month's length: 2026-01-31 + 1 month -> 2026-02-28."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor_day or day.day, last))


def term_end(starts_on: date, term_months: int) -> date:
    """Return a term's last day (inclusive): 2026-01-19 + 6 months -> 2026-07-18."""
    return add_months(starts_on, term_months) - timedelta(days=1)


@dataclass(frozen=True)
class BucketPeriod:
    """One contract month: ``starts_on`` to ``ends_on`` inclusive, ``index`` from 0."""

    index: int
    starts_on: date
    ends_on: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.starts_on <= day <= self.ends_on


def bucket_periods(starts_on: date, term_months: int) -> list[BucketPeriod]:
    """Return the contract months of a term, each anchored on the start's day."""
    starts = [add_months(starts_on, i) for i in range(term_months + 1)]
    return [
        BucketPeriod(i, starts[i], starts[i + 1] - timedelta(days=1))
        for i in range(term_months)
    ]


def rollover_shares(minutes: int, months: int) -> list[int]:
    """Split rolled-over minutes evenly over a term's months, the remainder going to
    the first months: 25 min over 6 months -> [5, 4, 4, 4, 4, 4]."""
    if months <= 0:
        return []
    share, remainder = divmod(max(minutes, 0), months)
    return [share + (1 if i < remainder else 0) for i in range(months)]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def nth_working_day_after(schedule: Schedule, day: date, n: int) -> date:
    """Return the n-th working day of ``schedule`` after ``day`` (``day`` excluded).

    On Mon-Fri with US holidays: Tue 2026-11-24 + 2 -> Fri 2026-11-27 (Wednesday,
    then Thanksgiving is skipped). n = 0 returns ``day``.
    """
    if n <= 0:
        return day
    # Local midnight after `day` is closed, so the next opening's day counts first.
    start = _midnight(day + timedelta(days=1), schedule.zone)
    return schedule.add_business_days(start, n).date()


def is_working_day(schedule: Schedule, day: date) -> bool:
    """Return whether ``day`` has open time on ``schedule``."""
    opening = schedule.next_open(_midnight(day, schedule.zone))
    return opening.date() == day


def first_working_day_on_or_after(schedule: Schedule, day: date) -> date:
    """Return ``day`` if it is a working day, else the next one."""
    return schedule.next_open(_midnight(day, schedule.zone)).date()


def first_working_day_of_month(schedule: Schedule, year: int, month: int) -> date:
    """Return the first working day of a month: 2026-06 on Mon-Fri -> Mon 2026-06-01."""
    return first_working_day_on_or_after(schedule, date(year, month, 1))
