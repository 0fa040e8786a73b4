"""Every policy pack's table, through policies.slo.due_for, at explicit instants."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from policies.loader import load_policy_packs
from policies.models import SupportPlan
from policies.slo import due_for
from tests.policies.factories import (
    BusinessCalendarFactory,
    SeverityFactory,
    SLOTargetFactory,
    SupportPlanFactory,
)

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
MT = ZoneInfo("America/Denver")


def pt(*args) -> datetime:
    return datetime(*args, tzinfo=PT)


def mt(*args) -> datetime:
    return datetime(*args, tzinfo=MT)


@pytest.fixture
def packs():
    load_policy_packs()


def _due(slug: str, level: int | None, opened_at: datetime):
    plan = SupportPlan.objects.get(slug=slug)
    severity = plan.severities.get(level=level) if level else None
    return due_for(plan, severity, opened_at)


# (plan, severity level or None, opened at, first response due, resolution due)
PACK_TABLE = [
    # Janrain Platinum: Sev1/Sev2 on 24x7, Sev3 in business days on 24x5 Pacific.
    (
        "janrain-platinum",
        1,
        pt(2026, 3, 7, 10),
        pt(2026, 3, 7, 10, 30),
        pt(2026, 3, 7, 14),
    ),
    # 4 h of elapsed time across the spring-forward night: 23:30 PST + 4 h = 04:30 PDT.
    (
        "janrain-platinum",
        2,
        pt(2026, 3, 7, 23, 30),
        pt(2026, 3, 8, 0, 30),
        pt(2026, 3, 8, 4, 30),
    ),
    # Open Friday 10:00: the same offset into the next working day, across DST.
    (
        "janrain-platinum",
        3,
        pt(2026, 3, 6, 10),
        pt(2026, 3, 9, 10),
        pt(2026, 3, 13, 10),
    ),
    # Closed (Saturday): close of the 1st / 5th working day counting Monday as first.
    ("janrain-platinum", 3, pt(2026, 3, 7, 10), pt(2026, 3, 10, 0), pt(2026, 3, 14, 0)),
    # No severity given: the plan default, Severity 3.
    (
        "janrain-platinum",
        None,
        pt(2026, 3, 7, 10),
        pt(2026, 3, 10, 0),
        pt(2026, 3, 14, 0),
    ),
    # Iron.io Limited: 48 h elapsed, whatever the hour; across the fall-back night.
    ("ironio-limited", None, pt(2026, 10, 30, 12), pt(2026, 11, 1, 11), None),
    # Iron.io Standard: 24 business hours on Mon-Fri 07-19 = two days; off hours 24 h.
    ("ironio-standard", None, pt(2026, 3, 6, 10), pt(2026, 3, 10, 10), None),
    ("ironio-standard", None, pt(2026, 3, 9, 7), pt(2026, 3, 10, 19), None),
    ("ironio-standard", None, pt(2026, 3, 6, 20), pt(2026, 3, 7, 20), None),
    ("ironio-standard", None, pt(2026, 3, 6, 19), pt(2026, 3, 7, 19), None),  # at close
    # Iron.io Premium: 1 business hour on 06-21; off hours 6 h.
    ("ironio-premium", None, pt(2026, 11, 3, 10), pt(2026, 11, 3, 11), None),
    ("ironio-premium", None, pt(2026, 3, 6, 20, 30), pt(2026, 3, 9, 6, 30), None),
    ("ironio-premium", None, pt(2026, 3, 6, 21), pt(2026, 3, 7, 3), None),
    ("ironio-premium", None, pt(2026, 3, 6, 22), pt(2026, 3, 7, 4), None),
    # Iron.io 24/7: 1 h in Premium hours, 3 h on weekends and 21:00-06:00 PT.
    ("ironio-247", None, pt(2026, 3, 11, 10), pt(2026, 3, 11, 11), None),
    ("ironio-247", None, pt(2026, 3, 11, 5, 30), pt(2026, 3, 11, 8, 30), None),
    ("ironio-247", None, pt(2026, 3, 7, 10), pt(2026, 3, 7, 13), None),
    ("ironio-247", None, pt(2026, 3, 11, 20, 30), pt(2026, 3, 11, 21, 30), None),
    # JumpCloud: 1 / 4 / 8 business hours on Mon-Fri 09-17 Mountain.
    ("jumpcloud", 1, mt(2026, 3, 6, 16, 30), mt(2026, 3, 9, 9, 30), None),
    ("jumpcloud", 2, pt(2026, 3, 6, 10), mt(2026, 3, 6, 15), None),
    ("jumpcloud", 3, mt(2026, 11, 2, 9), mt(2026, 11, 2, 17), None),  # ends at close
    ("jumpcloud", 3, mt(2026, 3, 7, 12), mt(2026, 3, 9, 17), None),
    ("jumpcloud", None, mt(2026, 3, 7, 12), mt(2026, 3, 9, 17), None),
    # Jelastic: 2 / 6 / 12 / 24 h on 24x7; 24 h is elapsed time (SPEC's DST example).
    ("jelastic", 1, pt(2026, 3, 7, 12), pt(2026, 3, 7, 14), None),
    ("jelastic", 2, pt(2026, 3, 7, 12), pt(2026, 3, 7, 18), None),
    ("jelastic", 3, pt(2026, 3, 7, 12), pt(2026, 3, 8, 0), None),
    ("jelastic", 4, pt(2026, 3, 7, 12), pt(2026, 3, 8, 13), None),
    ("jelastic", None, pt(2026, 3, 7, 12), pt(2026, 3, 8, 13), None),
]


@pytest.mark.parametrize(
    ("slug", "level", "opened_at", "response_due", "resolution_due"), PACK_TABLE
)
def test_pack_targets(packs, slug, level, opened_at, response_due, resolution_due):
    due = _due(slug, level, opened_at)

    assert due.first_response_due_at == response_due
    assert due.resolution_due_at == resolution_due
    assert due.first_response_due_at.tzinfo is not None


def test_off_hours_is_flagged_and_explained(packs):
    opened_at = pt(2026, 3, 6, 22)
    due = _due("ironio-premium", None, opened_at)

    [clock] = due.explain(opened_at)

    assert due.is_off_hours
    assert "outside business hours" in clock.rule
    assert clock.intervals == [(opened_at, pt(2026, 3, 7, 4))]


def test_explanation_lists_the_counted_intervals_and_skips_the_weekend(packs):
    opened_at = pt(2026, 3, 6, 10)
    due = _due("ironio-standard", None, opened_at)

    [clock] = due.explain(opened_at)

    assert clock.calendar.slug == "ironio-standard-hours"
    assert [(s.astimezone(PT), e.astimezone(PT)) for s, e in clock.intervals] == [
        (pt(2026, 3, 6, 10), pt(2026, 3, 6, 19)),
        (pt(2026, 3, 9, 7), pt(2026, 3, 9, 19)),
        (pt(2026, 3, 10, 7), pt(2026, 3, 10, 10)),
    ]
    assert clock.counted.total_seconds() == 24 * 3600


def test_holidays_are_skipped_and_named_in_the_explanation():
    calendar = BusinessCalendarFactory(time_zone="America/Los_Angeles")
    for weekday in range(5):
        calendar.hours.create(weekday=weekday, opens="07:00", closes="19:00")
    calendar.holidays.create(date=datetime(2026, 11, 26).date(), name="Thanksgiving")
    target = SLOTargetFactory(response_minutes=8 * 60, response_calendar=calendar)
    opened_at = pt(2026, 11, 25, 15)

    due = due_for(target.plan, None, opened_at)
    [clock] = due.explain(opened_at)

    assert due.first_response_due_at == pt(2026, 11, 27, 11)
    assert [d.isoformat() for d in clock.holidays] == ["2026-11-26"]


def test_a_naive_opening_instant_is_refused(packs):
    plan = SupportPlan.objects.get(slug="jelastic")

    with pytest.raises(ValueError, match="naive"):
        due_for(plan, None, datetime(2026, 3, 7, 12))


def test_a_severity_of_another_plan_is_refused(packs):
    jelastic = SupportPlan.objects.get(slug="jelastic")
    janrain_sev1 = SupportPlan.objects.get(slug="janrain-platinum").severities.get(
        level=1
    )

    with pytest.raises(ValueError, match="not a severity of"):
        due_for(jelastic, janrain_sev1, pt(2026, 3, 7, 12))


def test_a_plan_without_targets_has_no_due_instants():
    plan = SupportPlanFactory()

    due = due_for(plan, None, pt(2026, 3, 7, 12))

    assert due.first_response_due_at is None
    assert due.resolution_due_at is None


def test_a_severity_without_its_own_target_uses_the_plan_wide_one():
    target = SLOTargetFactory(response_minutes=90)
    severity = SeverityFactory(plan=target.plan, level=2)

    due = due_for(target.plan, severity, pt(2026, 3, 7, 12))

    assert due.first_response_due_at == pt(2026, 3, 7, 13, 30)
