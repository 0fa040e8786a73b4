"""Customer escalations (JumpCloud, SPEC §6): managers alerted at once, an escalation
engineer assigned, and no de-escalation before three recorded checks.

An escalation cannot be sidestepped (issue 15 §3.3): an escalated ticket is neither
resolved nor closed until it is de-escalated, and only an escalation engineer or a
support manager de-escalates."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from accounts.rules import may_file_tickets
from helpdesk.emails import queue_email
from helpdesk.lifecycle import IllegalTransition
from helpdesk.models import Escalation, Ticket
from helpdesk.secrets_guard import secret_errors
from helpdesk.services import post_event

# The checks of SPEC §6, in order: field prefix and what it means.
CHECKS = {
    "action_plan": "an acceptable action plan is confirmed",
    "process": "troubleshooting and problem analysis follow proper process",
    "parties": "all parties agree the request can be de-escalated",
}
# Each check's (who, when, note) fields on Escalation; the console reads them too.
CHECK_FIELDS = {
    "action_plan": (
        "action_plan_confirmed_by",
        "action_plan_confirmed_at",
        "action_plan_note",
    ),
    "process": ("process_verified_by", "process_verified_at", "process_note"),
    "parties": ("parties_agree_by", "parties_agree_at", "parties_note"),
}


DE_ESCALATING_ROLES = (roles.ESCALATION_ENGINEER, roles.SUPPORT_MANAGER)


def may_de_escalate(user: User) -> bool:
    """Return whether ``user`` may end an escalation: an active agent who is an
    Escalation Engineer or a Support Manager (being a superuser is not enough)."""
    return (
        user.is_active
        and user.is_staff
        and user.groups.filter(name__in=DE_ESCALATING_ROLES).exists()
    )


def refuse_ending(ticket: Ticket, status: str) -> None:
    """Raise IllegalTransition: ``ticket`` is escalated, so it may not become
    ``status`` (resolved or closed) before it is de-escalated."""
    escalation = ticket.escalations.filter(de_escalated_at__isnull=True).first()
    missing = missing_checks(escalation) if escalation else []
    todo = (
        " Still to record: that " + "; that ".join(missing) + "."
        if missing
        else " All three checks are recorded: de-escalate it."
    )
    raise IllegalTransition(
        f"{ticket.reference} is escalated and cannot be "
        f"{Ticket.Status(status).label.lower()} until an escalation engineer or a "
        f"support manager de-escalates it.{todo}"
    )


def missing_checks(escalation: Escalation) -> list[str]:
    return [
        words
        for check, words in CHECKS.items()
        if getattr(escalation, CHECK_FIELDS[check][1]) is None
    ]


@transaction.atomic
def request_escalation(
    ticket: Ticket, *, actor: User, reason: str, now: datetime | None = None
) -> Escalation:
    """A customer escalates a ticket whose progress is not as expected."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if not actor.is_staff:
        decision = may_file_tickets(actor, ticket.organization, today=now.date())
        if not decision:
            raise ValidationError(decision.reason)
    if ticket.status == Ticket.Status.CLOSED:
        raise ValidationError("A closed ticket cannot be escalated; file a new one.")
    if not reason.strip():
        raise ValidationError({"reason": ["Say what is not progressing as expected."]})
    if errors := secret_errors({"reason": reason}):  # e-mailed to the managers
        raise ValidationError(errors)
    if ticket.is_escalated:
        raise ValidationError(f"{ticket.reference} is already escalated.")
    try:
        with transaction.atomic():
            escalation = Escalation.objects.create(
                ticket=ticket, requested_by=actor, reason=reason.strip()
            )
    except IntegrityError:
        raise ValidationError(f"{ticket.reference} is already escalated.") from None
    ticket.is_escalated = True
    ticket._history_user = actor
    ticket.save(update_fields=["is_escalated", "updated_at"])
    post_event(ticket, actor, f"Escalation requested: {reason.strip()}")
    for manager in roles.members(roles.SUPPORT_MANAGER):
        queue_email(
            key=f"escalated:{escalation.pk}:{manager.pk}",
            to=manager.email,
            template="escalation_requested",
            context={"recipient": manager, "escalation": escalation},
            ticket=ticket,
        )
    return escalation


@transaction.atomic
def assign_engineer(
    escalation: Escalation, engineer: User, *, actor: User
) -> Escalation:
    if not engineer.groups.filter(name=roles.ESCALATION_ENGINEER).exists():
        raise ValidationError(
            {"engineer": [f"{engineer} is not an Escalation Engineer."]}
        )
    escalation.engineer = engineer
    escalation._history_user = actor
    escalation.save(update_fields=["engineer"])
    queue_email(
        key=f"escalation-assigned:{escalation.pk}:{engineer.pk}",
        to=engineer.email,
        template="escalation_requested",
        context={"recipient": engineer, "escalation": escalation},
        ticket=escalation.ticket,
    )
    return escalation


@transaction.atomic
def record_check(
    escalation: Escalation,
    check: str,
    *,
    actor: User,
    note: str,
    now: datetime | None = None,
) -> Escalation:
    """Record one de-escalation check with who, when and a note."""
    if check not in CHECKS:
        raise ValidationError(f"{check!r} is not a de-escalation check.")
    if not actor.is_staff:
        raise ValidationError("Only support staff record de-escalation checks.")
    if not note.strip():
        raise ValidationError({"note": [f"Note how {CHECKS[check]}."]})
    if errors := secret_errors({"note": note}):
        raise ValidationError(errors)
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if not escalation.is_open:
        raise ValidationError("This escalation has ended.")
    by, at, note_field = CHECK_FIELDS[check]
    setattr(escalation, by, actor)
    setattr(escalation, at, now or timezone.now())
    setattr(escalation, note_field, note.strip())
    escalation._history_user = actor
    escalation.save(update_fields=[by, at, note_field])
    return escalation


@transaction.atomic
def de_escalate(
    escalation: Escalation, *, actor: User, now: datetime | None = None
) -> Escalation:
    """End the escalation, but only once every check is recorded, and only by an
    escalation engineer or a support manager."""
    if not may_de_escalate(actor):
        raise PermissionDenied(
            "Only an escalation engineer or a support manager can de-escalate."
        )
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if not escalation.is_open:
        raise ValidationError("This escalation has already ended.")
    missing = missing_checks(escalation)
    if missing:
        raise ValidationError(
            "Not de-escalated yet: still to record that "
            + "; that ".join(missing)
            + "."
        )
    escalation.de_escalated_by, escalation.de_escalated_at = (
        actor,
        now or timezone.now(),
    )
    escalation._history_user = actor
    escalation.save(update_fields=["de_escalated_by", "de_escalated_at"])
    ticket = Ticket.objects.select_for_update().get(pk=escalation.ticket_id)
    ticket.is_escalated = False
    ticket._history_user = actor
    ticket.save(update_fields=["is_escalated", "updated_at"])
    post_event(
        ticket,
        actor,
        "De-escalated: action plan confirmed, process verified, all parties agreed.",
    )
    return escalation
