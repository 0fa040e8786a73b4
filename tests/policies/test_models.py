from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from policies.models import BusinessCalendar, SLOTarget
from tests.policies.factories import (
    BusinessCalendarFactory,
    OpeningHoursFactory,
    SeverityFactory,
    SLOTargetFactory,
    SupportPlanFactory,
)

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")


def _weekday_hours(calendar, opens="07:00", closes="19:00"):
    for weekday in range(5):
        OpeningHoursFactory(
            calendar=calendar, weekday=weekday, opens=opens, closes=closes
        )


def test_a_calendar_schedule_follows_its_hours_and_holidays():
    calendar = BusinessCalendarFactory()
    _weekday_hours(calendar)
    calendar.holidays.create(date=date(2026, 12, 25), name="Christmas Day")

    schedule = calendar.schedule()

    assert schedule.is_open(datetime(2026, 12, 24, 18, tzinfo=PT))
    assert not schedule.is_open(datetime(2026, 12, 25, 12, tzinfo=PT))
    assert schedule.add(
        datetime(2026, 12, 24, 18, tzinfo=PT), timedelta(hours=2)
    ) == datetime(2026, 12, 28, 8, tzinfo=PT)


def test_an_edited_calendar_gets_a_fresh_schedule():
    calendar = BusinessCalendarFactory()
    _weekday_hours(calendar)
    before = calendar.schedule()
    calendar.holidays.create(date=date(2026, 12, 24))

    after = calendar.schedule()

    assert before is not after
    assert before.is_open(datetime(2026, 12, 24, 12, tzinfo=PT))
    assert not after.is_open(datetime(2026, 12, 24, 12, tzinfo=PT))
    assert calendar.schedule() is after  # unchanged definition: the cached one


def test_country_holidays_close_the_calendar():
    calendar = BusinessCalendarFactory(holiday_country="US")
    _weekday_hours(calendar)

    schedule = calendar.schedule(years=range(2026, 2028))

    assert not schedule.is_open(datetime(2026, 11, 26, 12, tzinfo=PT))  # Thanksgiving
    assert schedule.is_open(datetime(2026, 11, 25, 12, tzinfo=PT))


def test_an_unknown_holiday_country_is_a_field_error():
    calendar = BusinessCalendarFactory.build(holiday_country="XX")

    with pytest.raises(ValidationError) as excinfo:
        calendar.full_clean()

    assert "holiday_country" in excinfo.value.message_dict


@pytest.mark.parametrize(
    ("kind", "at", "is_open"),
    [
        (BusinessCalendar.Kind.ALWAYS, datetime(2026, 3, 8, 3, tzinfo=PT), True),
        (BusinessCalendar.Kind.WEEKDAYS, datetime(2026, 3, 8, 3, tzinfo=PT), False),
        (BusinessCalendar.Kind.WEEKDAYS, datetime(2026, 3, 9, 0, tzinfo=PT), True),
        (
            BusinessCalendar.Kind.WEEKDAYS,
            datetime(2026, 3, 13, 23, 59, tzinfo=PT),
            True,
        ),
    ],
)
def test_24x7_and_24x5_calendars(kind, at, is_open):
    calendar = BusinessCalendarFactory(kind=kind)

    assert calendar.schedule().is_open(at) is is_open


def test_opening_hours_must_close_after_they_open():
    calendar = BusinessCalendarFactory()

    with pytest.raises(IntegrityError):
        OpeningHoursFactory(calendar=calendar, opens="19:00", closes="07:00")


@pytest.mark.parametrize("value", ["7:00", "25:00", "07:60", "24:01"])
def test_opening_hours_are_validated_as_hh_mm(value):
    hours = OpeningHoursFactory.build(
        calendar=BusinessCalendarFactory(), opens="06:00", closes=value
    )

    with pytest.raises(ValidationError) as excinfo:
        hours.full_clean()

    assert "closes" in excinfo.value.message_dict


def test_a_target_needs_exactly_one_response_unit():
    target = SLOTargetFactory.build(
        plan=SupportPlanFactory(),
        response_calendar=BusinessCalendarFactory(),
        response_minutes=60,
        response_business_days=1,
    )

    with pytest.raises(ValidationError) as excinfo:
        target.full_clean()

    assert "response_minutes" in excinfo.value.message_dict


def test_a_resolution_target_needs_a_calendar():
    target = SLOTargetFactory.build(
        plan=SupportPlanFactory(),
        response_calendar=BusinessCalendarFactory(),
        resolution_minutes=240,
    )

    with pytest.raises(ValidationError) as excinfo:
        target.full_clean()

    assert "resolution_calendar" in excinfo.value.message_dict


def test_one_plan_wide_target_per_plan_even_with_null_severity():
    first = SLOTargetFactory()

    with pytest.raises(IntegrityError):
        SLOTarget.objects.create(
            plan=first.plan,
            response_minutes=30,
            response_calendar=first.response_calendar,
        )


def test_a_target_for_another_plans_severity_is_refused():
    target = SLOTargetFactory.build(
        plan=SupportPlanFactory(),
        response_calendar=BusinessCalendarFactory(),
        severity=SeverityFactory(),
    )

    with pytest.raises(ValidationError) as excinfo:
        target.full_clean()

    assert "severity" in excinfo.value.message_dict


def test_target_labels_read_like_the_policy():
    assert SLOTargetFactory.build(response_minutes=30).response_label == "30 min"
    assert SLOTargetFactory.build(response_minutes=120).response_label == "2 h"
    label = SLOTargetFactory.build(
        response_minutes=None, response_business_days=5
    ).response_label
    assert label == "5 business days"


def test_plan_changes_are_versioned():
    plan = SupportPlanFactory(name="Gold")
    plan.name = "Gold 2026"
    plan.save()

    assert plan.history.count() == 2
    assert plan.history.earliest().name == "Gold"
