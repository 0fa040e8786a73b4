"""Reads the ticket core asks of TAM contracts: who gets a ticket, on whose hours, and
whether the TAM SLO still applies. No writes here (those are in ``tam.services``).

The hooks, called by ``helpdesk`` when a ticket is filed or its clocks are computed:

- ``should_route_to_tam(organization, environment, requested)``
- ``tam_for(organization, on)``
- ``tam_schedule(tam_user)``
- ``tam_due_for(organization, opened_at)``
- ``hours_remain(organization, on)``
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from policies.calendars import cached_schedule
from tam.models import (
    IN_SCOPE,
    HourBucket,
    RoutingPreference,
    TAMContract,
    TAMProfile,
    TimeEntry,
)

if TYPE_CHECKING:
    from accounts.models import Organization, User
    from policies.business_time import Schedule

TAM_RESPONSE = timedelta(hours=4)
DEPLOYMENT = "deployment"

# Janrain business hours by the TAM's location: 08:00-17:00 PT or UK time, Mon-Fri,
# closed on that country's public holidays.
_LOCATIONS = {
    TAMProfile.Location.US_PACIFIC: ("America/Los_Angeles", "US", ""),
    TAMProfile.Location.UK_LONDON: ("Europe/London", "GB", "ENG"),
}
_WEEKLY = tuple((day, (("08:00", "17:00"),)) for day in range(5))
HOME_COUNTRY = {location: country for location, (_, country, _) in _LOCATIONS.items()}


def _profile(user: User) -> TAMProfile | None:
    try:
        return user.tam_profile
    except TAMProfile.DoesNotExist:
        return None


def location_of(user: User) -> str:
    """Return the TAM's location; a TAM without a profile counts as US Pacific."""
    profile = _profile(user)
    return profile.location if profile else TAMProfile.Location.US_PACIFIC


def schedule_for_location(location: str) -> Schedule:
    """Return the business hours of a TAM location (built once per process)."""
    tz, country, subdivision = _LOCATIONS[location]
    this_year = timezone.now().year
    return cached_schedule(
        tz, _WEEKLY, (), country, subdivision, range(this_year - 3, this_year + 8)
    )


def tam_schedule(tam_user: User) -> Schedule:
    """Return the TAM's business hours: 08:00-17:00 Mon-Fri in America/Los_Angeles or
    Europe/London by their location, minus that country's public holidays.

    A ticket opened Fri 16:00 PT for a Pacific TAM, due in 4 business hours, is due
    Mon 11:00 PT.
    """
    return schedule_for_location(location_of(tam_user))


def local_date(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


def contract_on(organization: Organization, on: date) -> TAMContract | None:
    """Return the organisation's contract whose service covers the day ``on``."""
    return (
        TAMContract.objects.covering(on)
        .filter(organization=organization)
        .select_related("tam__tam_profile", "backup_tam__tam_profile")
        .order_by("-starts_on")
        .first()
    )


def bucket_on(contract: TAMContract, on: date) -> HourBucket | None:
    return contract.buckets.filter(starts_on__lte=on, ends_on__gte=on).first()


def used_minutes(bucket: HourBucket) -> int:
    """Return the in-scope minutes logged against a bucket (one aggregate query)."""
    total = bucket.entries.filter(activity__in=IN_SCOPE).aggregate(t=Sum("minutes"))
    return total["t"] or 0


def should_route_to_tam(
    organization: Organization, environment: str, requested: bool
) -> bool:
    """Return whether a new ticket goes to the organisation's TAM.

    Only deployment tickets route, and only while a contract covers today: all of
    them when the organisation chose so, otherwise those the customer asked for
    (``requested``). Production tickets never route (SPEC §7: the TAM SLO applies
    to deployment support, not production support).
    """
    if environment != DEPLOYMENT:
        return False
    today = local_date(timezone.now(), organization.time_zone)
    if contract_on(organization, today) is None:
        return False
    preference = RoutingPreference.objects.filter(organization=organization).first()
    if preference and preference.mode == RoutingPreference.Mode.ALL_DEPLOYMENT:
        return True
    return bool(requested)


def offers_tam_choice(organization: Organization) -> bool:
    """Return whether the ticket form should ask "route this to our TAM?": a contract
    covers today and the organisation chooses per ticket."""
    today = local_date(timezone.now(), organization.time_zone)
    if contract_on(organization, today) is None:
        return False
    preference = RoutingPreference.objects.filter(organization=organization).first()
    return not (preference and preference.mode == RoutingPreference.Mode.ALL_DEPLOYMENT)


def tam_for(organization: Organization, on: date) -> User | None:
    """Return who works the organisation's TAM tickets on ``on``: the named TAM, or
    the backup TAM while the named TAM is away; None without a contract that day."""
    contract = contract_on(organization, on)
    if contract is None:
        return None
    return _tam_of(contract, on)


def _tam_of(contract: TAMContract, on: date) -> User:
    profile = _profile(contract.tam)
    if profile is not None and profile.is_away(on):
        return contract.backup_tam
    return contract.tam


def hours_remain(organization: Organization, on: date) -> bool:
    """Return whether the month's allowance (monthly hours plus rollover share) of the
    contract covering ``on`` still has in-scope minutes left."""
    contract = contract_on(organization, on)
    if contract is None:
        return False
    return _hours_remain(contract, on)


def _hours_remain(contract: TAMContract, on: date) -> bool:
    bucket = bucket_on(contract, on)
    return bucket is not None and used_minutes(bucket) < bucket.allowance_minutes


def minutes_left(organization: Organization, on: date) -> int | None:
    """Return the in-scope TAM minutes left in the month covering ``on`` (negative
    once best effort), or None when no contract covers that day.

    One query (the ticket page shows it): the month's bucket of the contract
    ``contract_on`` would choose, with its in-scope minutes summed beside it."""
    contract = (
        TAMContract.objects.covering(on)
        .filter(organization=organization)
        .order_by("-starts_on")
        .values("pk")[:1]
    )
    used = (
        TimeEntry.objects.filter(bucket=OuterRef("pk"), activity__in=IN_SCOPE)
        .order_by()
        .values("bucket")
        .annotate(total=Sum("minutes"))
        .values("total")
    )
    bucket = (
        HourBucket.objects.filter(
            contract=Subquery(contract), starts_on__lte=on, ends_on__gte=on
        )
        .annotate(used=Coalesce(Subquery(used), 0))
        .first()
    )
    if bucket is None:
        return None
    return bucket.allowance_minutes - bucket.used


def tam_due_for(organization: Organization, opened_at: datetime) -> datetime | None:
    """Return when a TAM-routed deployment ticket opened at ``opened_at`` is due a first
    response: 4 business hours on the schedule of the TAM who receives it.

    None when no contract covers that day, or once the month's hours are used up:
    the work is then best effort and no SLO applies. Opened Fri 2026-03-06 15:00 PT
    with a Pacific TAM: due Mon 2026-03-09 10:00 PDT (2 h Friday, 2 h Monday).
    """
    on = local_date(opened_at, organization.time_zone)
    contract = contract_on(organization, on)
    if contract is None:
        return None
    if contract.time_zone != organization.time_zone:
        contract_day = local_date(opened_at, contract.time_zone)
        if contract_day != on:  # the contract's own day: perhaps another term's
            on = contract_day
            contract = contract_on(organization, on)
            if contract is None:
                return None
    # One contract row for the hours and the TAM (each used to read it again).
    if not _hours_remain(contract, on):
        return None
    return tam_schedule(_tam_of(contract, on)).add(opened_at, TAM_RESPONSE)


def tam_calendar(tam_user: User):
    """Return the BusinessCalendar row of the TAM's business hours, the one a TAM SLO
    clock counts on, creating it (once) for the TAM's location.

    Clocks keep a calendar reference so they can be recomputed and explained; this
    row holds the same hours and holidays as ``tam_schedule``.
    """
    from policies.models import BusinessCalendar

    location = location_of(tam_user)
    tz, country, subdivision = _LOCATIONS[location]
    calendar, created = BusinessCalendar.objects.get_or_create(
        slug=f"tam-{location}",
        defaults={
            "name": f"TAM business hours ({tz}, 08:00-17:00 Mon-Fri)",
            "kind": BusinessCalendar.Kind.HOURS,
            "time_zone": tz,
            "holiday_country": country,
            "holiday_subdivision": subdivision,
        },
    )
    if created:
        for day in range(5):
            calendar.hours.create(weekday=day, opens="08:00", closes="17:00")
    return calendar
