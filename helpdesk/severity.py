"""Severity changes (SPEC §3.2, §6): upgrades with a justification, caps, the named
contact for the most severe levels, and downgrades that notify the customer or wait
for their agreement, per plan. On plans that say so (Jelastic: "providing the
customer is in agreement") an agent's upgrade waits for the customer's agreement too.
Every applied change recomputes the SLO clocks."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.rules import may_file_tickets
from helpdesk import clocks, continuous_effort
from helpdesk.attainment import rollups
from helpdesk.emails import queue_email
from helpdesk.models import SeverityChange, Ticket
from helpdesk.secrets_guard import secret_errors
from helpdesk.services import post_event
from policies.models import Severity
from policies.rules import severity_cap_error
from policies.slo import due_for

MIN_JUSTIFICATION = 20


class SeverityConflict(ValidationError):
    """Someone else changed the ticket's severity first."""


@transaction.atomic
def request_severity_change(
    ticket: Ticket,
    to_severity: Severity,
    *,
    actor: User,
    reason: str,
    expected: Severity | None,
    customer_contact: str = "",
    now: datetime | None = None,
) -> SeverityChange:
    """Change a ticket's severity, or ask the customer to agree to a downgrade.

    ``expected`` is the severity the actor saw: if the ticket moved on meanwhile
    (another agent got there first) the request is refused with a conflict message
    and nothing changes.
    """
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().select_related("plan").get(pk=ticket.pk)
    current = ticket.severity
    if expected is not None and current != expected:
        raise SeverityConflict(
            f"{ticket.reference} was changed to {current} by someone else while you "
            "were looking at it. Check the new severity and try again."
        )
    _check_allowed(ticket, actor, now)
    plan = ticket.plan
    errors: dict[str, list[str]] = {}
    if current is None or to_severity.plan_id != plan.pk:
        raise ValidationError(f"{to_severity} is not a severity of the {plan} plan.")
    if to_severity == current:
        errors["to_severity"] = [f"The ticket is already {current}."]
    is_upgrade = to_severity.level < current.level
    cap = severity_cap_error(plan, ticket.component, to_severity, ticket.product)
    if cap:
        errors["to_severity"] = [cap]
    if SeverityChange.objects.filter(
        ticket=ticket, state=SeverityChange.State.AWAITING_CUSTOMER
    ).exists():
        errors["to_severity"] = [
            "A severity change is waiting for the customer's agreement; it must be "
            "accepted or declined first."
        ]
    reason = reason.strip()
    if (
        is_upgrade
        and plan.upgrade_needs_justification
        and len(reason) < MIN_JUSTIFICATION
    ):
        errors["reason"] = [
            f"An upgrade to {to_severity} needs a justification that shows the "
            "increased impact on production (who is affected, what no longer works)."
        ]
    elif not reason:
        errors["reason"] = ["Say why the severity should change."]
    contact = customer_contact.strip() or ticket.customer_contact
    if to_severity.requires_customer_contact and not contact:
        errors["customer_contact"] = [
            f"{to_severity} needs a named person at the customer who is available "
            "while we work on it, and how to reach them."
        ]
    # Both are shown to the customer and the reason goes out by e-mail.
    for name, messages in secret_errors(
        {"reason": reason, "customer_contact": customer_contact}
    ).items():
        errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if contact != ticket.customer_contact:
        ticket.customer_contact = contact
        ticket._history_user = actor
        ticket.save(update_fields=["customer_contact", "updated_at"])

    waits = needs_customer_agreement(plan, is_upgrade=is_upgrade, actor=actor)
    change = SeverityChange.objects.create(
        ticket=ticket,
        from_severity=current,
        to_severity=to_severity,
        direction=(
            SeverityChange.Direction.UPGRADE
            if is_upgrade
            else SeverityChange.Direction.DOWNGRADE
        ),
        requested_by=actor,
        reason=reason,
        state=SeverityChange.State.AWAITING_CUSTOMER
        if waits
        else SeverityChange.State.APPLIED,
        decided_by=None if waits else actor,
        decided_at=None if waits else now,
    )
    if waits:
        verb = "raise" if is_upgrade else "lower"
        post_event(
            ticket,
            actor,
            f"Support proposes to {verb} the severity from {current} to "
            f"{to_severity}: {reason}\nIt changes only if you agree.",
        )
        _mail_customer(ticket, change, "severity_proposed")
    else:
        _apply(ticket, change, actor, now)
    return change


def needs_customer_agreement(plan, *, is_upgrade: bool, actor: User) -> bool:
    """Return whether an agent's change waits for the customer's agreement.

    A customer's own request is their agreement. Jelastic: a downgrade and an
    upgrade both wait (``downgrade_needs_customer_agreement``,
    ``upgrade_needs_customer_agreement``); Janrain: neither does.
    """
    if not actor.is_staff:
        return False
    if is_upgrade:
        return plan.upgrade_needs_customer_agreement
    return plan.downgrade_needs_customer_agreement


@transaction.atomic
def decide_downgrade(
    change: SeverityChange, *, accept: bool, actor: User, now: datetime | None = None
) -> SeverityChange:
    """The customer accepts or declines a proposed change (a downgrade, or an
    upgrade on plans where upgrades need agreement too)."""
    now = now or timezone.now()
    change = SeverityChange.objects.select_for_update().get(pk=change.pk)
    ticket = Ticket.objects.select_for_update().get(pk=change.ticket_id)
    if change.state != SeverityChange.State.AWAITING_CUSTOMER:
        raise ValidationError("This proposal has already been decided.")
    _check_allowed(ticket, actor, now)
    if actor.is_staff or not may_file_tickets(
        actor, ticket.organization, today=timezone.localdate(now)
    ):
        raise ValidationError(
            "Only the customer's Support Administrators can agree to a severity change."
        )
    if ticket.severity_id != change.from_severity_id:
        raise SeverityConflict(
            "The ticket's severity changed since this was proposed; ask support again."
        )
    change.decided_by, change.decided_at = actor, now
    change._history_user = actor
    if accept:
        change.state = SeverityChange.State.APPLIED
        change.save(update_fields=["state", "decided_by", "decided_at"])
        _apply(ticket, change, actor, now, agreed=True)
    else:
        change.state = SeverityChange.State.REJECTED
        change.save(update_fields=["state", "decided_by", "decided_at"])
        verb = (
            "raising"
            if change.direction == SeverityChange.Direction.UPGRADE
            else "lowering"
        )
        post_event(
            ticket,
            actor,
            f"The customer declined {verb} the severity to {change.to_severity}; "
            f"it stays {change.from_severity}.",
        )
    return change


def _apply(
    ticket: Ticket, change: SeverityChange, actor: User, now: datetime, agreed=False
) -> None:
    ticket.severity = change.to_severity
    fields = continuous_effort.follow_severity(ticket, at=now)
    ticket._history_user = actor
    ticket.save(update_fields=["severity", *fields, "updated_at"])
    if "assignee" in fields:  # an on-call engineer took the new Sev1
        clocks.follow_assignee(ticket)
    # The clocks' outcomes so far now count under the new severity.
    rollups.ticket_moved(
        ticket, plan_id=ticket.plan_id, severity_id=change.from_severity_id
    )
    clocks.change_targets(
        ticket,
        due_for(ticket.plan, change.to_severity, ticket.created_at),
        at=now,
        actor=actor,
    )
    how = " with your agreement" if agreed else ""
    post_event(
        ticket,
        actor,
        f"Severity {change.get_direction_display().lower()}d from "
        f"{change.from_severity} to {change.to_severity}{how}: {change.reason}",
    )
    if (
        change.direction == SeverityChange.Direction.DOWNGRADE
        and actor.is_staff
        and ticket.plan.downgrade_notifies_customer
        and not agreed
    ):
        _mail_customer(ticket, change, "severity_changed")
    continuous_effort.after_severity_change(ticket, at=now, actor=actor)


def _check_allowed(ticket: Ticket, actor: User, now: datetime) -> None:
    if ticket.status in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
        raise ValidationError(
            f"{ticket.reference} is {ticket.get_status_display().lower()}; its "
            "severity no longer changes."
        )
    if not actor.is_staff:
        decision = may_file_tickets(actor, ticket.organization, today=now.date())
        if not decision:
            raise ValidationError(decision.reason)


def _mail_customer(ticket: Ticket, change: SeverityChange, template: str) -> None:
    queue_email(
        key=f"{template}:{change.pk}",
        to=ticket.requester.email,
        template=template,
        context={"recipient": ticket.requester, "change": change},
        ticket=ticket,
    )
