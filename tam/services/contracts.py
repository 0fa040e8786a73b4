"""Signing a TAM contract: the draft, its rules, creation with monthly buckets and
meetings, and the term's unused allowance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts import roles
from tam import report_queries, reports, rules, terms
from tam.models import HourBucket, TAMContract
from tam.routing import local_date, tam_schedule
from tam.services._common import Status, _in_role, _raise
from tam.services.meetings import generate_meetings

if TYPE_CHECKING:
    from accounts.models import Organization, User


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
    unused_hours: str = TAMContract.UnusedHours.ROLL_OVER


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
    unlicensed = rules.check_licence(
        organization=str(organization),
        licence_ends_on=organization.licence_active_until,
        starts_on=draft.starts_on,
        renewal=False,
    )
    if unlicensed is not None:
        violations.append(unlicensed)
    if draft.unused_hours not in TAMContract.UnusedHours.values:
        violations.append(
            ValidationError({"unused_hours": f"Unknown choice {draft.unused_hours!r}."})
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
        unused_hours=draft.unused_hours,
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
    """Return the term's unused allowance: per month, what the month did not use.

    Banked hours of the previous term scheduled into a month are used first and
    never carried again: they were for use within this term.
    """
    buckets = list(contract.buckets.all())
    totals = report_queries.bucket_totals([b.pk for b in buckets])
    return reports.unused_of_term(
        reports.own_allowance_and_use(
            bucket.allowance_minutes,
            bucket.banked_minutes,
            totals[bucket.pk].used if bucket.pk in totals else 0,
        )
        for bucket in buckets
    )
