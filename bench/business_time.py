"""Benchmark policies.business_time against businesstimedelta on one seeded workload.

Run from the repository root: `.venv/bin/python bench/business_time.py`. It prints
µs per call for both engines, per-target medians for ours, every disagreement with
its reason (and which side is wrong), and pass/fail lines for the goals of SPEC
§3.1. It exits 0 whatever the results: it is a report, not a gate.
"""

from __future__ import annotations

import contextlib
import platform
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import businesstimedelta
import pytz

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from policies.business_time import Schedule

SEED = 20260308
PAIRS = 10_000
ROUNDS_OURS = 5
ROUNDS_THEIRS = 3
TZ = "America/Los_Angeles"
LA = ZoneInfo(TZ)
BERLIN = ZoneInfo("Europe/Berlin")
DAY_HOURS = 12  # Mon-Fri 07:00-19:00
# Ten US-style holidays a year (observed dates); the list ends with 2028.
HOLIDAYS = [
    *(date(2026, m, d) for m, d in [(1, 1), (1, 19), (2, 16), (5, 25), (6, 19)]),
    *(date(2026, m, d) for m, d in [(7, 3), (9, 7), (11, 26), (11, 27), (12, 25)]),
    *(date(2027, m, d) for m, d in [(1, 1), (1, 18), (2, 15), (5, 31), (6, 18)]),
    *(date(2027, m, d) for m, d in [(7, 5), (9, 6), (11, 25), (11, 26), (12, 24)]),
    *(date(2028, m, d) for m, d in [(1, 17), (2, 21), (5, 29), (6, 19), (7, 4)]),
    *(date(2028, m, d) for m, d in [(9, 4), (10, 9), (11, 23), (11, 24), (12, 25)]),
]
LAST_HOLIDAY = max(HOLIDAYS)
FIRST_START = datetime(2026, 1, 1, tzinfo=LA)
END_START = datetime(2029, 1, 1, tzinfo=LA)
TARGETS: list[tuple[str, timedelta | None, int]] = [
    ("30 min", timedelta(minutes=30), 0),
    ("1 h", timedelta(hours=1), 0),
    ("4 h", timedelta(hours=4), 0),
    ("8 h", timedelta(hours=8), 0),
    ("1 business day", None, 1),
    ("5 business days", None, 5),
]


@dataclass
class Case:
    start: datetime
    target: str
    duration: timedelta | None
    days: int

    @property
    def hours(self) -> timedelta:
        """Return the target as open time: businesstimedelta's N business days."""
        return self.duration or timedelta(hours=DAY_HOURS * self.days)


def workload() -> list[Case]:
    """Return PAIRS seeded (start, target) pairs: random instants in 2026-2028."""
    rng = random.Random(SEED)
    span_us = (END_START - FIRST_START) // timedelta(microseconds=1)
    zones = [LA] * 7 + [UTC] * 2 + [BERLIN]  # 30% of starts arrive in another zone
    cases = []
    for _ in range(PAIRS):
        at = FIRST_START + timedelta(microseconds=rng.randrange(span_us))
        name, duration, days = rng.choice(TARGETS)
        cases.append(Case(at.astimezone(rng.choice(zones)), name, duration, days))
    return cases


def ours_call(schedule: Schedule, case: Case) -> datetime:
    if case.days:
        return schedule.add_business_days(case.start, case.days)
    assert case.duration is not None
    return schedule.add(case.start, case.duration)


def theirs_rules(holidays: list[date]) -> businesstimedelta.Rules:
    tz = pytz.timezone(TZ)
    workday = businesstimedelta.WorkDayRule(
        start_time=clock(7), end_time=clock(19), working_days=[0, 1, 2, 3, 4], tz=tz
    )
    # A set, not a list: the fastest container HolidayRule accepts.
    holidays = businesstimedelta.HolidayRule(set(holidays), tz=tz)
    return businesstimedelta.Rules([workday, holidays])


def stats(ns: list[int]) -> tuple[float, float, float]:
    """Return (median, p99, max) in µs."""
    ordered = sorted(ns)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000

    return pick(0.5), pick(0.99), ordered[-1] / 1000


def same_instant(a: datetime, b: datetime) -> bool:
    return a.astimezone(UTC) == b.astimezone(UTC)


ENDED = (
    "holiday list that ends - businesstimedelta is wrong: it raises TypeError. "
    "HolidayRule.next_holiday steps day by day (up to 5 years) to the next listed "
    f"holiday, gets None past the last one ({LAST_HOLIDAY}) and hands it to "
    "datetime.combine(); SPEC: dates after the list are ordinary days. Verified: "
    "with one extra holiday in 2030 (beyond every result) it agrees with ours"
)


def classify_add(
    schedule: Schedule,
    sentinel_rules: businesstimedelta.Rules,
    case: Case,
    ours: datetime,
    theirs: datetime | Exception,
) -> str:
    """Return why businesstimedelta's answer differs from ours, checked, not guessed."""
    if isinstance(theirs, Exception):
        retry = case.start + businesstimedelta.BusinessTimeDelta(
            sentinel_rules, timedelta=case.hours
        )
        if (
            isinstance(theirs, TypeError)
            and ours.astimezone(LA).date() > LAST_HOLIDAY
            and same_instant(retry, ours)
        ):
            return ENDED
        return f"UNEXPLAINED: businesstimedelta raised {theirs!r}"
    if not schedule.is_open(ours) and same_instant(theirs, schedule.next_open(ours)):
        return (
            "exactly-at-close convention - businesstimedelta is wrong: it returns "
            "the next opening, SPEC says a duration that runs out at a close "
            "returns the close"
        )
    if case.days and same_instant(theirs, schedule.add(case.start, case.hours)):
        return (
            "business-day semantics - businesstimedelta counts N x 12 h, we count "
            "working days (differs only when working days differ in length)"
        )
    return (
        f"UNEXPLAINED: {case.target} from {case.start.isoformat()}: ours "
        f"{ours.isoformat()}, theirs {theirs.isoformat()}"
    )


def classify_elapsed(
    sentinel_rules: businesstimedelta.Rules,
    case: Case,
    end: datetime,
    ours: timedelta,
    theirs: timedelta | Exception,
) -> str:
    """Return why businesstimedelta's elapsed time differs from ours."""
    if isinstance(theirs, Exception):
        retry = sentinel_rules.difference(case.start, end).timedelta
        if isinstance(theirs, TypeError) and retry == ours:
            # difference() also asks for the period after `end`: it fails when that
            # period starts after the last holiday, even if `end` is before it.
            return ENDED
        return f"UNEXPLAINED: businesstimedelta raised {theirs!r}"
    if ours - theirs == timedelta(microseconds=ours.microseconds):
        return (
            "microseconds - businesstimedelta is wrong: Rule.difference rebuilds "
            "the result from hours and seconds, dropping microseconds"
        )
    return (
        f"UNEXPLAINED: from {case.start.isoformat()} to {end.isoformat()}: ours "
        f"{ours}, theirs {theirs}"
    )


def time_ours(
    schedule: Schedule, cases: list[Case]
) -> tuple[list[int], list[datetime]]:
    """Return ns per call and the results of add / add_business_days on every case.

    Each call is timed on its own, inline: no wrapper function in the timed span.
    """
    clock_ns = time.perf_counter_ns
    add = schedule.add
    add_business_days = schedule.add_business_days
    times: list[int] = []
    results: list[datetime] = []
    for case in cases:
        start, duration, days = case.start, case.duration, case.days
        if days:
            begin = clock_ns()
            result = add_business_days(start, days)
            times.append(clock_ns() - begin)
        else:
            assert duration is not None
            begin = clock_ns()
            result = add(start, duration)
            times.append(clock_ns() - begin)
        results.append(result)
    return times, results


def time_theirs(
    rules: businesstimedelta.Rules, cases: list[Case]
) -> tuple[list[int], list[datetime | Exception]]:
    """Return ns per call (sys.maxsize if it raised) and businesstimedelta's results."""
    clock_ns = time.perf_counter_ns
    times: list[int] = []
    results: list[datetime | Exception] = []
    for case in cases:
        start = case.start
        delta = businesstimedelta.BusinessTimeDelta(rules, timedelta=case.hours)
        try:
            begin = clock_ns()
            result = start + delta
            times.append(clock_ns() - begin)
        except Exception as exc:  # the baseline fails on some inputs: keep the error
            times.append(sys.maxsize)
            result = exc
        results.append(result)
    return times, results


def time_ours_elapsed(
    schedule: Schedule, cases: list[Case], ends: list[datetime]
) -> tuple[list[int], list[timedelta]]:
    clock_ns = time.perf_counter_ns
    elapsed = schedule.elapsed
    times: list[int] = []
    results: list[timedelta] = []
    for case, end in zip(cases, ends, strict=True):
        start = case.start
        begin = clock_ns()
        result = elapsed(start, end)
        times.append(clock_ns() - begin)
        results.append(result)
    return times, results


def time_theirs_elapsed(
    rules: businesstimedelta.Rules, cases: list[Case], ends: list[datetime]
) -> tuple[list[int], list[timedelta | Exception]]:
    clock_ns = time.perf_counter_ns
    difference = rules.difference
    times: list[int] = []
    results: list[timedelta | Exception] = []
    for case, end in zip(cases, ends, strict=True):
        start = case.start
        try:
            begin = clock_ns()
            result = difference(start, end).timedelta
            times.append(clock_ns() - begin)
        except Exception as exc:
            times.append(sys.maxsize)
            result = exc
        results.append(result)
    return times, results


def main() -> None:
    cases = workload()
    schedule = Schedule(TZ, {day: [("07:00", "19:00")] for day in range(5)}, HOLIDAYS)
    rules = theirs_rules(HOLIDAYS)
    sentinel_rules = theirs_rules([*HOLIDAYS, date(2030, 1, 1)])
    n_open = sum(schedule.is_open(c.start) for c in cases)
    n_other_zone = sum(c.start.tzinfo is not LA for c in cases)

    # Warm up: ours builds its interval tables for every year the workload touches;
    # both get their code paths and caches exercised before timing.
    for case in cases:
        ours_call(schedule, case)
    for case in cases[:300]:
        with contextlib.suppress(TypeError):
            case.start + businesstimedelta.BusinessTimeDelta(
                rules, timedelta=case.hours
            )

    # Rounds alternate between the engines; each case keeps its best time over the
    # rounds (as timeit does), so a burst of load on a shared machine does not land
    # on one side only. The p99 goal is checked on every timed call, not the best.
    ours_best: list[int] = [sys.maxsize] * PAIRS
    ours_all: list[int] = []
    theirs_best: list[int] = [sys.maxsize] * PAIRS
    ours_el_best: list[int] = [sys.maxsize] * PAIRS
    ours_el_all: list[int] = []
    theirs_el_best: list[int] = [sys.maxsize] * PAIRS
    for round_ in range(ROUNDS_OURS):
        ours_ns, ours_results = time_ours(schedule, cases)
        ours_all += ours_ns
        ours_best = list(map(min, ours_best, ours_ns))
        ours_el_ns, ours_elapsed = time_ours_elapsed(schedule, cases, ours_results)
        ours_el_all += ours_el_ns
        ours_el_best = list(map(min, ours_el_best, ours_el_ns))
        if round_ < ROUNDS_THEIRS:
            theirs_ns, theirs_results = time_theirs(rules, cases)
            theirs_best = list(map(min, theirs_best, theirs_ns))
            theirs_el_ns, theirs_elapsed = time_theirs_elapsed(
                rules, cases, ours_results
            )
            theirs_el_best = list(map(min, theirs_el_best, theirs_el_ns))
    per_target: dict[str, list[int]] = defaultdict(list)
    for case, ns in zip(cases, ours_best, strict=True):
        per_target[case.target].append(ns)
    # Calls that raised have no time (sys.maxsize): leave them out of the stats.
    theirs_ok = [ns for ns in theirs_best if ns != sys.maxsize]
    theirs_el_ok = [ns for ns in theirs_el_best if ns != sys.maxsize]

    # Self-consistency of ours: elapsed inverts add; N business days == N x 12 h here.
    inverse_errors = sum(
        elapsed != case.hours for case, elapsed in zip(cases, ours_elapsed, strict=True)
    )
    days_errors = sum(
        not same_instant(result, schedule.add(case.start, case.hours))
        for case, result in zip(cases, ours_results, strict=True)
        if case.days
    )

    add_reasons: Counter[str] = Counter()
    for case, ours, theirs in zip(cases, ours_results, theirs_results, strict=True):
        if isinstance(theirs, datetime) and same_instant(ours, theirs):
            continue
        add_reasons[classify_add(schedule, sentinel_rules, case, ours, theirs)] += 1
    elapsed_reasons: Counter[str] = Counter()
    for case, end, ours, theirs in zip(
        cases, ours_results, ours_elapsed, theirs_elapsed, strict=True
    ):
        if ours != theirs:
            reason = classify_elapsed(sentinel_rules, case, end, ours, theirs)
            elapsed_reasons[reason] += 1
    crashes = [r for r in theirs_results if isinstance(r, Exception)]

    om, op99, omax = stats(ours_best)
    tm, tp99, tmax = stats(theirs_ok)
    em, ep99, emax = stats(ours_el_best)
    dm, dp99, dmax = stats(theirs_el_ok)
    _, op99_all, omax_all = stats(ours_all)
    _, ep99_all, emax_all = stats(ours_el_all)
    print("business_time benchmark")
    print(
        f"  Python {platform.python_version()} ({platform.python_implementation()}), "
        f"businesstimedelta {getattr(businesstimedelta, '__version__', '1.0.1')}, "
        f"pytz {pytz.__version__}"
    )
    print(
        f"  {PAIRS} pairs, seed {SEED}: Mon-Fri 07:00-19:00 {TZ}, {len(HOLIDAYS)} "
        f"holidays {HOLIDAYS[0]}..{LAST_HOLIDAY} (the list ends)"
    )
    print(
        f"  starts uniform over {FIRST_START.date()}..{END_START.date()}: "
        f"{n_open} open, {PAIRS - n_open} closed; {n_other_zone} given in UTC or "
        "Europe/Berlin"
    )
    print(f"  targets: {', '.join(name for name, _, _ in TARGETS)} (uniform)")
    print(
        f"  time.perf_counter_ns per call; best of {ROUNDS_OURS} rounds (ours) and "
        f"{ROUNDS_THEIRS} (theirs) per case, rounds interleaved"
    )
    print()
    print("add / add_business_days, µs per call     median      p99      max")
    print(f"  ours (policies.business_time)       {om:8.2f} {op99:8.2f} {omax:8.1f}")
    print(
        f"    every one of {len(ours_all)} timed calls          {op99_all:8.2f} "
        f"{omax_all:8.1f}"
    )
    print(
        f"  businesstimedelta                   {tm:8.2f} {tp99:8.2f} {tmax:8.1f}"
        f"   ({len(theirs_ok)} cases; {len(crashes)} raised, not timed)"
    )
    print(f"  ratio of medians (theirs / ours)    {tm / om:8.0f}x")
    print("  ours per target:")
    for name, _, _ in TARGETS:
        m, p99, _ = stats(per_target[name])
        print(f"    {name:<18} median {m:6.2f} µs   p99 {p99:6.2f} µs")
    print()
    print("elapsed on the same (start, result) pairs   median      p99      max")
    print(f"  ours Schedule.elapsed               {em:8.2f} {ep99:8.2f} {emax:8.1f}")
    print(
        f"    every one of {len(ours_el_all)} timed calls          {ep99_all:8.2f} "
        f"{emax_all:8.1f}"
    )
    print(
        f"  businesstimedelta Rules.difference  {dm:8.2f} {dp99:8.2f} {dmax:8.1f}"
        f"   ({len(theirs_el_ok)} cases)"
    )
    print(f"  ratio of medians (theirs / ours)    {dm / em:8.0f}x")
    print()
    print("ours, self-consistency on all pairs")
    print(f"  elapsed(start, add(start, d)) != d:            {inverse_errors}")
    print(f"  add_business_days(s, n) != add(s, n x 12 h):    {days_errors}")
    print()
    print(f"disagreements, add: {sum(add_reasons.values())} of {PAIRS}")
    for reason, count in add_reasons.most_common():
        print(f"  {count:5d}  {reason}")
    print(f"disagreements, elapsed: {sum(elapsed_reasons.values())} of {PAIRS}")
    for reason, count in elapsed_reasons.most_common():
        print(f"  {count:5d}  {reason}")
    unexplained = sum(
        count
        for reasons in (add_reasons, elapsed_reasons)
        for reason, count in reasons.items()
        if reason.startswith("UNEXPLAINED")
    )
    print(f"  unexplained: {unexplained}")
    print(
        "  no disagreement on this workload from: the exactly-at-close convention "
        "(both return the close), DST (pytz localize() places 07:00/19:00 right), "
        "closed-start business days (all working days are 12 h, so N business days "
        "== N x 12 h), starts given in UTC or Europe/Berlin (both convert)"
    )
    print()
    print("goals")
    ratio = tm / om
    bd5 = stats(per_target["5 business days"])[0]
    m30 = stats(per_target["30 min"])[0]
    goals = [
        (
            ratio >= 50,
            f"our median >= 50x faster than businesstimedelta's ({ratio:.0f}x)",
        ),
        (op99_all < 50, f"our p99 < 50 µs, over every timed call ({op99_all:.2f} µs)"),
        (
            bd5 <= 2 * m30,
            f"5-business-day median <= 2x the 30-minute median ({bd5:.2f} vs "
            f"{m30:.2f} µs: {bd5 / m30:.2f}x)",
        ),
        (unexplained == 0, "every disagreement explained"),
        (inverse_errors == days_errors == 0, "ours self-consistent"),
    ]
    for ok, text in goals:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")


if __name__ == "__main__":
    main()
