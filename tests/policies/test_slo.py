"""Every policy pack's table, through policies.slo.due_for, at explicit instants."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from policies import revisions
from policies.loader import load_policy_packs
from policies.models import BusinessCalendar, OpeningHours, SLOTarget, SupportPlan
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
    # Iron.io Standard: 24 h in and out of hours, so wall-clock time (issue 15 §4:
    # as 24 business hours it inverted, a ticket at 18:59 due after one at 19:01).
    ("ironio-standard", None, pt(2026, 3, 6, 10), pt(2026, 3, 7, 10), None),
    ("ironio-standard", None, pt(2026, 3, 9, 7), pt(2026, 3, 10, 7), None),
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
    opened_at = mt(2026, 3, 6, 15)
    due = _due("jumpcloud", 2, opened_at)  # 4 business hours on Mon-Fri 09-17

    clock = due.explain(opened_at)[0]

    assert clock.calendar.slug == "jumpcloud-hours"
    assert [(s.astimezone(MT), e.astimezone(MT)) for s, e in clock.intervals] == [
        (mt(2026, 3, 6, 15), mt(2026, 3, 6, 17)),
        (mt(2026, 3, 9, 9), mt(2026, 3, 9, 11)),
    ]
    assert clock.counted.total_seconds() == 4 * 3600


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


# --- the policy a ticket reads, and the schedules cached per calendar version -------


@pytest.mark.parametrize(
    ("slug", "level", "opened_at"),
    [
        ("janrain-platinum", 3, pt(2026, 3, 6, 10)),  # 24x5, business days
        ("janrain-platinum", 1, pt(2026, 3, 6, 10)),  # 24x7
        ("ironio-premium", None, pt(2026, 3, 6, 22)),  # off hours: its hours too
        ("ironio-premium", None, pt(2026, 3, 6, 10)),
        ("jumpcloud", 2, mt(2026, 3, 6, 16)),
    ],
)
def test_due_for_reads_the_policy_in_one_query(
    packs, django_assert_num_queries, slug, level, opened_at
):
    _due(slug, level, opened_at)  # builds this process's schedules
    plan = SupportPlan.objects.get(slug=slug)
    severity = plan.severities.get(level=level) if level else None

    # The targets with their calendars, the plan's hours and the policy version:
    # no calendar's opening hours or holidays are read again, whatever the plan.
    with django_assert_num_queries(1):
        due = due_for(plan, severity, opened_at)

    assert due == _due(slug, level, opened_at)
    assert due.target.policy_version == (
        due.target.history.order_by("-history_id").first().history_id
    )


def test_a_calendar_edit_is_seen_by_the_next_due_instant(packs):
    friday_4pm = mt(2026, 3, 6, 16)  # JumpCloud Sev2: 4 business hours, 09-17 MT
    assert _due("jumpcloud", 2, friday_4pm).first_response_due_at == mt(2026, 3, 9, 12)
    calendar = SupportPlan.objects.get(slug="jumpcloud").targets.first()
    calendar = calendar.response_calendar

    monday = calendar.hours.get(weekday=0)
    monday.opens = "10:00"
    monday.save()
    assert _due("jumpcloud", 2, friday_4pm).first_response_due_at == mt(2026, 3, 9, 13)

    calendar.holidays.create(date=date(2026, 3, 9), name="Closed Monday")
    assert _due("jumpcloud", 2, friday_4pm).first_response_due_at == mt(2026, 3, 10, 12)

    calendar.holidays.get(date=date(2026, 3, 9)).delete()
    monday.delete()
    assert _due("jumpcloud", 2, friday_4pm).first_response_due_at == mt(2026, 3, 10, 12)


def test_another_processs_calendar_edit_is_seen_through_the_calendar_version(
    packs, django_assert_num_queries
):
    """Another process's edit reaches this one only through the rows: the hours and
    the calendar's updated_at, which its signal handlers move in the same
    transaction. Changed rows under an unchanged version keep the cached schedule:
    the version is all a ticket checks, in the calendar row it loads anyway."""
    friday_4pm = mt(2026, 3, 6, 16)
    plan = SupportPlan.objects.get(slug="jumpcloud")
    level_2 = plan.severities.get(level=2)
    due_for(plan, level_2, friday_4pm)
    calendar = plan.targets.first().response_calendar
    # What another process's edit leaves behind, without this process's signals.
    OpeningHours.objects.filter(calendar=calendar, weekday=0).update(opens="10:00")

    with django_assert_num_queries(1):
        stale = due_for(plan, level_2, friday_4pm).first_response_due_at
    assert stale == mt(2026, 3, 9, 12)

    BusinessCalendar.objects.filter(pk=calendar.pk).update(
        updated_at=calendar.updated_at + timedelta(seconds=1)
    )
    # The target, then once the calendar's hours, holidays and version.
    with django_assert_num_queries(4):
        fresh = due_for(plan, level_2, friday_4pm).first_response_due_at
    assert fresh == mt(2026, 3, 9, 13)
    with django_assert_num_queries(1):
        assert due_for(plan, level_2, friday_4pm).first_response_due_at == fresh


# --- the targets, built once per policy version, never served stale ---------------


def test_the_targets_are_built_once_per_version_and_each_call_gets_its_own(
    packs, django_assert_num_queries
):
    plan = SupportPlan.objects.get(slug="janrain-platinum")
    level_1 = plan.severities.get(level=1)
    first = due_for(plan, level_1, pt(2026, 3, 6, 10))

    with django_assert_num_queries(1):
        again = due_for(plan, level_1, pt(2026, 3, 6, 10))

    assert again == first
    assert again.target is not first.target
    assert again.target.response_calendar is first.target.response_calendar
    again.target.response_minutes = 1  # a caller's change stays its own
    assert due_for(plan, level_1, pt(2026, 3, 6, 10)) == first


def test_a_target_edited_by_another_process_is_seen_by_the_next_due_instant(packs):
    """Another process's edit reaches this one only through the rows (no signal
    here): the rows are read in every filing's transaction, so the cached targets
    of the old version are never served."""
    plan = SupportPlan.objects.get(slug="janrain-platinum")
    level_1 = plan.severities.get(level=1)
    before = due_for(plan, level_1, pt(2026, 3, 6, 10))
    assert before.first_response_due_at == pt(2026, 3, 6, 10, 30)

    SLOTarget.objects.filter(pk=before.target.pk).update(response_minutes=45)
    after = due_for(plan, level_1, pt(2026, 3, 6, 10))

    assert after.first_response_due_at == pt(2026, 3, 6, 10, 45)
    assert after.target.response_minutes == 45
    SLOTarget.objects.filter(pk=before.target.pk).update(response_minutes=30)
    assert due_for(plan, level_1, pt(2026, 3, 6, 10)) == before


def test_a_plan_revision_made_live_is_seen_by_the_next_due_instant(packs):
    plan = SupportPlan.objects.get(slug="janrain-platinum")
    level_1 = plan.severities.get(level=1)
    before = due_for(plan, level_1, pt(2026, 3, 6, 10))
    content = revisions.snapshot(plan)
    [sev1] = [t for t in content["targets"] if t["severity"] == 1]
    sev1["response_minutes"], sev1["resolution_minutes"] = 60, 480

    revisions.write_plan(plan, content)  # what applying a due revision does
    after = due_for(plan, level_1, pt(2026, 3, 6, 10))

    assert after.first_response_due_at == pt(2026, 3, 6, 11)
    assert after.resolution_due_at == pt(2026, 3, 6, 18)
    assert after.target.policy_version > before.target.policy_version
    assert after.target.policy_version == (
        after.target.history.order_by("-history_id").first().history_id
    )


def test_a_target_moved_to_another_calendar_or_a_calendar_moved_to_another_zone(
    packs,
):
    """The calendars come with the target rows: a calendar's zone changed without
    this process's signals (another process's update) still counts at once."""
    friday_4pm = mt(2026, 3, 6, 16)  # JumpCloud Sev2: 4 business hours, 09-17 MT
    plan = SupportPlan.objects.get(slug="jumpcloud")
    level_2 = plan.severities.get(level=2)
    before = due_for(plan, level_2, friday_4pm)
    assert before.first_response_due_at == mt(2026, 3, 9, 12)
    calendar = before.target.response_calendar

    BusinessCalendar.objects.filter(pk=calendar.pk).update(time_zone="America/New_York")
    # 16:00 MT is 18:00 in New York, after closing: Monday 09:00-13:00 ET.
    assert due_for(plan, level_2, friday_4pm).first_response_due_at == mt(
        2026, 3, 9, 11
    )

    always = BusinessCalendar.objects.get(slug="24x7")
    SLOTarget.objects.filter(pk=before.target.pk).update(response_calendar=always)
    assert due_for(plan, level_2, friday_4pm).first_response_due_at == mt(
        2026, 3, 6, 20
    )
