"""Banked TAM hours (issue 15 §3.7): a term's unused hours "scheduled for future
use". A contract that banks them carries them into its renewal as
``banked_minutes``; each use is scheduled into one month of that term, which adds
to the month's allowance. What is never scheduled lapses with the term."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts import roles
from tam import rules
from tam.models import HourBucket, TAMContract
from tam.reports import hh_mm
from tam.routing import local_date
from tam.services._common import Status, _in_role

if TYPE_CHECKING:
    from accounts.models import User


def may_schedule_banked_hours(user: User | None, contract: TAMContract) -> bool:
    """Return whether ``user`` may schedule a contract's banked hours: its named or
    backup TAM, a Support Manager or a superuser."""
    if user is None or not user.is_active or not user.is_staff:
        return False
    if user.is_superuser or _in_role(user, roles.SUPPORT_MANAGER):
        return True
    return user.pk in (contract.tam_id, contract.backup_tam_id)


def unscheduled_minutes(contract: TAMContract) -> int:
    """Return the banked minutes not yet scheduled into a month of the term."""
    scheduled = contract.buckets.aggregate(total=Sum("banked_minutes"))["total"] or 0
    return max(contract.banked_minutes - scheduled, 0)


@transaction.atomic
def schedule_banked_hours(
    contract: TAMContract,
    *,
    month_starts_on: date,
    minutes: int,
    acting_user: User | None,
    today: date | None = None,
) -> HourBucket:
    """Schedule ``minutes`` of the contract's banked hours into the month of the
    term that starts on ``month_starts_on``; return that month's bucket.

    Refused (``rules.RuleViolation`` "banked-hours", nothing changed) for someone
    who may not, a term with no banked hours or not current, more than is left
    unscheduled, or a month that is over or not of this term.
    """
    if not may_schedule_banked_hours(acting_user, contract):
        raise rules.RuleViolation(
            "banked-hours",
            "only the contract's TAM, its backup TAM or a Support Manager schedules "
            "banked hours.",
        )
    contract = TAMContract.objects.select_for_update().get(pk=contract.pk)
    today = today or local_date(timezone.now(), contract.time_zone)
    if contract.status not in (Status.SCHEDULED, Status.ACTIVE):
        raise rules.RuleViolation(
            "banked-hours",
            f"the term {rules.period(contract.starts_on, contract.service_ends_on)} "
            "is over; banked hours are for use within the term they were banked into.",
        )
    if contract.banked_minutes == 0:
        raise rules.RuleViolation(
            "banked-hours",
            "this term has no banked hours (the previous term's unused hours were "
            f"{'rolled over' if contract.rolled_over_minutes else 'not banked'}).",
        )
    left = unscheduled_minutes(contract)
    if not 0 < minutes <= left:
        raise rules.RuleViolation(
            "banked-hours",
            f"{hh_mm(minutes)} h cannot be scheduled: {hh_mm(left)} h of the "
            f"{hh_mm(contract.banked_minutes)} h banked are left to schedule.",
            field="minutes",
        )
    bucket = (
        HourBucket.objects.select_for_update()
        .filter(contract=contract, starts_on=month_starts_on)
        .first()
    )
    if bucket is None:
        raise rules.RuleViolation(
            "banked-hours",
            f"no month of this term starts on {rules.long_date(month_starts_on)}.",
            field="month_starts_on",
        )
    if bucket.ends_on < today:
        raise rules.RuleViolation(
            "banked-hours",
            f"the month {rules.period(bucket.starts_on, bucket.ends_on)} is over; "
            "banked hours are scheduled for future use.",
            field="month_starts_on",
        )
    bucket.banked_minutes += minutes
    bucket._history_user = acting_user
    bucket._change_reason = f"{minutes} banked minutes scheduled"
    bucket.save(update_fields=["banked_minutes"])
    return bucket
