"""A contract's life after signing: activation, automatic renewal with rollover,
the 45-day grace period and written termination notices (the daily sweep)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tam import rules, terms
from tam.models import Meeting, TAMContract, UnusedHours
from tam.routing import local_date
from tam.services import licence
from tam.services._common import Status
from tam.services.contracts import _create_buckets, unused_minutes
from tam.services.meetings import generate_meetings

if TYPE_CHECKING:
    from accounts.models import Organization, User

logger = logging.getLogger(__name__)


def renew_due_contracts(*, now: datetime | None = None) -> dict[str, int]:
    """Move every contract along its life for the day ``now`` falls on locally.

    Scheduled contracts whose start has come become active; an active contract whose
    term has ended renews (a new term of the same length, starting the day after,
    with the unused minutes rolled over, banked or lapsed as the contract says)
    unless it has a written notice or does not auto-renew, in which case it ends;
    a renewal the customer's licence does not cover is refused: the contract ends
    with the reason and the Support Managers are e-mailed. A renewed contract ends
    once its 45-day grace period is over. Idempotent and safe to run late: each
    step depends on the dates only, a renewal is made at most once per contract (a
    one-to-one column), and chains of missed renewals are caught up in one run.
    """
    now = now or timezone.now()
    counts = {"activated": 0, "renewed": 0, "ended": 0, "refused": 0, "failed": 0}
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
        refusal = (
            licence.renewal_refusal(contract)
            if contract.auto_renew and contract.notice_received_on is None
            else None
        )
        if refusal is not None:
            licence.refuse_renewal(contract, refusal)
            done.append("refused")
        elif contract.auto_renew and contract.notice_received_on is None:
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
    unused = unused_minutes(contract)
    choice = contract.unused_hours
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
        unused_hours=choice,
        rolled_over_minutes=unused if choice == UnusedHours.ROLL_OVER else 0,
        banked_minutes=unused if choice == UnusedHours.BANK else 0,
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
