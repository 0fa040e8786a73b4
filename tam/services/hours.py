"""Logging TAM time: the rules of a time entry and recording it against the month's
bucket (best effort beyond the allowance, under row locks)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from accounts import roles
from accounts.models import User
from tam import rules
from tam.models import (
    IN_SCOPE,
    OUT_OF_SCOPE,
    ChangeOrder,
    HourBucket,
    TAMContract,
    TimeEntry,
)
from tam.routing import used_minutes
from tam.services._common import _in_role, _raise
from tam.signals import bucket_exhausted

if TYPE_CHECKING:
    from helpdesk.models import Ticket


def bookable_agents() -> QuerySet[User]:
    """Return whom time can be logged for: active staff users in an agent role.

    Customers, deactivated agents and staff accounts without a role are never
    listed (the choice lists of the console and the ticket page use this).
    """
    return (
        User.objects.filter(
            is_active=True, is_staff=True, groups__name__in=roles.AGENT_ROLES
        )
        .distinct()
        .order_by("full_name", "email")
    )


def is_agent(user: User | None) -> bool:
    """Return whether ``user`` is an active agent in one of the agent roles."""
    if user is None or not user.is_active or not user.is_staff:
        return False
    return user.groups.filter(name__in=roles.AGENT_ROLES).exists()


def may_log_time_for_others(user: User | None) -> bool:
    """Return whether ``user`` may log time in another agent's name: Support
    Managers and superusers; everyone else logs only their own time."""
    if user is None or not user.is_active:
        return False
    return user.is_superuser or _in_role(user, roles.SUPPORT_MANAGER)


def _agent_violation(agent: User, acting_user: User | None) -> ValidationError | None:
    if not is_agent(agent):
        return ValidationError(
            {
                "agent": ValidationError(
                    f"Only agents log TAM time: {agent} is not an active agent in "
                    "an agent role.",
                    code="not-an-agent",
                )
            }
        )
    if (
        acting_user is not None
        and acting_user.pk != agent.pk
        and not may_log_time_for_others(acting_user)
    ):
        return ValidationError(
            {
                "agent": ValidationError(
                    f"You may log only your own time, not {agent}'s; a Support "
                    "Manager logs time in another agent's name.",
                    code="someone-elses-time",
                )
            }
        )
    return None


def validate_time_entry(
    contract: TAMContract,
    *,
    agent: User,
    worked_on: date,
    minutes: int,
    activity: str,
    ticket: Ticket | None = None,
    change_order: ChangeOrder | None = None,
    acting_user: User | None = None,
) -> None:
    """Raise a ValidationError naming every rule a time entry breaks (no locks: the
    admin form calls it, ``record_time_entry`` checks the term again under lock).

    The agent is an active agent in an agent role, and it is ``acting_user``
    themself unless ``acting_user`` is a Support Manager or a superuser. Without an
    ``acting_user`` the agent is taken to log their own time.
    """
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
    agent_violation = _agent_violation(agent, acting_user)
    if agent_violation is not None:
        violations.append(agent_violation)
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

    ``acting_user`` is who books it (the history records them): an agent logs their
    own time, a Support Manager or a superuser may log anyone's. Every page that
    books time passes the logged-in user; ``None`` means the agent books their own
    time (scripts and imports run in the agent's name).

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
        acting_user=acting_user,
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
