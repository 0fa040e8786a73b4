"""Business-time arithmetic: open hours of one calendar, exact to the microsecond.

A `Schedule` is weekly open intervals in an IANA zone, minus holiday dates. It answers
"when has this much open time passed" (`add`), "how much open time lies between two
instants" (`elapsed`), business-day targets (`add_business_days`), `is_open`,
`next_open`, and what was counted (`explain`, `holidays_between`).

How it stays fast and exact (SPEC §3.1):

- The open intervals of a range of local years are built once, lazily, as sorted lists
  of UTC instants held as `timedelta`s since the Unix epoch (exact to the microsecond,
  no float rounding, one C operation away from an aware datetime), with touching
  intervals merged (an overnight shift 22:00-24:00 + 00:00-06:00 is one interval) and
  prefix sums of open time, plus a table of working days. Each query is one to three
  `bisect` calls on those lists: no loop ever steps through minutes, hours or days.
  The range grows in year blocks, in both directions, when a query falls outside it
  (memory grows with the span of years queried: about 100 kB a year for Mon-Fri).
- Wall-clock bounds are converted to UTC once, at build time, with `zoneinfo`, so a
  07:00-19:00 day is 12 open hours on the day the clocks change, and a 24x7 schedule
  counts absolute elapsed time.
- Wall times of the *schedule* that fall in a DST gap or fold are mapped with
  `fold=0`, consistently everywhere: a bound in the spring-forward gap (02:30 in Los
  Angeles on 2026-03-08) means the instant 02:30 would be at the old offset (03:30
  PDT); a bound in the repeated hour means its first occurrence. An interval that
  collapses this way counts as closed; overlapping ones are merged. Input instants are
  aware datetimes and mean exactly what they say.
- Holiday dates beyond the last listed holiday are ordinary days.
- Results are aware datetimes in the schedule's zone, with `fold` set, so an instant
  in the repeated hour reads 01:30-08:00 rather than 01:30-07:00. Compare results as
  instants: Python compares and subtracts two datetimes that share a tzinfo by wall
  time (ignoring `fold` and the clock change), and `==` across zones is always False
  inside a fold (PEP 495). Converting to UTC first (`.astimezone(UTC)`, as the
  database does) is always right; `elapsed` gives open time between instants.

This module is pure: no ORM, no settings, no clock. `BusinessCalendar.schedule()`
builds a `Schedule` from the rows.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Schedule"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.date().toordinal()
_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
_MINUTE_US = 60_000_000
_DAY_US = 86_400_000_000
_DAY_MINUTES = 1440
# Local years the tables may cover: one year of margin inside datetime's own range,
# so that converting any bound back to an aware datetime cannot overflow.
_FIRST_YEAR = 2
_LAST_YEAR = 9998
_HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _not_aware(at: object) -> Exception:
    """Return the error for a value that is not an aware datetime."""
    if isinstance(at, datetime):
        return ValueError(
            f"naive datetime {at.isoformat()} has no time zone; pass an aware "
            "datetime (e.g. with tzinfo=ZoneInfo(...) or datetime.UTC)"
        )
    return TypeError(f"expected an aware datetime, got {type(at).__name__}")


def _since_epoch(at: datetime) -> timedelta:
    """Return the time from the Unix epoch to `at`; refuse naive values."""
    try:
        return at - _EPOCH
    except TypeError:
        raise _not_aware(at) from None


def _parse_minute(value: object, weekday: int) -> int:
    """Return minutes after midnight for "HH:MM" ("24:00" gives 1440)."""
    if not isinstance(value, str) or not _HHMM.fullmatch(value):
        raise ValueError(
            f"{_WEEKDAY_NAMES[weekday]}: bad time {value!r}; expected 'HH:MM' "
            "between 00:00 and 23:59, or 24:00 as an end"
        )
    return int(value[:2]) * 60 + int(value[3:])


class _Table:
    """Open intervals of local years [y0, y1) as UTC instants, with prefix sums.

    Every instant and amount is a `timedelta` (instants: since the Unix epoch).
    Interval i is [opens[i], closes[i]); `cumend[i]` is the open time (counted from
    `w0`) at its close and `base[i]` the open time at its start minus `opens[i]`, so
    the open time at an instant p inside it is `base[i] + p`. Entry 0 is an empty
    sentinel just before `w0`, so that a bisect never falls off the left end.
    `mids[d]` is the instant of local midnight of the d-th date of the range (one
    extra entry: `w1`), `daycum[d]` the open time before it, and `rank[d]` the number
    of working days before it; working day k spans open time `wd_cum[k]` to
    `wd_end[k]`.
    """

    __slots__ = (
        "base",
        "closes",
        "cumend",
        "daycum",
        "mids",
        "opens",
        "rank",
        "total",
        "w0",
        "w1",
        "wd_cum",
        "wd_end",
        "y0",
        "y1",
    )

    def __init__(
        self, y0: int, y1: int, columns: dict[str, Sequence[int]], rank: list[int]
    ) -> None:
        self.y0 = y0
        self.y1 = y1
        self.rank = rank
        as_time = _US.__mul__  # exact: integer microseconds to timedelta
        self.opens = list(map(as_time, columns["opens"]))
        self.closes = list(map(as_time, columns["closes"]))
        self.base = list(map(as_time, columns["base"]))
        self.cumend = list(map(as_time, columns["cumend"]))
        self.mids = list(map(as_time, columns["mids"]))
        self.daycum = list(map(as_time, columns["daycum"]))
        self.wd_cum = list(map(as_time, columns["wd_cum"]))
        self.wd_end = list(map(as_time, columns["wd_end"]))
        self.total = self.cumend[-1]
        self.w0 = self.mids[0]
        self.w1 = self.mids[-1]

    def cum_at(self, p: timedelta) -> timedelta:
        """Return the open time between `w0` and `p` (w0 <= p <= w1)."""
        i = bisect_right(self.opens, p) - 1
        return self.base[i] + p if p < self.closes[i] else self.cumend[i]

    def locate(self, c: timedelta) -> timedelta:
        """Return the first instant with open time `c` (0 < c <= total) behind it."""
        return c - self.base[bisect_left(self.cumend, c)]

    def next_open(self, p: timedelta) -> timedelta | None:
        """Return `p` if open, else the next opening; None if beyond the range."""
        i = bisect_right(self.opens, p) - 1
        if p < self.closes[i]:
            return p
        return self.opens[i + 1] if i + 1 < len(self.opens) else None

    def business_days(self, p: timedelta, n: int) -> timedelta | None:
        """Return `Schedule.add_business_days` for n > 0; None if beyond the range."""
        day = bisect_right(self.mids, p) - 1
        i = bisect_right(self.opens, p) - 1
        close = self.closes[i]
        offset = (self.base[i] + p if p < close else self.cumend[i]) - self.daycum[day]
        if offset:  # offset > 0 into day `day`, a working day
            k = self.rank[day] + n
            if k >= len(self.wd_end):
                return None
            c = self.wd_cum[k] + offset
            end = self.wd_end[k]
            if c > end:
                c = end
        else:  # the close of the (n-1)-th working day after the next opening's
            if p < close:
                q = p
            elif i + 1 < len(self.opens):
                q = self.opens[i + 1]
            else:
                return None
            k = self.rank[bisect_right(self.mids, q) - 1] + n - 1
            if k >= len(self.wd_end):
                return None
            c = self.wd_end[k]
        return c - self.base[bisect_left(self.cumend, c)]


class Schedule:
    """Open hours of one calendar: weekly intervals in a zone, minus holidays.

    `weekly` maps a weekday (0 = Monday) to its open intervals as ("HH:MM", "HH:MM")
    pairs; "24:00" may end one, a day may have several, and touching intervals join,
    also across midnight: an overnight shift is ("22:00", "24:00") on one day and
    ("00:00", "06:00") on the next. Intervals are half-open, [open, close).

    la = Schedule("America/Los_Angeles", {d: [("07:00", "19:00")] for d in range(5)})
    la.add(Fri 2026-03-06 15:00 PST, 6 h) -> Mon 2026-03-09 09:00 PDT: 4 h on
    Friday, 2 h on Monday, and the Sunday clock change costs nothing.
    """

    def __init__(
        self,
        tz: str,
        weekly: Mapping[int, Sequence[tuple[str, str]]],
        holidays: Iterable[date] = (),
    ) -> None:
        if not isinstance(tz, str):
            raise ValueError(f"time zone must be an IANA name string, got {tz!r}")
        try:
            self.zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {tz!r}") from None
        self.tz = tz
        self.weekly = self._parse_weekly(weekly)
        if not any(self.weekly):
            raise ValueError("schedule has no open hours: give at least one interval")
        days: set[date] = set()
        for day in holidays:
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"holiday {day!r} is not a date")
            days.add(day)
        self.holidays: tuple[date, ...] = tuple(sorted(days))
        self._holiday_ordinals = frozenset(d.toordinal() for d in days)
        # Open every minute of every day: open time is absolute time, so callers
        # with many instants to compute may add durations directly.
        self.is_always = not days and all(
            intervals == ((0, _DAY_MINUTES),) for intervals in self.weekly
        )
        self._t: _Table | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _parse_weekly(
        weekly: Mapping[int, Sequence[tuple[str, str]]],
    ) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Return the weekly intervals as minutes, validated, one tuple per weekday."""
        if not isinstance(weekly, Mapping):
            raise ValueError(
                "weekly must map weekday numbers (0 = Monday) to intervals"
            )
        result: list[tuple[tuple[int, int], ...]] = [() for _ in range(7)]
        for weekday, intervals in weekly.items():
            if (
                not isinstance(weekday, int)
                or isinstance(weekday, bool)
                or not 0 <= weekday <= 6
            ):
                raise ValueError(f"weekday {weekday!r} is not in 0..6 (0 = Monday)")
            if isinstance(intervals, str) or not isinstance(intervals, Iterable):
                raise ValueError(
                    f"{_WEEKDAY_NAMES[weekday]}: expected a list of ('HH:MM', 'HH:MM') "
                    f"pairs, got {intervals!r}"
                )
            parsed = []
            for interval in intervals:
                if (
                    isinstance(interval, str)
                    or not isinstance(interval, Sequence)
                    or len(interval) != 2
                ):
                    raise ValueError(
                        f"{_WEEKDAY_NAMES[weekday]}: interval {interval!r} is not an "
                        "('HH:MM', 'HH:MM') pair"
                    )
                opens_at, closes_at = interval
                start = _parse_minute(opens_at, weekday)
                end = _parse_minute(closes_at, weekday)
                if start == _DAY_MINUTES:
                    raise ValueError(
                        f"{_WEEKDAY_NAMES[weekday]}: 24:00 can only end an interval"
                    )
                if end <= start:
                    raise ValueError(
                        f"{_WEEKDAY_NAMES[weekday]}: interval {opens_at}-{closes_at} "
                        "must end after it starts (split an overnight shift at 24:00)"
                    )
                parsed.append((start, end))
            parsed.sort()
            for (_, end), (start, _) in pairwise(parsed):
                if start < end:
                    raise ValueError(
                        f"{_WEEKDAY_NAMES[weekday]}: intervals overlap at "
                        f"{start // 60:02d}:{start % 60:02d}"
                    )
            result[weekday] = tuple(parsed)
        return tuple(result)

    @classmethod
    def always(cls) -> Schedule:
        """Return the 24x7 schedule: every instant is open, durations are absolute.

        always().add(Sat 2026-03-07 12:00 PST, 24 h) -> Sun 2026-03-08 20:00 UTC
        (= 13:00 PDT): the 23-hour DST day does not stretch the 24 hours.

        One shared instance per process, so its table is built once (a fresh
        instance rebuilt three years of table on its first query, 3-11 ms).
        """
        return _always()

    @classmethod
    def weekdays(cls, tz: str) -> Schedule:
        """Return the 24x5 schedule of `tz`: Monday 00:00 to Friday 24:00.

        weekdays("America/Los_Angeles").add(Fri 20:00, 10 h) -> Mon 06:00.
        One shared instance per zone, like `always()`.
        """
        return _weekdays(tz)

    def __repr__(self) -> str:
        days = {
            day: [(_fmt(a), _fmt(b)) for a, b in intervals]
            for day, intervals in enumerate(self.weekly)
            if intervals
        }
        return f"Schedule({self.tz!r}, {days!r}, holidays={len(self.holidays)} dates)"

    def __reduce__(self) -> tuple[type[Schedule], tuple[object, ...]]:
        days = {
            day: [(_fmt(a), _fmt(b)) for a, b in intervals]
            for day, intervals in enumerate(self.weekly)
        }
        return (Schedule, (self.tz, days, self.holidays))

    # -- queries ---------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Return when `duration` of open time has passed after `start`.

        Counting begins at `start`, or at the next opening if `start` is closed. A
        duration that runs out exactly at a close returns the close. On Mon-Fri
        07:00-19:00: Fri 15:00 + 4 h -> Fri 19:00 (not Mon 07:00); Fri 18:00 + 2 h ->
        Mon 08:00; Sat 10:00 + 0 -> Mon 07:00; Tue 10:00 + 0 -> Tue 10:00.
        """
        try:
            p = start - _EPOCH
        except TypeError:
            raise _not_aware(start) from None
        t = self._t
        if duration > _ZERO and t is not None and t.w0 <= p < t.w1:  # common case
            i = bisect_right(t.opens, p) - 1
            c = (t.base[i] + p if p < t.closes[i] else t.cumend[i]) + duration
            if c <= t.total:
                p = c - t.base[bisect_left(t.cumend, c)]
                return (_EPOCH + p).astimezone(self.zone)
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if not duration:
            return (_EPOCH + self._next_open_at(p)).astimezone(self.zone)
        while True:
            t = self._table(p)
            c = t.cum_at(p) + duration
            if c <= t.total:
                return (_EPOCH + t.locate(c)).astimezone(self.zone)
            self._grow_forward(t)

    def add_business_days(self, start: datetime, n: int) -> datetime:
        """Return the due instant of an "n business days" target started at `start`.

        A working day is a local date with open time. If `start` is at open-time
        offset t > 0 into its working day, land at offset t into the n-th following
        working day, clamped to that day's close. A start that is closed, on a
        non-working day, before the day's first opening or exactly at it lands at the
        close of the n-th working day, counting the next opening's day as the first.
        On Mon-Fri 07:00-19:00: Mon 10:00 + 1 -> Tue 10:00; Mon 07:00 + 1 -> Mon
        19:00; Sat 10:00 + 1 -> Mon 19:00; Fri 20:00 + 1 -> Mon 19:00. n = 0 returns
        `start` (in the schedule's zone).
        """
        try:
            p = start - _EPOCH
        except TypeError:
            raise _not_aware(start) from None
        if n.__class__ is not int and (not isinstance(n, int) or isinstance(n, bool)):
            raise TypeError(f"n must be an int, got {n!r}")
        if n <= 0:
            if n < 0:
                raise ValueError(f"n must not be negative, got {n}")
            return start.astimezone(self.zone)
        while True:
            t = self._t
            if t is None or not t.w0 <= p < t.w1:
                t = self._table(p)
            result = t.business_days(p, n)
            if result is not None:
                return (_EPOCH + result).astimezone(self.zone)
            self._grow_forward(t)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Return the open time between `start` and `end` (negative if end < start).

        The inverse of `add`: elapsed(s, add(s, d)) == d. On Mon-Fri 07:00-19:00:
        elapsed(Fri 18:00, Mon 08:00) -> 2 h.
        """
        try:
            p = start - _EPOCH
            q = end - _EPOCH
        except TypeError:
            _since_epoch(start)  # raise the error for whichever is not aware
            _since_epoch(end)
            raise
        t = self._t
        if t is None or not (t.w0 <= p < t.w1 and t.w0 <= q < t.w1):
            t = self._cover(p, q)
        opens, closes, base, cumend = t.opens, t.closes, t.base, t.cumend
        i = bisect_right(opens, p) - 1
        j = bisect_right(opens, q) - 1
        return (base[j] + q if q < closes[j] else cumend[j]) - (
            base[i] + p if p < closes[i] else cumend[i]
        )

    def is_open(self, at: datetime) -> bool:
        """Return whether `at` is inside an open interval [open, close).

        On Mon-Fri 07:00-19:00: Mon 07:00 -> True; Mon 19:00 -> False.
        """
        p = _since_epoch(at)
        t = self._table(p)
        return p < t.closes[bisect_right(t.opens, p) - 1]

    def next_open(self, at: datetime) -> datetime:
        """Return `at` if it is open, else the next opening.

        On Mon-Fri 07:00-19:00: Fri 19:00 -> Mon 07:00; Mon 08:00 -> Mon 08:00.
        """
        p = self._next_open_at(_since_epoch(at))
        return (_EPOCH + p).astimezone(self.zone)

    def explain(
        self, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """Return the open intervals counted between `start` and `end`, clipped to them.

        Each pair is (open, close) in the schedule's zone; touching intervals are one
        pair (an overnight shift is not split at midnight). The order of the two
        arguments does not matter. On Mon-Fri 07:00-19:00: explain(Fri 18:00, Mon
        08:00) -> [(Fri 18:00, Fri 19:00), (Mon 07:00, Mon 08:00)].
        """
        p = _since_epoch(start)
        q = _since_epoch(end)
        if q < p:
            p, q = q, p
        if p == q:
            return []
        t = self._cover(p, q)
        first = bisect_right(t.closes, p)
        last = bisect_left(t.opens, q)
        zone = self.zone
        return [
            (
                (_EPOCH + max(t.opens[i], p)).astimezone(zone),
                (_EPOCH + min(t.closes[i], q)).astimezone(zone),
            )
            for i in range(first, last)
        ]

    def holidays_between(self, start: datetime, end: datetime) -> list[date]:
        """Return the holidays from `start`'s local date to `end`'s, inclusive.

        With holidays [2026-12-25, 2027-01-01]: holidays_between(2026-12-24 10:00,
        2026-12-28 10:00) -> [2026-12-25]. The order of the arguments does not matter.
        """
        first = (_EPOCH + _since_epoch(start)).astimezone(self.zone).date()
        last = (_EPOCH + _since_epoch(end)).astimezone(self.zone).date()
        if last < first:
            first, last = last, first
        lo = bisect_left(self.holidays, first)
        hi = bisect_right(self.holidays, last)
        return list(self.holidays[lo:hi])

    # -- tables ----------------------------------------------------------------------

    def _next_open_at(self, p: timedelta) -> timedelta:
        """Return `p` if open, else the next opening (both since the epoch)."""
        while True:
            t = self._table(p)
            result = t.next_open(p)
            if result is not None:
                return result
            self._grow_forward(t)

    def _table(self, p: timedelta) -> _Table:
        """Return a table whose range holds instant `p`."""
        while True:
            t = self._t
            if t is not None and t.w0 <= p < t.w1:
                return t
            self._grow(p)

    def _cover(self, p: timedelta, q: timedelta) -> _Table:
        """Return a table whose range holds both instants."""
        while True:
            t = self._t
            if t is None or p < t.w0 or p >= t.w1:
                self._grow(p)
            elif q < t.w0 or q >= t.w1:
                self._grow(q)
            else:
                return t

    def _grow(self, p: timedelta) -> None:
        """Rebuild the table so that its range holds instant `p` (and a year around)."""
        try:
            year = (_EPOCH + p).astimezone(self.zone).year
        except OverflowError:
            year = 0
        if not _FIRST_YEAR <= year <= _LAST_YEAR:
            raise ValueError(
                f"instant outside the supported years {_FIRST_YEAR}-{_LAST_YEAR}"
            )
        with self._lock:
            t = self._t
            if t is not None and t.w0 <= p < t.w1:
                return
            y0 = year - 1 if t is None else min(t.y0, year - 1)
            y1 = year + 2 if t is None else max(t.y1, year + 2)
            self._t = self._build(max(y0, _FIRST_YEAR), min(y1, _LAST_YEAR + 1))

    def _grow_forward(self, seen: _Table) -> None:
        """Extend the table past `seen`'s end, doubling its span of years."""
        with self._lock:
            t = self._t
            if t is not seen:  # another thread already rebuilt it
                return
            if t.y1 > _LAST_YEAR:
                raise ValueError(
                    f"result beyond the supported years (after {_LAST_YEAR})"
                )
            y1 = min(t.y1 + max(2, t.y1 - t.y0), _LAST_YEAR + 1)
            self._t = self._build(t.y0, y1)

    def _build(self, y0: int, y1: int) -> _Table:
        """Return the table of local years [y0, y1)."""
        first = date(y0, 1, 1).toordinal()
        last = date(y1, 1, 1).toordinal()
        zone = self.zone
        days, mids, offsets, steady_days = _local_days(self.tz, y0, y1)
        # Integer microseconds while building; entry 0 is the empty sentinel.
        opens, closes = [mids[0] - 1], [mids[0] - 1]
        weekly = self.weekly
        holidays = self._holiday_ordinals
        for i, ordinal in enumerate(range(first, last)):
            intervals = weekly[(ordinal + 6) % 7]  # ordinal 1 (0001-01-01) is a Monday
            if not intervals or ordinal in holidays:
                continue
            day, lo, hi = days[i], mids[i], mids[i + 1]
            base = (ordinal - _EPOCH_ORDINAL) * _DAY_US
            offset = offsets[i]
            steady = steady_days[i]
            spans = []
            for start, end in intervals:
                if start == 0:
                    a = lo
                elif steady:
                    a = base + start * _MINUTE_US - offset
                else:
                    a = base + start * _MINUTE_US - _offset_us(zone, day, start)
                if end == _DAY_MINUTES:
                    b = hi
                elif steady:
                    b = base + end * _MINUTE_US - offset
                else:
                    b = base + end * _MINUTE_US - _offset_us(zone, day, end)
                a = max(a, lo)  # a clock change at midnight can push a bound out
                b = min(b, hi)
                if a < b:
                    spans.append((a, b))
            spans.sort()  # a DST gap may reorder the converted bounds
            for a, b in spans:
                if a <= closes[-1]:  # touching (or overlapped by a DST gap): join
                    if b > closes[-1]:
                        closes[-1] = b
                else:
                    opens.append(a)
                    closes.append(b)
        base_col, cumend = [1 - mids[0]], [0]
        total = 0
        for a, b in zip(opens[1:], closes[1:], strict=True):
            base_col.append(total - a)
            total += b - a
            cumend.append(total)
        daycum = []
        for m in mids:
            i = bisect_right(opens, m) - 1
            daycum.append(base_col[i] + m if m < closes[i] else cumend[i])
        rank, wd_cum, wd_end = [], [], []
        for day in range(len(mids) - 1):
            rank.append(len(wd_cum))
            if daycum[day + 1] > daycum[day]:
                wd_cum.append(daycum[day])
                wd_end.append(daycum[day + 1])
        rank.append(len(wd_cum))
        columns = {
            "opens": opens,
            "closes": closes,
            "base": base_col,
            "cumend": cumend,
            "mids": mids,
            "daycum": daycum,
            "wd_cum": wd_cum,
            "wd_end": wd_end,
        }
        return _Table(y0, y1, columns, rank)


# Shared instances: a Schedule's definition never changes after __init__, and its
# tables grow under its lock, so one instance serves every thread.
@lru_cache(maxsize=1)
def _always() -> Schedule:
    return Schedule("UTC", {day: [("00:00", "24:00")] for day in range(7)})


@lru_cache(maxsize=64)
def _weekdays(tz: str) -> Schedule:
    return Schedule(tz, {day: [("00:00", "24:00")] for day in range(5)})


def _offset_us(zone: ZoneInfo, day: date, minute: int) -> int:
    """Return the UTC offset at wall time `minute` of local `day`, in microseconds.

    Gap and fold times resolve with fold=0: the offset in force before the change.
    """
    wall = datetime(
        day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone
    )
    offset = wall.utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return offset // _US


@lru_cache(maxsize=16)
def _local_days(
    tz: str, y0: int, y1: int
) -> tuple[tuple[date, ...], tuple[int, ...], tuple[int, ...], tuple[bool, ...]]:
    """Return the local dates of years [y0, y1) in `tz`, plus the next one, with facts.

    For each date: its local midnight as epoch microseconds, the UTC offset then,
    and whether it is steady: the same offset at its midnight, noon and next
    midnight, i.e. no clock change that day, so every bound can share the offset.
    Cached: calendars of one zone share the zoneinfo work.
    """
    zone = ZoneInfo(tz)
    first = date(y0, 1, 1).toordinal()
    last = date(y1, 1, 1).toordinal()
    days = [date.fromordinal(ordinal) for ordinal in range(first, last + 1)]
    offsets = [_offset_us(zone, day, 0) for day in days]
    mids = [
        (ordinal - _EPOCH_ORDINAL) * _DAY_US - offset
        for ordinal, offset in zip(range(first, last + 1), offsets, strict=True)
    ]
    steady = [
        offsets[i] == offsets[i + 1] == _offset_us(zone, days[i], 720)
        for i in range(len(days) - 1)
    ]
    return tuple(days), tuple(mids), tuple(offsets), tuple(steady)


def _fmt(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"
