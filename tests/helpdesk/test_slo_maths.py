"""helpdesk.slo.alert_instants: when a clock reaches 75, 90 and 100 % of its target."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from helpdesk import slo
from policies.business_time import Schedule

ALWAYS = Schedule.always()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TWO_HOURS = timedelta(hours=2)
# Hypothesis fails an example that runs past 200 ms by default: a wall-clock assertion
# that a shared machine turns red at random.
NO_DEADLINE = settings(deadline=None)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_the_three_instants_of_a_24x7_clock():
    assert slo.alert_instants(ALWAYS, T0, TWO_HOURS) == {
        75: minutes(90),
        90: minutes(108),
        100: minutes(120),
    }


def test_pauses_move_the_instants_and_an_open_one_stops_those_after_it():
    closed = [(minutes(30), minutes(60))]
    assert slo.alert_instants(ALWAYS, T0, TWO_HOURS, closed) == {
        75: minutes(120),
        90: minutes(138),
        100: minutes(150),
    }
    still_open = [(minutes(100), None)]
    assert slo.alert_instants(ALWAYS, T0, TWO_HOURS, still_open) == {
        75: minutes(90),
        90: None,
        100: None,
    }


@NO_DEADLINE
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1),
        max_value=datetime(2027, 1, 1),
        timezones=st.just(ZoneInfo("America/Los_Angeles")),
    ),
    target_minutes=st.integers(1, 60 * 24 * 3),
)
def test_24x7_clocks_count_absolute_time_across_dst(start, target_minutes):
    target = timedelta(minutes=target_minutes)
    every_day_in_la = Schedule(
        "America/Los_Angeles", {day: [("00:00", "24:00")] for day in range(7)}
    )
    for schedule in (ALWAYS, every_day_in_la):
        when = slo.alert_instants(schedule, start, target)[100]
        # The engine's own answer, in UTC: an ambiguous local time (the repeated
        # hour in November) never equals an instant of another zone (PEP 495).
        assert when == schedule.add(start, target).astimezone(UTC)
        assert when - start == target  # aware subtraction: absolute time


@NO_DEADLINE
@given(
    start_minutes=st.integers(0, 60 * 24 * 14),
    target_minutes=st.integers(1, 60 * 40),
    pause=st.none() | st.tuples(st.integers(0, 60 * 24 * 7), st.integers(0, 60 * 48)),
    still_paused=st.booleans(),
)
def test_it_agrees_with_counted_until_on_a_business_calendar(
    start_minutes, target_minutes, pause, still_paused
):
    """Mon-Fri 09-17 in Los Angeles, across the November DST change: every instant
    is counted_until's, and the 100% one is the due instant."""
    schedule = Schedule(
        "America/Los_Angeles", {day: [("09:00", "17:00")] for day in range(5)}
    )
    base = datetime(2026, 10, 26, 0, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    start = base + timedelta(minutes=start_minutes)
    target = timedelta(minutes=target_minutes)
    pauses = []
    if pause is not None:
        pause_start = start + timedelta(minutes=pause[0])
        pause_end = None if still_paused else pause_start + timedelta(minutes=pause[1])
        pauses = [(pause_start, pause_end)]

    instants = slo.alert_instants(schedule, start, target, pauses)

    assert instants == {
        pct: slo.counted_until(schedule, start, target * pct / 100, pauses)
        for pct in slo.THRESHOLDS
    }
    assert instants[100] == slo.counted_until(schedule, start, target, pauses)
