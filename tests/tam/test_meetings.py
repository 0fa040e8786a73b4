"""Meetings: generated for the term, requested with notice, exported as iCalendar."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from icalendar import Calendar

from tam import ical, services
from tam.models import Meeting
from tests.accounts.factories import UserFactory
from tests.tam.factories import contract, tam

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
# Tuesday before Thanksgiving (Thursday 25 November 2027), 10:00 in Los Angeles.
ASKED_AT = datetime(2027, 11, 23, 10, tzinfo=PT)


@pytest.fixture
def signed():
    return contract(term_months=12, hours_per_month=20)


def ask(signed, day: datetime, *, mode="remote", country="", now=ASKED_AT):
    return services.request_meeting(
        signed,
        mode=mode,
        starts_at=day,
        duration_minutes=60,
        title="Architecture review",
        country=country,
        requested_by=UserFactory(),
        now=now,
    )


def test_generated_meetings_follow_the_term_in_the_tams_hours(signed):
    meetings = list(signed.meetings.all())
    kickoff = next(m for m in meetings if m.kind == Meeting.Kind.KICKOFF)
    weekly = [m for m in meetings if m.kind == Meeting.Kind.WEEKLY_STATUS]
    quarterly = [m for m in meetings if m.kind == Meeting.Kind.QUARTERLY_PLANNING]

    assert kickoff.starts_at == datetime(2027, 2, 1, 9, tzinfo=PT)
    assert weekly[0].starts_at == datetime(2027, 2, 8, 10, tzinfo=PT)
    assert 51 <= len(weekly) <= 53
    assert all(m.starts_at.astimezone(PT).weekday() < 5 for m in weekly)
    # A status call that would fall on Presidents' Day moves to the next working day.
    assert datetime(2027, 2, 16, 10, tzinfo=PT) in [m.starts_at for m in weekly]
    assert [m.starts_at.astimezone(PT).date().isoformat() for m in quarterly] == [
        "2027-04-30",
        "2027-07-30",
        "2027-10-29",
        "2028-01-31",
    ]
    assert signed.meetings.filter(kind=Meeting.Kind.ONSITE_WORKSHOP).count() == 0


def test_a_remote_meeting_needs_two_business_days_notice_across_a_holiday(signed):
    with pytest.raises(ValidationError) as refused:
        ask(signed, datetime(2027, 11, 25, 10, tzinfo=PT))

    [error] = refused.value.error_dict["starts_at"]
    assert error.code == "remote-notice"
    assert error.message == (
        "Remote meeting notice rule: a remote meeting needs at least 2 business days' "
        "notice, counted on the TAM's calendar; the earliest allowed date is Friday "
        "26 November 2027."
    )
    meeting = ask(signed, datetime(2027, 11, 26, 9, tzinfo=PT))
    assert meeting.kind == Meeting.Kind.REQUESTED
    assert meeting.history.get().history_type == "+"


def test_the_notice_is_counted_on_the_named_tams_calendar():
    """A London TAM works on Thanksgiving."""
    signed = contract(term_months=12, tam=tam("uk-london"))

    meeting = ask(signed, datetime(2027, 11, 25, 10, tzinfo=LONDON))

    assert meeting.pk


@pytest.mark.parametrize(
    ("country", "rule", "earliest"),
    [
        ("US", "onsite-domestic-notice", "Wednesday 15 December 2027"),
        ("GB", "onsite-international-notice", "Wednesday 22 December 2027"),
    ],
)
def test_on_site_meetings_need_three_or_four_business_weeks(
    signed, country, rule, earliest
):
    # 15 or 20 working days after Tue 23 Nov, with Thanksgiving skipped.
    too_soon = datetime(2027, 12, 14, 9, tzinfo=PT)

    with pytest.raises(ValidationError) as refused:
        ask(signed, too_soon, mode="onsite", country=country)

    [error] = refused.value.error_dict["starts_at"]
    assert error.code == rule
    assert error.message.endswith(f"the earliest allowed date is {earliest}.")
    week = "3 business weeks" if country == "US" else "4 business weeks"
    assert week in error.message
    on_time = datetime.fromisoformat(
        {"US": "2027-12-15T09:00", "GB": "2027-12-22T09:00"}[country]
    ).replace(tzinfo=PT)
    assert (
        ask(signed, on_time, mode="onsite", country=country.lower()).country == country
    )


def test_meetings_outside_the_term_or_without_a_country_are_refused(signed):
    with pytest.raises(ValidationError, match="Meeting date rule"):
        ask(signed, datetime(2028, 3, 1, 9, tzinfo=PT))
    with pytest.raises(ValidationError, match="two-letter country code"):
        ask(signed, datetime(2027, 12, 20, 9, tzinfo=PT), mode="onsite")


def test_a_meeting_exports_as_icalendar(signed):
    meeting = ask(signed, datetime(2027, 11, 26, 9, tzinfo=PT))

    parsed = Calendar.from_ical(ical.calendar_of([meeting], name="TAM"))

    [event] = parsed.walk("VEVENT")
    assert str(event["summary"]) == "Architecture review"
    assert event["dtstart"].dt == datetime(2027, 11, 26, 9, tzinfo=PT)
    assert event["dtend"].dt - event["dtstart"].dt == timedelta(hours=1)
    assert str(event["uid"]) == f"{meeting.uid}@helpdesk.local"
    assert str(event["status"]) == "CONFIRMED"


def test_a_cancelled_meeting_stays_in_the_feed_with_a_new_sequence(signed):
    meeting = ask(signed, datetime(2027, 11, 26, 9, tzinfo=PT))

    services.cancel_meeting(meeting, acting_user=None)
    parsed = Calendar.from_ical(ical.calendar_of(signed.meetings.all(), name="TAM"))

    events = {str(e["uid"]): e for e in parsed.walk("VEVENT")}
    assert len(events) == signed.meetings.count()
    cancelled = events[f"{meeting.uid}@helpdesk.local"]
    assert (str(cancelled["status"]), cancelled["sequence"]) == ("CANCELLED", 1)
