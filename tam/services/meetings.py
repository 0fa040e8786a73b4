"""Meetings: the planned meetings of a term, requested meetings and their notice
rules, and cancelling a meeting."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from helpdesk.secrets_guard import secret_errors
from tam import rules, terms
from tam.models import Meeting, TAMContract
from tam.routing import HOME_COUNTRY, local_date, location_of, tam_schedule

if TYPE_CHECKING:
    from accounts.models import User


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def _last_working_day_on_or_before(schedule, day: date) -> date:
    # A few steps at most: weekends and holiday runs are short.
    while not terms.is_working_day(schedule, day):
        day -= timedelta(days=1)
    return day


def generate_meetings(
    contract: TAMContract, *, acting_user: User | None, kickoff: bool = True
) -> list[Meeting]:
    """Create the planned meetings of a term, in the named TAM's business hours.

    A kick-off on the first working day (first terms only), a weekly status call
    every week after it, a quarterly planning and retrospective meeting on the last
    working day of each quarter of the term and, from 30 hours a month, an on-site
    workshop a month into each half year.
    """
    schedule = tam_schedule(contract.tam)
    zone = schedule.zone
    first_day = terms.first_working_day_on_or_after(schedule, contract.starts_on)
    meetings = []

    def add(kind, title, day, hour, minute, duration, mode=Meeting.Mode.REMOTE, **kw):
        if contract.starts_on <= day <= contract.ends_on:
            meetings.append(
                Meeting(
                    contract=contract,
                    kind=kind,
                    mode=mode,
                    title=f"{title} — {contract.organization.name}",
                    starts_at=_at(day, hour, minute, kw.pop("zone", zone)),
                    duration_minutes=duration,
                    **kw,
                )
            )

    if kickoff:
        add(Meeting.Kind.KICKOFF, "TAM service kick-off", first_day, 9, 0, 60)
    week = 1
    while (slot := first_day + timedelta(weeks=week)) <= contract.ends_on:
        day = terms.first_working_day_on_or_after(schedule, slot)
        add(Meeting.Kind.WEEKLY_STATUS, "Weekly TAM status call", day, 10, 0, 30)
        week += 1
    for quarter in range(1, contract.term_months // 3 + 1):
        end = terms.add_months(contract.starts_on, 3 * quarter) - timedelta(days=1)
        day = _last_working_day_on_or_before(schedule, end)
        add(
            Meeting.Kind.QUARTERLY_PLANNING,
            "Quarterly planning and retrospective",
            day,
            14,
            0,
            90,
        )
    if contract.includes_onsite_workshops:
        customer = ZoneInfo(contract.time_zone)
        for half in range(contract.term_months // 6):
            slot = terms.add_months(contract.starts_on, 6 * half + 1)
            day = terms.first_working_day_on_or_after(schedule, slot)
            add(
                Meeting.Kind.ONSITE_WORKSHOP,
                "On-site TAM workshop",
                day,
                9,
                0,
                480,
                mode=Meeting.Mode.ONSITE,
                location="Customer site (to be confirmed)",
                zone=customer,
            )
    return bulk_create_with_history(meetings, Meeting, default_user=acting_user)


def earliest_meeting_day(
    contract: TAMContract, *, mode: str, country: str, now: datetime
) -> tuple[date, bool]:
    """Return the earliest day a meeting requested at ``now`` may take place, and
    whether it is international travel for the named TAM. Notice counts whole
    working days on the TAM's calendar after the day of the request."""
    location = location_of(contract.tam)
    is_international = mode == Meeting.Mode.ONSITE and (
        country.strip().upper() != HOME_COUNTRY[location]
    )
    schedule = tam_schedule(contract.tam)
    requested_on = now.astimezone(schedule.zone).date()
    days = rules.notice_business_days(mode, is_international)
    return terms.nth_working_day_after(schedule, requested_on, days), is_international


def validate_meeting_request(
    contract: TAMContract,
    *,
    mode: str,
    starts_at: datetime,
    country: str = "",
    title: str = "",
    location: str = "",
    now: datetime | None = None,
) -> None:
    """Raise a ValidationError if a meeting asked for at ``now`` breaks a rule, or if
    its title or location carries a secret (both go out in invitations and feeds)."""
    if errors := secret_errors({"title": title, "location": location}):
        raise ValidationError(errors)
    now = now or timezone.now()
    if mode == Meeting.Mode.ONSITE and len(country.strip()) != 2:
        raise ValidationError(
            {"country": "Give the two-letter country code of the on-site meeting."}
        )
    period = rules.period(contract.starts_on, contract.service_ends_on)
    if contract.status not in TAMContract.CURRENT_STATUSES:
        raise rules.RuleViolation(
            "meeting-in-term",
            f"the contract for {period} is no longer current.",
            field="starts_at",
        )
    day = local_date(starts_at, contract.time_zone)
    if not contract.starts_on <= day <= contract.service_ends_on:
        raise rules.RuleViolation(
            "meeting-in-term",
            f"meetings take place during the contract's term ({period}).",
            field="starts_at",
        )
    earliest, is_international = earliest_meeting_day(
        contract, mode=mode, country=country, now=now
    )
    meeting_day = starts_at.astimezone(tam_schedule(contract.tam).zone).date()
    refusal = rules.check_meeting_notice(
        mode=mode,
        is_international=is_international,
        meeting_day=meeting_day,
        earliest=earliest,
    )
    if refusal:
        raise refusal


@transaction.atomic
def request_meeting(
    contract: TAMContract,
    *,
    mode: str,
    starts_at: datetime,
    duration_minutes: int,
    title: str,
    requested_by: User,
    kind: str = Meeting.Kind.REQUESTED,
    location: str = "",
    country: str = "",
    now: datetime | None = None,
) -> Meeting:
    """Book a meeting a customer or an agent asked for, if it gives enough notice:
    remote 2 business days, on-site 3 business weeks (domestic) or 4 (international),
    counted on the named TAM's calendar."""
    validate_meeting_request(
        contract,
        mode=mode,
        starts_at=starts_at,
        country=country,
        title=title,
        location=location,
        now=now,
    )
    meeting = Meeting(
        contract=contract,
        kind=kind,
        mode=mode,
        title=title.strip() or Meeting.Kind(kind).label,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        location=location,
        country=country.strip().upper(),
        requested_by=requested_by,
    )
    meeting.full_clean()
    meeting._history_user = requested_by
    meeting.save()
    return meeting


@transaction.atomic
def cancel_meeting(meeting: Meeting, *, acting_user: User | None) -> Meeting:
    """Cancel a meeting; calendars that subscribed see it cancelled (SEQUENCE + 1)."""
    meeting.status = Meeting.Status.CANCELLED
    meeting.sequence += 1
    meeting._history_user = acting_user
    meeting.save(update_fields=["status", "sequence", "updated_at"])
    return meeting
