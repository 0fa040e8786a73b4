"""helpdesk.slo.pending_alerts: which thresholds a sweep records, and the next one."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from helpdesk import slo
from policies.business_time import Schedule

ALWAYS = Schedule.always()
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
TWO_HOURS = timedelta(hours=2)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def test_the_thresholds_reached_by_now_and_the_next_one():
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, (), (), minutes(100)) == (
        [(75, minutes(90))],
        90,
        minutes(108),
    )


def test_alerted_thresholds_are_skipped():
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, (), {75}, minutes(100)) == (
        [],
        90,
        minutes(108),
    )
    assert slo.pending_alerts(
        ALWAYS, T0, TWO_HOURS, (), {75, 90, 100}, minutes(500)
    ) == (
        [],
        None,
        None,
    )


def test_a_late_sweep_records_every_threshold_passed_in_order():
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, (), (), minutes(121)) == (
        [(75, minutes(90)), (90, minutes(108)), (100, minutes(120))],
        None,
        None,
    )


def test_without_now_it_returns_the_next_alert():
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, (), ()) == ([], 75, minutes(90))


def test_pauses_move_the_thresholds_and_an_open_one_stops_them():
    closed = [(minutes(30), minutes(60))]
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, closed, (), minutes(100)) == (
        [],
        75,
        minutes(120),
    )
    still_open = [(minutes(100), None)]
    assert slo.pending_alerts(ALWAYS, T0, TWO_HOURS, still_open, (), minutes(200)) == (
        [(75, minutes(90))],
        None,
        None,
    )


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
        _, pct, when = slo.pending_alerts(schedule, start, target, (), {75, 90})
        assert pct == 100
        # The engine's own answer, in UTC: an ambiguous local time (the repeated
        # hour in November) never equals an instant of another zone (PEP 495).
        assert when == schedule.add(start, target).astimezone(UTC)
        assert when - start == target  # aware subtraction: absolute time


@given(
    start_minutes=st.integers(0, 60 * 24 * 14),
    target_minutes=st.integers(1, 60 * 40),
    pause=st.none() | st.tuples(st.integers(0, 60 * 24 * 7), st.integers(0, 60 * 48)),
    alerted=st.sets(st.sampled_from(slo.THRESHOLDS)),
    now_minutes=st.integers(0, 60 * 24 * 21),
)
def test_it_agrees_with_counted_until_on_a_business_calendar(
    start_minutes, target_minutes, pause, alerted, now_minutes
):
    """Mon-Fri 09-17 in Los Angeles, across the November DST change: every instant
    is counted_until's, each threshold either reached or the next."""
    schedule = Schedule(
        "America/Los_Angeles", {day: [("09:00", "17:00")] for day in range(5)}
    )
    base = datetime(2026, 10, 26, 0, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    start = base + timedelta(minutes=start_minutes)
    target = timedelta(minutes=target_minutes)
    pauses = []
    if pause is not None:
        pause_start = start + timedelta(minutes=pause[0])
        pauses = [(pause_start, pause_start + timedelta(minutes=pause[1]))]
    now = base + timedelta(minutes=now_minutes)

    reached, next_pct, next_at = slo.pending_alerts(
        schedule, start, target, pauses, alerted, now
    )

    expected = []
    for pct in slo.THRESHOLDS:
        if pct in alerted:
            continue
        when = slo.counted_until(schedule, start, target * pct / 100, pauses)
        expected.append((pct, when))
    assert reached == [(pct, when) for pct, when in expected if when <= now]
    later = [(pct, when) for pct, when in expected if when > now]
    assert (next_pct, next_at) == (later[0] if later else (None, None))
