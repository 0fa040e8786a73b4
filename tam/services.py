"""Every write to TAM contracts goes through here: admin, views, tasks and commands.

Each service runs in one transaction, checks the rules of ``tam.rules`` first (so a
refusal names its rule and changes nothing) and records who acted in the history.
The read-only hooks of the ticket core live in ``tam.routing`` and are re-exported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts import roles
from tam import report_queries, reports, rules, terms
from tam.models import (
    IN_SCOPE,
    OUT_OF_SCOPE,
    ChangeOrder,
    HourBucket,
    Meeting,
    RoutingPreference,
    TAMContract,
    TAMProfile,
    TimeEntry,
)
from tam.routing import (
    HOME_COUNTRY,
    hours_remain,
    local_date,
    location_of,
    schedule_for_location,
    should_route_to_tam,
    tam_due_for,
    tam_for,
    tam_schedule,
    used_minutes,
)
from tam.signals import bucket_exhausted

if TYPE_CHECKING:
    from accounts.models import Organization, User
    from helpdesk.models import Ticket

__all__ = [
    "ContractDraft",
    "cancel_meeting",
    "change_contract",
    "create_contract",
    "earliest_meeting_day",
    "earliest_start",
    "generate_meetings",
    "hours_remain",
    "previous_month",
    "record_notice",
    "record_time_entry",
    "renew_due_contracts",
    "request_meeting",
    "send_monthly_hours_report",
    "set_routing",
    "should_route_to_tam",
    "support_managers",
    "tam_due_for",
    "tam_for",
    "tam_schedule",
    "unused_minutes",
    "validate_contract",
    "validate_contract_change",
    "validate_meeting_request",
    "validate_time_entry",
]

logger = logging.getLogger(__name__)

Status = TAMContract.Status


def _raise(violations: list[ValidationError]) -> None:
    """Raise all violations together, field by field."""
    if not violations:
        return
    errors: dict[str, list[ValidationError]] = {}
    for violation in violations:
        for name, items in violation.error_dict.items():
            errors.setdefault(name, []).extend(items)
    raise ValidationError(errors)


def _in_role(user: User | None, role: str) -> bool:
    if user is None or not user.is_active or not user.is_staff:
        return False
    return user.groups.filter(name=role).exists()


# --- contracts --------------------------------------------------------------------


@dataclass
class ContractDraft:
    """What a signed TAM contract says."""

    tam: User
    backup_tam: User
    signed_on: date
    starts_on: date
    term_months: int
    hours_per_month: int
    project_manager: User | None = None
    auto_renew: bool = True
    time_zone: str = ""


def earliest_start(signed_on: date, tam: User) -> date:
    """Return the first day service may start: two business weeks (10 working days
    on the named TAM's calendar) after the signing day. Signed Mon 2026-01-05 with a
    Pacific TAM: Tue 2026-01-20 (Martin Luther King Jr. Day is skipped)."""
    return terms.nth_working_day_after(
        tam_schedule(tam), signed_on, rules.START_NOTICE_BUSINESS_DAYS
    )


def validate_contract(organization: Organization, draft: ContractDraft) -> None:
    """Raise a ValidationError naming every rule the draft breaks."""
    violations: list[ValidationError] = list(
        rules.check_hours_and_term(
            hours_per_month=draft.hours_per_month,
            term_months=draft.term_months,
            has_project_manager=draft.project_manager is not None,
        )
    )
    if not _in_role(draft.tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role",
                f"{draft.tam} is not an agent in the TAM role; the named TAM must be.",
                field="tam",
            )
        )
    if draft.backup_tam == draft.tam:
        violations.append(
            rules.RuleViolation(
                "backup-tam",
                "the backup TAM must be someone other than the named TAM.",
                field="backup_tam",
            )
        )
    elif not _in_role(draft.backup_tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role",
                f"{draft.backup_tam} is not an agent in the TAM role; the backup TAM "
                "must be.",
                field="backup_tam",
            )
        )
    if draft.project_manager is not None and not _in_role(
        draft.project_manager, roles.PROJECT_MANAGER
    ):
        violations.append(
            rules.RuleViolation(
                "pm-role",
                f"{draft.project_manager} is not an agent in the Project Manager role.",
                field="project_manager",
            )
        )
    if draft.term_months in rules.TERMS_MONTHS:
        late = rules.check_start(
            signed_on=draft.signed_on,
            starts_on=draft.starts_on,
            earliest_start=earliest_start(draft.signed_on, draft.tam),
        )
        if late:
            violations.append(late)
        else:
            clash = _overlapping(
                organization,
                draft.starts_on,
                terms.term_end(draft.starts_on, draft.term_months),
            )
            if clash is not None:
                renews = (
                    ", which renews automatically until the customer gives notice"
                    if clash.auto_renew and clash.notice_received_on is None
                    else ""
                )
                violations.append(
                    rules.RuleViolation(
                        "one-active",
                        f"{organization} already has a TAM contract for "
                        f"{rules.period(clash.starts_on, clash.service_ends_on)}"
                        f"{renews}; a new term may start after it ends.",
                        field="starts_on",
                    )
                )
    _raise(violations)


def _overlapping(
    organization: Organization,
    starts_on: date,
    ends_on: date,
    *,
    exclude: TAMContract | None = None,
) -> TAMContract | None:
    contracts = organization.tam_contracts.filter(
        starts_on__lte=ends_on, ends_on__gte=starts_on
    )
    if exclude is not None:
        contracts = contracts.exclude(pk=exclude.pk)
    for contract in contracts:
        if contract.service_ends_on >= starts_on:
            return contract
    # A term that renews itself goes on until a notice stops it.
    return (
        organization.tam_contracts.filter(
            status__in=TAMContract.CURRENT_STATUSES,
            auto_renew=True,
            notice_received_on__isnull=True,
            starts_on__lte=ends_on,
        )
        .exclude(pk=exclude.pk if exclude else None)
        .first()
    )


@transaction.atomic
def create_contract(
    organization: Organization,
    draft: ContractDraft,
    *,
    acting_user: User | None,
    today: date | None = None,
) -> TAMContract:
    """Create a signed contract with its monthly buckets and its meetings."""
    validate_contract(organization, draft)
    time_zone = draft.time_zone or organization.time_zone
    today = today or local_date(timezone.now(), time_zone)
    contract = TAMContract(
        organization=organization,
        tam=draft.tam,
        backup_tam=draft.backup_tam,
        project_manager=draft.project_manager,
        signed_on=draft.signed_on,
        starts_on=draft.starts_on,
        ends_on=terms.term_end(draft.starts_on, draft.term_months),
        term_months=draft.term_months,
        hours_per_month=draft.hours_per_month,
        time_zone=time_zone,
        auto_renew=draft.auto_renew,
        status=Status.ACTIVE if draft.starts_on <= today else Status.SCHEDULED,
    )
    contract.full_clean()
    contract._history_user = acting_user
    contract.save()
    _create_buckets(contract, acting_user=acting_user)
    generate_meetings(contract, acting_user=acting_user)
    return contract


def _create_buckets(contract: TAMContract, *, acting_user: User | None) -> None:
    periods = terms.bucket_periods(contract.starts_on, contract.term_months)
    shares = terms.rollover_shares(contract.rolled_over_minutes, len(periods))
    buckets = [
        HourBucket(
            contract=contract,
            index=period.index,
            starts_on=period.starts_on,
            ends_on=period.ends_on,
            allotted_minutes=contract.allotted_minutes_per_month,
            rollover_minutes=share,
        )
        for period, share in zip(periods, shares, strict=True)
    ]
    bulk_create_with_history(buckets, HourBucket, default_user=acting_user)


def unused_minutes(contract: TAMContract) -> int:
    """Return the term's unused allowance: per month, what the month did not use."""
    buckets = list(contract.buckets.all())
    totals = report_queries.bucket_totals([b.pk for b in buckets])
    return reports.unused_of_term(
        (bucket.allowance_minutes, totals[bucket.pk].used if bucket.pk in totals else 0)
        for bucket in buckets
    )


# --- renewal and the grace period ---------------------------------------------------


def renew_due_contracts(*, now: datetime | None = None) -> dict[str, int]:
    """Move every contract along its life for the day ``now`` falls on locally.

    Scheduled contracts whose start has come become active; an active contract whose
    term has ended renews (a new term of the same length, starting the day after,
    with the unused minutes rolled over) unless it has a written notice or does not
    auto-renew, in which case it ends; a renewed contract ends once its 45-day
    grace period is over. Idempotent and safe to run late: each step depends on the
    dates only, a renewal is made at most once per contract (a one-to-one column),
    and chains of missed renewals are caught up in one run.
    """
    now = now or timezone.now()
    counts = {"activated": 0, "renewed": 0, "ended": 0, "failed": 0}
    # Every zone's local date is at most 14 h ahead of UTC.
    horizon = (now + timedelta(hours=14)).date()
    due = Q(status=Status.SCHEDULED, starts_on__lte=horizon) | Q(
        status__in=[Status.ACTIVE, Status.IN_GRACE], ends_on__lt=horizon
    )
    pending = list(
        TAMContract.objects.filter(due)
        .order_by("ends_on", "pk")
        .values_list("pk", flat=True)
    )
    while pending:
        follow_up = []
        for pk in pending:
            try:
                done, renewal_pk = _advance(pk, now)
            except Exception:
                counts["failed"] += 1
                logger.exception("TAM contract %s could not be advanced", pk)
                continue
            for action in done:
                counts[action] += 1
            if renewal_pk is not None:
                follow_up.append(renewal_pk)
        pending = follow_up
    return counts


@transaction.atomic
def _advance(pk: int, now: datetime) -> tuple[list[str], int | None]:
    """Advance one contract as far as its dates allow; return what was done and the
    renewal to look at next (a late run may find the renewal's term over too)."""
    contract = TAMContract.objects.select_for_update().get(pk=pk)
    today = local_date(now, contract.time_zone)
    done: list[str] = []
    renewal_pk = None
    if contract.status == Status.SCHEDULED and contract.starts_on <= today:
        _set_status(contract, Status.ACTIVE, "service started")
        done.append("activated")
    if contract.status == Status.ACTIVE and contract.ends_on < today:
        if contract.auto_renew and contract.notice_received_on is None:
            _set_status(contract, Status.IN_GRACE, "term ended; renewed")
            renewal = _renew(contract, today=today)
            renewal_pk = renewal.pk
            done.append("renewed")
        else:
            _set_status(contract, Status.ENDED, "term ended without renewal")
            done.append("ended")
    if contract.status == Status.IN_GRACE and contract.grace_ends_on < today:
        _set_status(contract, Status.ENDED, "grace period over")
        done.append("ended")
    return done, renewal_pk


def _set_status(contract: TAMContract, status: str, reason: str) -> None:
    contract.status = status
    contract._change_reason = reason
    contract._history_user = None  # the sweep, not a person
    contract.save(update_fields=["status", "updated_at"])


def _renew(contract: TAMContract, *, today: date) -> TAMContract:
    starts_on = contract.ends_on + timedelta(days=1)
    renewal = TAMContract(
        organization_id=contract.organization_id,
        tam_id=contract.tam_id,
        backup_tam_id=contract.backup_tam_id,
        project_manager_id=contract.project_manager_id,
        signed_on=contract.signed_on,
        starts_on=starts_on,
        ends_on=terms.term_end(starts_on, contract.term_months),
        term_months=contract.term_months,
        hours_per_month=contract.hours_per_month,
        time_zone=contract.time_zone,
        auto_renew=True,
        status=Status.ACTIVE if starts_on <= today else Status.SCHEDULED,
        renews=contract,
        rolled_over_minutes=unused_minutes(contract),
    )
    renewal.full_clean(validate_unique=False, validate_constraints=False)
    renewal._change_reason = f"automatic renewal of contract {contract.pk}"
    renewal.save()
    _create_buckets(renewal, acting_user=None)
    generate_meetings(renewal, acting_user=None, kickoff=False)
    return renewal


@transaction.atomic
def record_notice(
    organization: Organization,
    *,
    received_on: date,
    given_by: str,
    document: File | None = None,
    acting_user: User | None,
    now: datetime | None = None,
) -> TAMContract:
    """Record a customer's written notice to end TAM service; return the contract
    it was recorded on.

    Before a term ends the notice stops its renewal. Within the 45 days after a term
    ended (the grace period) it stops the renewal too: the renewal already made is
    cancelled as of the notice. Later, it ends the service at the end of the
    renewed term. Overdue renewals are caught up first, so the outcome does not
    depend on when the daily sweep last ran.
    """
    now = now or timezone.now()
    today = local_date(now, organization.time_zone)
    if received_on > today:
        raise rules.RuleViolation(
            "notice-date",
            "a notice cannot be received in the future "
            f"({rules.long_date(received_on)}).",
            field="notice_received_on",
        )
    if not given_by.strip():
        raise ValidationError({"notice_from": "Say who at the customer gave notice."})
    for pk in organization.tam_contracts.filter(
        status__in=[Status.SCHEDULED, Status.ACTIVE, Status.IN_GRACE]
    ).values_list("pk", flat=True):
        renew_due_contracts_for(pk, now)
    contracts = list(
        TAMContract.objects.select_for_update()
        .filter(organization=organization)
        .order_by("starts_on")
    )
    live = [c for c in contracts if c.status != Status.CANCELLED]
    target = next(
        (c for c in reversed(live) if c.starts_on <= received_on <= c.ends_on), None
    )
    if target is None:
        target = next((c for c in live if c.status == Status.SCHEDULED), None)
    if target is None:
        raise rules.RuleViolation(
            "notice-date",
            f"{organization} has no TAM service on or after "
            f"{rules.long_date(received_on)} for a notice to end.",
            field="notice_received_on",
        )
    previous = target.renews
    in_grace = (
        previous is not None
        and previous.notice_received_on is None
        and received_on <= previous.grace_ends_on
    )
    holder = previous if in_grace else target
    if holder.notice_received_on is not None:
        raise rules.RuleViolation(
            "notice-date",
            f"a notice received on {rules.long_date(holder.notice_received_on)} is "
            "already recorded on this contract.",
            field="notice_received_on",
        )
    holder.notice_received_on = received_on
    holder.notice_from = given_by.strip()
    holder.notice_recorded_by = acting_user
    if document is not None:
        holder.notice_document = document
    holder._history_user = acting_user
    holder._change_reason = "written termination notice"
    fields = ["notice_received_on", "notice_from", "notice_recorded_by", "updated_at"]
    if document is not None:
        fields.append("notice_document")
    if in_grace:
        holder.status = Status.ENDED
        fields.append("status")
        _cancel(target, as_of=received_on, acting_user=acting_user)
    elif holder.ends_on < today and hasattr(holder, "renewal"):
        # Received before the term ended but recorded after the sweep renewed it.
        holder.status = Status.ENDED
        fields.append("status")
        _cancel(holder.renewal, as_of=received_on, acting_user=acting_user)
    holder.save(update_fields=fields)
    return holder


def renew_due_contracts_for(pk: int, now: datetime) -> None:
    """Catch up one contract's chain of renewals (``renew_due_contracts`` for one)."""
    pending: int | None = pk
    while pending is not None:
        _, pending = _advance(pending, now)


def _cancel(contract: TAMContract, *, as_of: date, acting_user: User | None) -> None:
    """Cancel a renewal as of a notice: service stops that day (or never starts)."""
    contract.status = Status.CANCELLED
    contract.cancelled_on = max(as_of, contract.starts_on)
    contract._history_user = acting_user
    contract._change_reason = "renewal cancelled by a notice in the grace period"
    contract.save(update_fields=["status", "cancelled_on", "updated_at"])
    cutoff = datetime.combine(
        contract.cancelled_on + timedelta(days=1), time(0), ZoneInfo(contract.time_zone)
    )
    for meeting in contract.meetings.filter(
        starts_at__gte=cutoff, status=Meeting.Status.PLANNED
    ):
        meeting.status = Meeting.Status.CANCELLED
        meeting.sequence += 1
        meeting._history_user = acting_user
        meeting.save(update_fields=["status", "sequence", "updated_at"])


# --- hours ----------------------------------------------------------------------------


def validate_time_entry(
    contract: TAMContract,
    *,
    agent: User,
    worked_on: date,
    minutes: int,
    activity: str,
    ticket: Ticket | None = None,
    change_order: ChangeOrder | None = None,
) -> None:
    """Raise a ValidationError naming every rule a time entry breaks (no locks: the
    admin form calls it, ``record_time_entry`` checks the term again under lock)."""
    violations: list[ValidationError] = []
    if not 0 < minutes <= 24 * 60:
        violations.append(
            rules.RuleViolation(
                "entry-minutes",
                f"a time entry is between 1 minute and 24 hours; {minutes} minutes "
                "were given.",
                field="minutes",
            )
        )
    if activity in OUT_OF_SCOPE:
        if change_order is None:
            violations.append(
                rules.RuleViolation(
                    "out-of-scope",
                    f"“{TimeEntry.Activity(activity).label}” is out of scope for the "
                    "TAM; it is done under an approved change order, so choose one.",
                    field="change_order",
                )
            )
    elif activity not in IN_SCOPE:
        violations.append(
            ValidationError({"activity": f"Unknown activity {activity!r}."})
        )
    if change_order is not None and (
        change_order.contract_id != contract.pk or not change_order.accepts_time
    ):
        violations.append(
            rules.RuleViolation(
                "out-of-scope",
                f"change order {change_order.reference} is not an approved change "
                "order of this contract.",
                field="change_order",
            )
        )
    if ticket is not None and ticket.organization_id != contract.organization_id:
        violations.append(
            ValidationError({"ticket": "The ticket belongs to another organisation."})
        )
    if not agent.is_staff:
        violations.append(ValidationError({"agent": "Only agents log TAM time."}))
    term = _term_violation(contract, worked_on)
    if term is not None:
        violations.append(term)
    _raise(violations)


def _term_violation(
    contract: TAMContract, worked_on: date
) -> rules.RuleViolation | None:
    period = rules.period(contract.starts_on, contract.service_ends_on)
    if contract.status not in TAMContract.CURRENT_STATUSES:
        return rules.RuleViolation(
            "closed-term",
            f"the term {period} is over and its hours were totalled for invoicing; "
            "log this time on the current contract.",
            field="worked_on",
        )
    if not contract.starts_on <= worked_on <= contract.service_ends_on:
        return rules.RuleViolation(
            "entry-in-term",
            f"{rules.long_date(worked_on)} is outside the contract's service period "
            f"({period}).",
            field="worked_on",
        )
    return None


@transaction.atomic
def record_time_entry(
    contract: TAMContract,
    *,
    agent: User,
    worked_on: date,
    minutes: int,
    activity: str,
    ticket: Ticket | None = None,
    change_order: ChangeOrder | None = None,
    note: str = "",
    acting_user: User | None = None,
) -> TimeEntry:
    """Log an agent's time on a contract; return the entry.

    In-scope work draws down the month's bucket; the part beyond the allowance is
    kept and marked best effort. The contract and bucket rows are locked while the
    month's total is read, so concurrent entries queue up instead of both seeing
    room that only one of them can have (and a renewal cannot total the term in
    between). The entry that uses up the allowance sends
    ``tam.signals.bucket_exhausted``.
    """
    validate_time_entry(
        contract,
        agent=agent,
        worked_on=worked_on,
        minutes=minutes,
        activity=activity,
        ticket=ticket,
        change_order=change_order,
    )
    contract = TAMContract.objects.select_for_update().get(pk=contract.pk)
    late = _term_violation(contract, worked_on)  # the sweep may have run meanwhile
    if late is not None:
        raise late
    bucket = (
        HourBucket.objects.select_for_update()
        .filter(contract=contract, starts_on__lte=worked_on, ends_on__gte=worked_on)
        .get()
    )
    in_scope = activity in IN_SCOPE
    used = used_minutes(bucket) if in_scope else 0
    room = max(bucket.allowance_minutes - used, 0)
    entry = TimeEntry(
        contract=contract,
        bucket=bucket,
        agent=agent,
        worked_on=worked_on,
        minutes=minutes,
        activity=activity,
        ticket=ticket,
        change_order=change_order,
        note=note,
        best_effort_minutes=max(minutes - room, 0) if in_scope else 0,
    )
    entry.full_clean()
    entry._history_user = acting_user or agent
    entry.save()
    if in_scope and used < bucket.allowance_minutes <= used + minutes:
        bucket_exhausted.send(
            sender=HourBucket, bucket=bucket, contract=contract, entry=entry
        )
    return entry


# --- meetings ---------------------------------------------------------------------


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
    now: datetime | None = None,
) -> None:
    """Raise a ValidationError if a meeting asked for at ``now`` breaks a rule."""
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
        contract, mode=mode, starts_at=starts_at, country=country, now=now
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


def validate_contract_change(
    contract: TAMContract,
    *,
    tam: User,
    backup_tam: User,
    project_manager: User | None,
) -> None:
    """Raise a ValidationError naming the rules a change of people would break."""
    violations: list[ValidationError] = []
    if not _in_role(tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role", f"{tam} is not an agent in the TAM role.", field="tam"
            )
        )
    if backup_tam == tam:
        violations.append(
            rules.RuleViolation(
                "backup-tam",
                "the backup TAM must be someone other than the named TAM.",
                field="backup_tam",
            )
        )
    elif not _in_role(backup_tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role",
                f"{backup_tam} is not an agent in the TAM role.",
                field="backup_tam",
            )
        )
    if project_manager is None and contract.hours_per_month >= rules.PM_FROM_HOURS:
        violations.append(
            rules.RuleViolation(
                "project-manager",
                f"contracts of {rules.PM_FROM_HOURS} hours a month or more have an "
                "assigned project manager.",
                field="project_manager",
            )
        )
    elif project_manager is not None and not _in_role(
        project_manager, roles.PROJECT_MANAGER
    ):
        violations.append(
            rules.RuleViolation(
                "pm-role",
                f"{project_manager} is not an agent in the Project Manager role.",
                field="project_manager",
            )
        )
    _raise(violations)


@transaction.atomic
def change_contract(
    contract: TAMContract,
    *,
    tam: User,
    backup_tam: User,
    project_manager: User | None,
    auto_renew: bool,
    acting_user: User | None,
) -> TAMContract:
    """Change who works a contract, or whether it renews; the term stays as signed."""
    validate_contract_change(
        contract, tam=tam, backup_tam=backup_tam, project_manager=project_manager
    )
    contract.tam, contract.backup_tam = tam, backup_tam
    contract.project_manager, contract.auto_renew = project_manager, auto_renew
    contract._history_user = acting_user
    contract.save(
        update_fields=[
            "tam",
            "backup_tam",
            "project_manager",
            "auto_renew",
            "updated_at",
        ]
    )
    return contract


# --- routing ----------------------------------------------------------------------


@transaction.atomic
def set_routing(
    organization: Organization, mode: str, *, acting_user: User | None
) -> RoutingPreference:
    """Choose whether all deployment tickets go to the TAM or the customer chooses."""
    preference = RoutingPreference.objects.select_for_update().filter(
        organization=organization
    ).first() or RoutingPreference(organization=organization)
    preference.mode = mode
    preference.full_clean()
    preference._history_user = acting_user
    preference.save()
    return preference


def support_managers() -> list[User]:
    """Return the active agents in the Support Manager role."""
    return roles.members(roles.SUPPORT_MANAGER)


# --- the monthly hours report ---------------------------------------------------------


def previous_month(day: date) -> date:
    """Return the first day of the month before ``day``'s: 2026-01-15 -> 2025-12-01."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


@transaction.atomic
def send_monthly_hours_report(*, now: datetime | None = None) -> dict:
    """Queue last month's hours report for every Support Manager, through the outbox.

    It goes out on the first business day of the month (Janrain's Pacific calendar)
    or on the first run after it, so a worker that was down that day catches up;
    the outbox key (month and address) makes a second run queue nothing.
    """
    from helpdesk.emails import queue_email
    from helpdesk.models import OutboundEmail

    now = now or timezone.now()
    schedule = schedule_for_location(TAMProfile.Location.US_PACIFIC)
    today = now.astimezone(schedule.zone).date()
    first_business_day = terms.first_working_day_of_month(
        schedule, today.year, today.month
    )
    month = previous_month(today)
    if today < first_business_day:
        return {"month": f"{month:%Y-%m}", "queued": 0, "waiting": True}
    managers = support_managers()
    keys = {m.email: f"tam-hours-report:{month:%Y-%m}:{m.email}" for m in managers}
    already = set(
        OutboundEmail.objects.filter(key__in=keys.values()).values_list(
            "key", flat=True
        )
    )
    todo = [m for m in managers if keys[m.email] not in already]
    if todo:
        report = report_queries.month_report(month)
        path = reverse("tam:month", args=[month.year, month.month])
        for manager in todo:
            queue_email(
                key=keys[manager.email],
                to=manager.email,
                template="tam_hours_report",
                context={"report": report, "manager": manager, "report_path": path},
            )
    return {"month": f"{month:%Y-%m}", "queued": len(todo), "waiting": False}
