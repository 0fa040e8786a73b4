"""Business-time engine: SPEC §3.1 tables, plus properties against a slow reference."""

import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policies.business_time import Schedule

LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
CAIRO = ZoneInfo("Africa/Cairo")
H = timedelta(hours=1)
MIN = timedelta(minutes=1)

Weekly = Mapping[int, Sequence[tuple[str, str]]]

WEEKDAYS_7_19: Weekly = {day: [("07:00", "19:00")] for day in range(5)}
# The list ends with 2026: 2027-01-01 is an ordinary Friday here.
HOLIDAYS_2026 = [
    date(2026, 1, 1),
    date(2026, 5, 25),
    date(2026, 7, 3),
    date(2026, 9, 7),
    date(2026, 11, 26),
    date(2026, 11, 27),
    date(2026, 12, 25),
]
SPLIT: Weekly = {day: [("09:00", "12:00"), ("13:00", "17:00")] for day in range(5)}
# Nights Mon-Thu 22:00-06:00, written as the halves on each date.
OVERNIGHT: Weekly = {
    0: [("22:00", "24:00")],
    1: [("00:00", "06:00"), ("22:00", "24:00")],
    2: [("00:00", "06:00"), ("22:00", "24:00")],
    3: [("00:00", "06:00"), ("22:00", "24:00")],
    4: [("00:00", "06:00")],
}
# Unequal working days, where business-day offsets get clamped.
SHORT_FRIDAY: Weekly = {
    **{d: [("07:00", "19:00")] for d in range(4)},
    4: [("07:00", "12:00")],
}

business = Schedule("America/Los_Angeles", WEEKDAYS_7_19, HOLIDAYS_2026)
daily = Schedule("America/Los_Angeles", {d: [("07:00", "19:00")] for d in range(7)})
split = Schedule("America/Los_Angeles", SPLIT)
overnight = Schedule("America/Los_Angeles", OVERNIGHT)
short_friday = Schedule("America/Los_Angeles", SHORT_FRIDAY)
london = Schedule("Europe/London", {d: [("08:00", "17:00")] for d in range(5)})
london_daily = Schedule("Europe/London", {d: [("08:00", "17:00")] for d in range(7)})
always = Schedule.always()
la_24x7 = Schedule("America/Los_Angeles", {d: [("00:00", "24:00")] for d in range(7)})
la_24x5 = Schedule.weekdays("America/Los_Angeles")
cairo_24x5 = Schedule.weekdays("Africa/Cairo")
far_past = Schedule("America/Los_Angeles", WEEKDAYS_7_19, HOLIDAYS_2026)
far_future = Schedule("America/Los_Angeles", WEEKDAYS_7_19, HOLIDAYS_2026)


def utc(at: datetime) -> datetime:
    """Return `at` in UTC: aware == and < are only instant-exact there (PEP 495)."""
    return at.astimezone(UTC)


def la(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)  # type: ignore[misc]


def ldn(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


# -- add -------------------------------------------------------------------------------

ADD_CASES = [
    # weekend, evenings, openings and closings (Mon-Fri 07:00-19:00)
    (
        "friday evening to monday",
        business,
        la(2026, 3, 13, 18),
        2 * H,
        la(2026, 3, 16, 8),
    ),
    ("saturday start", business, la(2026, 3, 14, 10), H, la(2026, 3, 16, 8)),
    ("sunday start", business, la(2026, 3, 15, 23), 30 * MIN, la(2026, 3, 16, 7, 30)),
    (
        "friday night start",
        business,
        la(2026, 3, 13, 21),
        30 * MIN,
        la(2026, 3, 16, 7, 30),
    ),
    ("opened after hours", business, la(2026, 3, 10, 20), H, la(2026, 3, 11, 8)),
    ("opened before hours", business, la(2026, 3, 10, 5), H, la(2026, 3, 10, 8)),
    (
        "runs out exactly at close",
        business,
        la(2026, 3, 13, 15),
        4 * H,
        la(2026, 3, 13, 19),
    ),
    ("start exactly at close", business, la(2026, 3, 10, 19), H, la(2026, 3, 11, 8)),
    (
        "start exactly at opening",
        business,
        la(2026, 3, 10, 7),
        12 * H,
        la(2026, 3, 10, 19),
    ),
    (
        "one minute past close",
        business,
        la(2026, 3, 13, 15),
        4 * H + MIN,
        la(2026, 3, 16, 7, 1),
    ),
    (
        "zero from closed start",
        business,
        la(2026, 3, 14, 10),
        timedelta(0),
        la(2026, 3, 16, 7),
    ),
    (
        "zero from open start",
        business,
        la(2026, 3, 10, 10),
        timedelta(0),
        la(2026, 3, 10, 10),
    ),
    (
        "zero exactly at close",
        business,
        la(2026, 3, 10, 19),
        timedelta(0),
        la(2026, 3, 11, 7),
    ),
    (
        "microseconds kept",
        business,
        datetime(2026, 3, 10, 18, 59, 59, 999_999, tzinfo=LA),
        timedelta(microseconds=2),
        datetime(2026, 3, 11, 7, 0, 0, 1, tzinfo=LA),
    ),
    # holidays, and a holiday list that ends
    ("thanksgiving", business, la(2026, 11, 25, 18), 2 * H, la(2026, 11, 30, 8)),
    ("start on a holiday", business, la(2026, 11, 26, 10), H, la(2026, 11, 30, 8)),
    ("christmas", business, la(2026, 12, 24, 18, 30), H, la(2026, 12, 28, 7, 30)),
    ("holiday list ended", business, la(2026, 12, 31, 18), 2 * H, la(2027, 1, 1, 8)),
    # DST, US: Sunday 2026-03-08 (spring) and Sunday 2026-11-01 (fall)
    ("dst march weekend", business, la(2026, 3, 6, 18), 2 * H, la(2026, 3, 9, 8)),
    ("dst november weekend", business, la(2026, 10, 30, 18), 2 * H, la(2026, 11, 2, 8)),
    ("dst march sunday 12h", daily, la(2026, 3, 8, 7), 12 * H, la(2026, 3, 8, 19)),
    ("dst november sunday 12h", daily, la(2026, 11, 1, 7), 12 * H, la(2026, 11, 1, 19)),
    ("dst march saturday night", daily, la(2026, 3, 7, 18), 2 * H, la(2026, 3, 8, 8)),
    ("24x7 la spring 24h", la_24x7, la(2026, 3, 7, 12), 24 * H, la(2026, 3, 8, 13)),
    ("24x7 la fall 24h", la_24x7, la(2026, 10, 31, 12), 24 * H, la(2026, 11, 1, 11)),
    ("24x7 utc spring 24h", always, la(2026, 3, 7, 12), 24 * H, la(2026, 3, 8, 13)),
    ("24x7 across a week", always, la(2026, 3, 1, 12), 7 * 24 * H, la(2026, 3, 8, 13)),
    # DST, London: Sunday 2026-03-29 and Sunday 2026-10-25
    (
        "london spring sunday",
        london_daily,
        ldn(2026, 3, 29, 8),
        9 * H,
        ldn(2026, 3, 29, 17),
    ),
    (
        "london autumn sunday",
        london_daily,
        ldn(2026, 10, 25, 8),
        9 * H,
        ldn(2026, 10, 25, 17),
    ),
    ("london friday to bst", london, ldn(2026, 3, 27, 16), 2 * H, ldn(2026, 3, 30, 9)),
    # 24x5: real elapsed time across weekends and clock changes
    ("24x5 weekend dst", la_24x5, la(2026, 3, 6, 20), 10 * H, la(2026, 3, 9, 6)),
    ("24x5 saturday start", la_24x5, la(2026, 3, 7, 20), H, la(2026, 3, 9, 1)),
    ("24x5 exactly friday 24:00", la_24x5, la(2026, 3, 6, 12), 12 * H, la(2026, 3, 7)),
    (
        "24x5 cairo spring friday",  # Fri 2026-04-24 00:00 -> 01:00
        cairo_24x5,
        datetime(2026, 4, 23, 12, tzinfo=CAIRO),
        24 * H,
        datetime(2026, 4, 24, 13, tzinfo=CAIRO),
    ),
    (
        "24x5 cairo thursday 25h",  # Thu 2026-10-29 24:00 -> 23:00
        cairo_24x5,
        datetime(2026, 10, 29, 12, tzinfo=CAIRO),
        24 * H,
        datetime(2026, 10, 30, 11, tzinfo=CAIRO),
    ),
    # split shifts 09:00-12:00 + 13:00-17:00
    ("split over lunch", split, la(2026, 3, 16, 11, 30), H, la(2026, 3, 16, 13, 30)),
    ("split from lunch", split, la(2026, 3, 16, 12, 30), H, la(2026, 3, 16, 14)),
    ("split morning to close", split, la(2026, 3, 16, 9), 3 * H, la(2026, 3, 16, 12)),
    ("split to next day", split, la(2026, 3, 16, 16), 2 * H, la(2026, 3, 17, 10)),
    # overnight shift 22:00-06:00, one interval across midnight
    (
        "overnight across midnight",
        overnight,
        la(2026, 3, 16, 23),
        2 * H,
        la(2026, 3, 17, 1),
    ),
    (
        "overnight from morning",
        overnight,
        la(2026, 3, 17, 5),
        2 * H,
        la(2026, 3, 17, 23),
    ),
    (
        "overnight over weekend",
        overnight,
        la(2026, 3, 20, 5),
        2 * H,
        la(2026, 3, 23, 23),
    ),
    ("overnight exactly 24:00", overnight, la(2026, 3, 16, 22), 2 * H, la(2026, 3, 17)),
    # inputs in other zones; the result is in the schedule's zone
    (
        "utc input",
        business,
        datetime(2026, 3, 13, 23, tzinfo=UTC),
        4 * H,
        la(2026, 3, 16, 8),
    ),
    (
        "berlin input",
        business,
        datetime(2026, 3, 10, 17, tzinfo=BERLIN),
        H,
        la(2026, 3, 10, 10),
    ),
    # long targets
    (
        "90 business days of hours",
        business,
        la(2026, 3, 9, 10),
        90 * 12 * H,
        la(2026, 7, 15, 10),
    ),
    # far from today (own schedules: one table spanning 1990-2300 would cost ~0.4 s)
    ("far past friday", far_past, la(1990, 3, 9, 10), 12 * H, la(1990, 3, 12, 10)),
    ("far future", far_future, la(2300, 3, 13, 10), 12 * H, la(2300, 3, 14, 10)),
]


@pytest.mark.parametrize(
    ("schedule", "start", "duration", "expected"),
    [case[1:] for case in ADD_CASES],
    ids=[case[0] for case in ADD_CASES],
)
def test_add(
    schedule: Schedule, start: datetime, duration: timedelta, expected: datetime
) -> None:
    result = schedule.add(start, duration)

    assert result == expected
    assert result.tzinfo == schedule.zone
    assert result.utcoffset() == expected.astimezone(schedule.zone).utcoffset()


@pytest.mark.parametrize(
    ("schedule", "start", "duration", "expected"),
    [case[1:] for case in ADD_CASES],
    ids=[case[0] for case in ADD_CASES],
)
def test_elapsed_inverts_add(
    schedule: Schedule, start: datetime, duration: timedelta, expected: datetime
) -> None:
    assert schedule.elapsed(start, expected) == duration
    assert schedule.elapsed(expected, start) == -duration


def test_24x7_is_wall_clock_free() -> None:
    result = always.add(la(2026, 3, 7, 12), 24 * H)

    assert result == datetime(2026, 3, 8, 20, tzinfo=UTC)
    assert result.astimezone(LA).hour == 13


def test_result_in_the_repeated_hour_carries_fold() -> None:
    # Sun 2026-11-01 01:30 happens twice in Los Angeles: 08:30 UTC (PDT), 09:30 (PST).
    result = la_24x7.add(datetime(2026, 11, 1, 8, 30, tzinfo=UTC), H)

    assert result.astimezone(UTC) == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert (result.hour, result.minute, result.fold) == (1, 30, 1)
    assert result.utcoffset() == -8 * H


def test_a_dst_day_keeps_twelve_open_hours() -> None:
    assert daily.elapsed(la(2026, 3, 8), la(2026, 3, 9)) == 12 * H
    assert daily.elapsed(la(2026, 11, 1), la(2026, 11, 2)) == 12 * H
    assert la_24x7.elapsed(la(2026, 3, 8), la(2026, 3, 9)) == 23 * H
    assert la_24x7.elapsed(la(2026, 11, 1), la(2026, 11, 2)) == 25 * H


# -- business days ---------------------------------------------------------------------

BUSINESS_DAY_CASES = [
    ("saturday", business, la(2026, 3, 14, 10), 1, la(2026, 3, 16, 19)),
    ("exactly at opening", business, la(2026, 3, 16, 7), 1, la(2026, 3, 16, 19)),
    ("before opening", business, la(2026, 3, 16, 5), 1, la(2026, 3, 16, 19)),
    ("mid-morning", business, la(2026, 3, 16, 10), 1, la(2026, 3, 17, 10)),
    ("after hours", business, la(2026, 3, 16, 20), 1, la(2026, 3, 17, 19)),
    ("exactly at closing", business, la(2026, 3, 16, 19), 1, la(2026, 3, 17, 19)),
    ("friday day", business, la(2026, 3, 13, 10), 1, la(2026, 3, 16, 10)),
    ("friday evening", business, la(2026, 3, 13, 20), 1, la(2026, 3, 16, 19)),
    ("friday evening five", business, la(2026, 3, 6, 19, 30), 5, la(2026, 3, 13, 19)),
    ("five days", business, la(2026, 3, 16, 10), 5, la(2026, 3, 23, 10)),
    ("day before holidays", business, la(2026, 11, 25, 10), 1, la(2026, 11, 30, 10)),
    ("on a holiday", business, la(2026, 11, 26, 10), 1, la(2026, 11, 30, 19)),
    ("holiday list ended", business, la(2026, 12, 31, 10), 1, la(2027, 1, 1, 10)),
    ("dst march", business, la(2026, 3, 6, 10), 1, la(2026, 3, 9, 10)),
    ("dst november", business, la(2026, 10, 30, 10), 1, la(2026, 11, 2, 10)),
    ("90 business days", business, la(2026, 3, 9, 10), 90, la(2026, 7, 15, 10)),
    ("120 across the year end", business, la(2026, 9, 1, 10), 120, la(2027, 2, 22, 10)),
    ("zero days", business, la(2026, 3, 14, 10), 0, la(2026, 3, 14, 10)),
    (
        "utc input",
        business,
        datetime(2026, 3, 14, 18, tzinfo=UTC),
        1,
        la(2026, 3, 16, 19),
    ),
    # Tue 02:00 in Berlin is Mon 18:00 in Los Angeles: the local date is the schedule's.
    (
        "berlin input",
        business,
        datetime(2026, 3, 17, 2, tzinfo=BERLIN),
        1,
        la(2026, 3, 17, 18),
    ),
    ("london", london, ldn(2026, 3, 27, 10), 1, ldn(2026, 3, 30, 10)),
    ("split from lunch", split, la(2026, 3, 16, 12, 30), 1, la(2026, 3, 17, 12)),
    ("split afternoon", split, la(2026, 3, 16, 14), 1, la(2026, 3, 17, 14)),
    # Working days are local dates: Mon has 2 h of the shift, Tue has 8 h.
    ("overnight", overnight, la(2026, 3, 16, 23), 1, la(2026, 3, 17, 1)),
    ("overnight saturday", overnight, la(2026, 3, 21, 10), 1, la(2026, 3, 24)),
    ("clamped to close", short_friday, la(2026, 3, 19, 15), 1, la(2026, 3, 20, 12)),
    ("not clamped", short_friday, la(2026, 3, 20, 10), 1, la(2026, 3, 23, 10)),
    ("24x5 friday evening", la_24x5, la(2026, 3, 6, 20), 1, la(2026, 3, 9, 20)),
    ("24x5 saturday", la_24x5, la(2026, 3, 7, 20), 1, la(2026, 3, 10)),
    ("24x7 dst", la_24x7, la(2026, 3, 7, 12), 1, la(2026, 3, 8, 13)),
]


@pytest.mark.parametrize(
    ("schedule", "start", "n", "expected"),
    [case[1:] for case in BUSINESS_DAY_CASES],
    ids=[case[0] for case in BUSINESS_DAY_CASES],
)
def test_add_business_days(
    schedule: Schedule, start: datetime, n: int, expected: datetime
) -> None:
    result = schedule.add_business_days(start, n)

    assert result == expected
    assert result.tzinfo == schedule.zone


# -- is_open, next_open, explain, holidays ---------------------------------------------

OPEN_CASES = [
    (business, la(2026, 3, 16, 7), True, la(2026, 3, 16, 7)),
    (business, la(2026, 3, 16, 6, 59), False, la(2026, 3, 16, 7)),
    (business, la(2026, 3, 16, 19), False, la(2026, 3, 17, 7)),
    (business, la(2026, 3, 13, 19), False, la(2026, 3, 16, 7)),
    (business, la(2026, 11, 26, 12), False, la(2026, 11, 30, 7)),
    (overnight, la(2026, 3, 17), True, la(2026, 3, 17)),
    (overnight, la(2026, 3, 20, 6), False, la(2026, 3, 23, 22)),
    (split, la(2026, 3, 16, 12), False, la(2026, 3, 16, 13)),
    (la_24x5, la(2026, 3, 7), False, la(2026, 3, 9)),
    # The instant Los Angeles jumps from 02:00 PST to 03:00 PDT.
    (always, datetime(2026, 3, 8, 10, tzinfo=UTC), True, la(2026, 3, 8, 3)),
]


@pytest.mark.parametrize(("schedule", "at", "is_open", "next_open"), OPEN_CASES)
def test_is_open_and_next_open(
    schedule: Schedule, at: datetime, is_open: bool, next_open: datetime
) -> None:
    assert schedule.is_open(at) is is_open
    assert schedule.next_open(at) == next_open
    assert schedule.next_open(at).tzinfo == schedule.zone


def test_explain_lists_counted_intervals_clipped() -> None:
    intervals = business.explain(la(2026, 11, 25, 18), la(2026, 11, 30, 8))

    assert intervals == [
        (la(2026, 11, 25, 18), la(2026, 11, 25, 19)),
        (la(2026, 11, 30, 7), la(2026, 11, 30, 8)),
    ]
    assert sum((utc(b) - utc(a) for a, b in intervals), timedelta()) == 2 * H
    assert business.holidays_between(la(2026, 11, 25, 18), la(2026, 11, 30, 8)) == [
        date(2026, 11, 26),
        date(2026, 11, 27),
    ]


def test_explain_joins_overnight_shift_and_accepts_any_order() -> None:
    start, end = la(2026, 3, 16, 23), la(2026, 3, 17, 23)

    assert overnight.explain(end, start) == [
        (la(2026, 3, 16, 23), la(2026, 3, 17, 6)),
        (la(2026, 3, 17, 22), la(2026, 3, 17, 23)),
    ]
    assert overnight.explain(start, start) == []
    assert business.holidays_between(la(2026, 12, 30), la(2027, 12, 30)) == []


# -- input validation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "weekly", "message"),
    [
        ("America/Los_Angeles", {0: [("7:00", "19:00")]}, "bad time '7:00'"),
        ("America/Los_Angeles", {0: [("07:00", "25:00")]}, "bad time '25:00'"),
        ("America/Los_Angeles", {0: [("07:00", "12:60")]}, "bad time '12:60'"),
        ("America/Los_Angeles", {0: [("07:00", "24:01")]}, "bad time '24:01'"),
        ("America/Los_Angeles", {0: [(700, "19:00")]}, "bad time 700"),
        ("America/Los_Angeles", {0: [("24:00", "24:00")]}, "24:00 can only end"),
        ("America/Los_Angeles", {0: [("19:00", "07:00")]}, "must end after it starts"),
        ("America/Los_Angeles", {0: [("07:00", "07:00")]}, "must end after it starts"),
        (
            "America/Los_Angeles",
            {0: [("07:00", "12:00"), ("11:00", "13:00")]},
            "overlap",
        ),
        ("America/Los_Angeles", {0: ["07:00-19:00"]}, "not an ('HH:MM', 'HH:MM') pair"),
        ("America/Los_Angeles", {0: [5]}, "not an ('HH:MM', 'HH:MM') pair"),
        ("America/Los_Angeles", {0: None}, "expected a list of"),
        ("America/Los_Angeles", {7: [("07:00", "19:00")]}, "weekday 7 is not in 0..6"),
        (
            "America/Los_Angeles",
            {-1: [("07:00", "19:00")]},
            "weekday -1 is not in 0..6",
        ),
        ("America/Los_Angeles", {"Mon": [("07:00", "19:00")]}, "not in 0..6"),
        ("Mars/Olympus_Mons", {0: [("07:00", "19:00")]}, "unknown time zone"),
        ("", {0: [("07:00", "19:00")]}, "unknown time zone"),
        ("America/Los_Angeles", {}, "no open hours"),
        ("America/Los_Angeles", {5: []}, "no open hours"),
    ],
)
def test_bad_schedule_is_refused(tz: str, weekly: Weekly, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Schedule(tz, weekly)


def test_holiday_must_be_a_date() -> None:
    with pytest.raises(ValueError, match="is not a date"):
        Schedule("UTC", WEEKDAYS_7_19, [datetime(2026, 1, 1, tzinfo=UTC)])


NAIVE = datetime(2026, 3, 16, 10)  # naive on purpose


@pytest.mark.parametrize(
    "call",
    [
        lambda: business.add(NAIVE, H),
        lambda: business.add(NAIVE, timedelta(0)),
        lambda: business.add_business_days(NAIVE, 1),
        lambda: business.add_business_days(NAIVE, 0),
        lambda: business.elapsed(NAIVE, la(2026, 3, 17)),
        lambda: business.elapsed(la(2026, 3, 17), NAIVE),
        lambda: business.is_open(NAIVE),
        lambda: business.next_open(NAIVE),
        lambda: business.explain(NAIVE, la(2026, 3, 17)),
        lambda: business.holidays_between(NAIVE, la(2026, 3, 17)),
    ],
)
def test_naive_datetime_is_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match="naive"):
        call()


def test_negative_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        business.add(la(2026, 3, 16, 10), -MIN)
    with pytest.raises(ValueError, match="negative"):
        business.add_business_days(la(2026, 3, 16, 10), -1)


def test_schedule_pickles_without_its_tables() -> None:
    business.add(la(2026, 3, 16, 10), H)  # build tables first

    copy = pickle.loads(pickle.dumps(business))

    assert copy.add(la(2026, 11, 25, 18), 2 * H) == la(2026, 11, 30, 8)
    assert copy.holidays == business.holidays


def test_tables_grow_both_ways_and_stay_consistent() -> None:
    schedule = Schedule("America/Los_Angeles", WEEKDAYS_7_19, HOLIDAYS_2026)
    start = la(2026, 3, 16, 10)

    assert schedule.add(start, 12 * H) == la(2026, 3, 17, 10)
    assert schedule.add(la(1999, 3, 16, 10), 12 * H) == la(1999, 3, 17, 10)
    assert schedule.add(start, 12 * H) == la(2026, 3, 17, 10)
    # 15 years of open time: the table doubles forward until it covers the target.
    weeks = 52 * 15
    assert (
        schedule.elapsed(start, schedule.add(start, weeks * 60 * H)) == weeks * 60 * H
    )


def test_business_days_equal_add_on_the_production_calendar_sample() -> None:
    # The property below, on hand-picked instants around each special day.
    for start in [c[2] for c in BUSINESS_DAY_CASES if c[1] is business]:
        for n in (1, 5, 90):
            assert business.add_business_days(start, n) == business.add(
                start, n * 12 * H
            )


# -- reference implementation (slow, second-exact interval walking) --------------------


def reference_intervals(
    schedule: Schedule, weekly: Weekly, holidays: set[date], first: date, last: date
) -> list[tuple[datetime, datetime]]:
    """Walk local dates first..last and return merged open intervals in UTC."""
    zone = schedule.zone

    def wall(day: date, hhmm: str) -> datetime:
        if hhmm == "24:00":
            day, hhmm = day + timedelta(days=1), "00:00"
        return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=zone).astimezone(
            UTC
        )

    merged: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day not in holidays:
            midnight, next_midnight = wall(day, "00:00"), wall(day, "24:00")
            spans = sorted(
                (max(wall(day, a), midnight), min(wall(day, b), next_midnight))
                for a, b in weekly.get(day.weekday(), ())
            )
            for a, b in spans:
                if a >= b:
                    continue
                if merged and a <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
                else:
                    merged.append((a, b))
        day += timedelta(days=1)
    return merged


def reference_add(
    intervals: list[tuple[datetime, datetime]], start: datetime, duration: timedelta
) -> datetime:
    start, remaining = utc(start), duration
    for a, b in intervals:
        if b <= start:
            continue
        a = max(a, start)
        if remaining == timedelta(0) or b - a >= remaining:
            return a + remaining
        remaining -= b - a
    raise AssertionError("reference window too short")


def reference_elapsed(
    intervals: list[tuple[datetime, datetime]], start: datetime, end: datetime
) -> timedelta:
    start, end = utc(start), utc(end)
    if end < start:
        return -reference_elapsed(intervals, end, start)
    total = timedelta(0)
    for a, b in intervals:
        overlap = min(b, end) - max(a, start)
        if overlap > timedelta(0):
            total += overlap
    return total


def reference_business_days(
    schedule: Schedule,
    intervals: list[tuple[datetime, datetime]],
    start: datetime,
    n: int,
) -> datetime:
    """SPEC §3.1 business days, walked one local date at a time."""
    zone = schedule.zone

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)

    def length(day: date) -> timedelta:
        return reference_elapsed(intervals, midnight(day), midnight(day + timedelta(1)))

    def nth_working_day(day: date, count: int) -> date:
        while count:
            day += timedelta(days=1)
            if length(day):
                count -= 1
        return day

    day = start.astimezone(zone).date()
    offset = reference_elapsed(intervals, midnight(day), start)
    if offset:
        target = nth_working_day(day, n)
        offset = min(offset, length(target))
    else:
        opening = reference_add(intervals, start, timedelta(0))
        target = nth_working_day(opening.astimezone(zone).date(), n - 1)
        offset = length(target)
    return reference_add(intervals, midnight(target), offset)


# -- properties ------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/Los_Angeles",
    "Europe/London",
    "Africa/Cairo",
    "America/Santiago",
    "Australia/Lord_Howe",  # 30-minute DST at 02:00
    "Asia/Kolkata",
]
# Clock changes of 2026 in those zones, to aim instants at.
TRANSITIONS = [
    datetime(2026, 3, 8, 10, tzinfo=UTC),
    datetime(2026, 11, 1, 9, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 10, 25, 1, tzinfo=UTC),
    datetime(2026, 4, 23, 22, tzinfo=UTC),
    datetime(2026, 10, 29, 21, tzinfo=UTC),
    datetime(2026, 4, 5, 3, tzinfo=UTC),
    datetime(2026, 9, 6, 4, tzinfo=UTC),
    datetime(2026, 4, 4, 15, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]


@st.composite
def day_intervals(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Draw up to two sorted intervals on a half-hour grid (touching allowed)."""
    bounds = sorted(draw(st.lists(st.integers(0, 48), max_size=4)))
    result = []
    for a, b in zip(bounds[::2], bounds[1::2], strict=False):
        if a < b and (not result or a >= result[-1][1]):
            result.append((a, b))
    return [
        (f"{a // 2:02d}:{a % 2 * 30:02d}", f"{b // 2:02d}:{b % 2 * 30:02d}")
        for a, b in result
    ]


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Schedule, Weekly, set[date]]:
    tz = draw(st.sampled_from(ZONES))
    weekly = {day: draw(day_intervals()) for day in range(7)}
    assume(any(weekly.values()))
    holidays = set(
        draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=8))
    )
    return Schedule(tz, weekly, holidays), weekly, holidays


instants = st.one_of(
    st.datetimes(datetime(2025, 12, 1), datetime(2027, 1, 31), timezones=st.just(UTC)),
    st.builds(
        lambda at, shift: at + shift,
        st.sampled_from(TRANSITIONS),
        st.timedeltas(timedelta(days=-2), timedelta(days=2)),
    ),
)


def minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:])


def weekly_open_time(weekly: Weekly) -> timedelta:
    return MIN * sum(
        minutes(b) - minutes(a) for intervals in weekly.values() for a, b in intervals
    )


def reference_window(
    drawn: tuple[Schedule, Weekly, set[date]], start: datetime
) -> list[tuple[datetime, datetime]]:
    """Return reference intervals from two days before `start` to 200 days after.

    Durations drawn below are at most three weeks of open time; the holidays (8 at
    most) cannot stretch that, or 12 business days, past 200 days.
    """
    schedule, weekly, holidays = drawn
    day = start.astimezone(schedule.zone).date()
    return reference_intervals(
        schedule, weekly, holidays, day - timedelta(days=2), day + timedelta(days=200)
    )


PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the tree
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(drawn=schedules(), start=instants, fraction=st.floats(0, 3), data=st.data())
def test_add_and_elapsed_agree_with_reference(
    drawn: tuple[Schedule, Weekly, set[date]],
    start: datetime,
    fraction: float,
    data: st.DataObject,
) -> None:
    schedule, weekly, _ = drawn
    duration = timedelta(
        microseconds=int(
            weekly_open_time(weekly) / timedelta(microseconds=1) * fraction
        )
    )
    start = start.astimezone(data.draw(st.sampled_from([UTC, LA, BERLIN, CAIRO])))
    intervals = reference_window(drawn, start)

    result = schedule.add(start, duration)

    assert utc(result) == reference_add(intervals, start, duration)
    assert result.tzinfo == schedule.zone
    assert schedule.elapsed(start, result) == duration
    end = start + data.draw(st.timedeltas(timedelta(days=-1), timedelta(days=140)))
    assert schedule.elapsed(start, end) == reference_elapsed(intervals, start, end)
    assert schedule.is_open(start) == any(a <= start < b for a, b in intervals)
    assert utc(schedule.next_open(start)) == reference_add(
        intervals, start, timedelta(0)
    )
    counted = schedule.explain(start, result)
    assert sum((utc(b) - utc(a) for a, b in counted), timedelta(0)) == duration


@PROPERTY_SETTINGS
@given(drawn=schedules(), start=instants, n=st.integers(0, 12))
def test_business_days_agree_with_reference(
    drawn: tuple[Schedule, Weekly, set[date]], start: datetime, n: int
) -> None:
    schedule = drawn[0]
    intervals = reference_window(drawn, start)

    result = schedule.add_business_days(start, n)

    if n == 0:
        assert utc(result) == utc(start)
    else:
        assert utc(result) == reference_business_days(schedule, intervals, start, n)


@PROPERTY_SETTINGS
@given(
    drawn=schedules(), starts=st.lists(instants, min_size=2, max_size=2), data=st.data()
)
def test_add_is_monotonic(
    drawn: tuple[Schedule, Weekly, set[date]],
    starts: list[datetime],
    data: st.DataObject,
) -> None:
    schedule, weekly, _ = drawn
    limit = weekly_open_time(weekly) * 2
    durations = sorted(data.draw(st.timedeltas(timedelta(0), limit)) for _ in range(2))
    early, late = sorted(starts)

    first = utc(schedule.add(early, durations[0]))

    assert first <= utc(schedule.add(late, durations[0]))
    assert first <= utc(schedule.add(early, durations[1]))
    days = utc(schedule.add_business_days(early, 3))
    assert days <= utc(schedule.add_business_days(late, 3))


@PROPERTY_SETTINGS
@given(
    start=st.datetimes(
        datetime(2025, 6, 1), datetime(2027, 6, 1), timezones=st.just(LA)
    ),
    n=st.integers(1, 130),
)
def test_business_days_equal_add_when_days_are_equal(start: datetime, n: int) -> None:
    assert business.add_business_days(start, n) == business.add(start, n * 12 * H)
    assert london.add_business_days(start, n) == london.add(start, n * 9 * H)
    # US clocks change on Sundays, so every 24x5 day in Los Angeles is 24 h long.
    assert la_24x5.add_business_days(start, n) == la_24x5.add(start, n * 24 * H)


def test_is_always_only_for_every_minute_of_every_day_without_holidays():
    every_day = {day: [("00:00", "24:00")] for day in range(7)}
    assert Schedule.always().is_always
    assert Schedule("America/Los_Angeles", every_day).is_always
    assert not Schedule.weekdays("UTC").is_always
    assert not Schedule("UTC", every_day, holidays=[date(2026, 12, 25)]).is_always


def test_always_and_weekdays_are_shared_and_build_their_tables_once():
    # A fresh 24x7 schedule per call built three years of table on its first query
    # (3-11 ms of every due_for): the shared one builds it once per process.
    assert Schedule.always() is Schedule.always()
    assert Schedule.weekdays("Europe/London") is Schedule.weekdays("Europe/London")
    assert Schedule.weekdays("Europe/London") is not Schedule.weekdays("Africa/Cairo")
    start = datetime(2026, 3, 7, 12, tzinfo=UTC)
    Schedule.always().add(start, H)
    table = Schedule.always()._t

    for hour in range(500):
        Schedule.always().add(start + hour * H, 30 * MIN)
        Schedule.always().elapsed(start, start + hour * H)

    assert Schedule.always()._t is table
    assert Schedule.always().add(start, 24 * H) == start + 24 * H
