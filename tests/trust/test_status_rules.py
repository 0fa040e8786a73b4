"""Component state derivation and uptime maths (pure: no database)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from helpdesk.trust import uptime
from helpdesk.trust.status import State, component_state, overall_state
from helpdesk.trust.uptime import Interval

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("impacts", "in_maintenance", "expected"),
    [
        ([], False, State.OPERATIONAL),
        ([], True, State.UNDER_MAINTENANCE),
        (["minor"], False, State.DEGRADED),
        (["minor"], True, State.DEGRADED),  # an incident outranks maintenance
        (["minor", "major"], False, State.PARTIAL_OUTAGE),
        (["critical", "minor"], True, State.MAJOR_OUTAGE),
    ],
)
def test_component_state_is_the_worst_of_its_incidents_and_maintenance(
    impacts, in_maintenance, expected
):
    assert component_state(impacts, in_maintenance=in_maintenance) == expected


def test_the_page_headline_is_the_worst_component():
    state, sentence = overall_state([State.OPERATIONAL, State.DEGRADED])
    assert (state, sentence) == (State.DEGRADED, "Some systems are degraded")
    assert overall_state([])[1] == "All systems operational"


def test_a_window_crossing_midnight_counts_on_both_days():
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    down = [
        Interval(
            datetime(2026, 3, 1, 23, tzinfo=UTC),
            datetime(2026, 3, 2, 1, 30, tzinfo=UTC),
            State.PARTIAL_OUTAGE,
        )
    ]
    days = uptime.history(down, [], zone=ZoneInfo("UTC"), now=now, days=4)
    assert [d.day for d in days] == [date(2026, 3, d) for d in (1, 2, 3, 4)]
    assert [d.down_seconds for d in days] == [3600.0, 5400.0, 0.0, 0.0]
    assert days[0].uptime == pytest.approx(1 - 1 / 24)
    assert days[1].uptime_percent == "93.75%"
    assert [d.state for d in days] == [
        State.PARTIAL_OUTAGE,
        State.PARTIAL_OUTAGE,
        State.OPERATIONAL,
        State.OPERATIONAL,
    ]


def test_maintenance_crossing_midnight_is_shown_but_not_counted_as_downtime():
    now = datetime(2026, 3, 3, tzinfo=UTC)
    window = [
        Interval(
            datetime(2026, 3, 1, 22, tzinfo=UTC),
            datetime(2026, 3, 2, 2, tzinfo=UTC),
            State.UNDER_MAINTENANCE,
        )
    ]
    days = uptime.history([], window, zone=ZoneInfo("UTC"), now=now, days=3)
    assert [d.maintenance_seconds for d in days] == [7200.0, 7200.0, 0.0]
    assert [d.down_seconds for d in days] == [0.0, 0.0, 0.0]
    assert days[0].state == State.UNDER_MAINTENANCE


def test_a_dst_change_makes_a_23_hour_day_and_the_outage_share_follows():
    # Europe/London springs forward on Sunday 29 March 2026: 23 hours long.
    now = datetime(2026, 3, 31, 12, tzinfo=UTC)
    # 00:00 to 03:00 local on the 29th is 00:00 to 02:00 UTC: two real hours.
    start = datetime(2026, 3, 29, 0, tzinfo=LONDON)
    end = datetime(2026, 3, 29, 3, tzinfo=LONDON)
    days = uptime.history(
        [Interval(start, end, State.MAJOR_OUTAGE)], [], zone=LONDON, now=now, days=3
    )
    by_day = {d.day: d for d in days}
    dst_day = by_day[date(2026, 3, 29)]
    assert dst_day.seconds == 23 * 3600
    assert dst_day.down_seconds == 2 * 3600
    assert dst_day.uptime == pytest.approx(1 - 2 / 23)
    assert by_day[date(2026, 3, 30)].seconds == 24 * 3600


def test_the_autumn_change_makes_a_25_hour_day():
    now = datetime(2026, 10, 26, 12, tzinfo=UTC)
    day = uptime.history([], [], zone=LONDON, now=now, days=2)[0]
    assert (day.day, day.seconds, day.uptime) == (date(2026, 10, 25), 25 * 3600, 1.0)


def test_an_open_incident_counts_until_now_and_overlaps_count_once():
    now = datetime(2026, 5, 1, 6, tzinfo=UTC)
    incidents = [
        Interval(datetime(2026, 5, 1, 1, tzinfo=UTC), None, State.DEGRADED),
        Interval(
            datetime(2026, 5, 1, 2, tzinfo=UTC),
            datetime(2026, 5, 1, 4, tzinfo=UTC),
            State.MAJOR_OUTAGE,
        ),
    ]
    (today,) = uptime.history(incidents, [], zone=ZoneInfo("UTC"), now=now, days=1)
    assert today.down_seconds == 5 * 3600  # 01:00 to now (06:00), once
    assert today.state == State.MAJOR_OUTAGE


def test_ninety_days_end_today_and_uptime_over_weights_by_day_length():
    now = datetime(2026, 11, 28, 10, tzinfo=UTC)
    outage = Interval(
        now - timedelta(hours=24 * 10), now - timedelta(hours=24 * 10 - 6)
    )
    days = uptime.history([outage], [], zone=ZoneInfo("UTC"), now=now)
    assert len(days) == 90
    assert days[-1].day == date(2026, 11, 28)
    assert days[0].day == date(2026, 8, 31)
    total = sum(d.seconds for d in days)
    assert uptime.uptime_over(days) == pytest.approx(1 - 6 * 3600 / total)
