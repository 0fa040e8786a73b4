"""Sev1 continuous effort (Janrain, issue 15 §3.4).

"Janrain will provide continuous efforts (24x7x365) to resolve Severity 1 ...
until a workaround or resolution can be provided or until the incident can be
downgraded." A ticket of a continuous-effort severity
(``Severity.is_continuous_effort``):

- always has an assignee: it is given one at filing (an on-call member of its team,
  the one with the fewest such tickets) and cannot be unassigned;
- while it is unassigned or unanswered, every on-call engineer is paged at once, and
  the Support Managers after ``HELPDESK_SEV1_MANAGER_PAGE_MINUTES`` (the beat task
  ``helpdesk.page_sev1_managers``), once;
- an agent may record "workaround provided", which ends the obligation (no more
  pages) while the resolution clock runs on; a downgrade or the resolution end it too.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts import roles
from accounts.models import TeamMembership, User
from helpdesk.emails import queue_email
from helpdesk.models import Ticket
from helpdesk.secrets_guard import secret_errors

logger = logging.getLogger(__name__)

_CLOSED = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)


def is_continuous(ticket: Ticket) -> bool:
    """Return whether the ticket's severity is worked around the clock."""
    return bool(ticket.severity_id and ticket.severity.is_continuous_effort)


def obligation_active(ticket: Ticket) -> bool:
    """Return whether the ticket is still owed continuous effort."""
    return (
        ticket.continuous_effort_since_at is not None
        and ticket.workaround_provided_at is None
        and ticket.status not in _CLOSED
    )


def manager_delay() -> timedelta:
    return timedelta(minutes=settings.HELPDESK_SEV1_MANAGER_PAGE_MINUTES)


def on_call_agents() -> list[User]:
    """Every active agent on call in any team, by e-mail."""
    return list(
        User.objects.filter(
            team_memberships__is_on_call=True, is_active=True, is_staff=True
        )
        .distinct()
        .order_by("email")
    )


def choose_assignee(ticket: Ticket) -> User | None:
    """Return the on-call member of the ticket's team (else of any team) with the
    fewest open continuous-effort tickets, ties by e-mail; None if nobody is on
    call. One query."""
    on_call = TeamMembership.objects.filter(user=OuterRef("pk"), is_on_call=True)
    return (
        User.objects.filter(Exists(on_call), is_active=True, is_staff=True)
        .annotate(
            in_team=Exists(on_call.filter(team_id=ticket.team_id)),
            load=Count(
                "assigned_tickets",
                filter=Q(
                    assigned_tickets__continuous_effort_since_at__isnull=False,
                    assigned_tickets__workaround_provided_at__isnull=True,
                )
                & ~Q(assigned_tickets__status__in=_CLOSED),
            ),
        )
        .order_by("-in_team", "load", "email")
        .first()
    )


def start_at_filing(ticket: Ticket, *, at: datetime) -> None:
    """Set up a new ticket before it is saved: the continuous effort starts and an
    on-call engineer is assigned if nobody is."""
    if not is_continuous(ticket):
        return
    ticket.continuous_effort_since_at = at
    if ticket.assignee_id is None:
        ticket.assignee = choose_assignee(ticket)


def follow_severity(ticket: Ticket, *, at: datetime) -> list[str]:
    """Start or end the continuous effort when the severity changes; return the
    fields changed (the caller saves them with the severity)."""
    if is_continuous(ticket) and ticket.continuous_effort_since_at is None:
        ticket.continuous_effort_since_at = at
        ticket.managers_paged_at = None
        ticket.workaround_provided_at = None
        ticket.workaround_provided_by = None
        fields = [
            "continuous_effort_since_at",
            "managers_paged_at",
            "workaround_provided_at",
            "workaround_provided_by",
        ]
        if ticket.assignee_id is None:
            ticket.assignee = choose_assignee(ticket)
            fields.append("assignee")
        return fields
    if not is_continuous(ticket) and ticket.continuous_effort_since_at is not None:
        # Downgraded: the obligation ends (the history keeps when it began).
        ticket.continuous_effort_since_at = None
        return ["continuous_effort_since_at"]
    return []


def after_filing(ticket: Ticket, *, actor: User) -> None:
    """Page for a new continuous-effort ticket (it is unanswered by definition)."""
    if obligation_active(ticket):
        page(ticket, at=ticket.continuous_effort_since_at)
    if ticket.assignee_id is not None:
        # An on-call assignee or the TAM: told either way.
        from helpdesk import routing

        routing.notify_assignee(ticket, actor=actor)


def after_severity_change(ticket: Ticket, *, at: datetime, actor: User) -> None:
    """Page when a change made the ticket continuous-effort and it is unassigned or
    unanswered; tell an assignee chosen for it."""
    if not obligation_active(ticket) or ticket.continuous_effort_since_at != at:
        return
    if ticket.assignee_id is None or ticket.first_responded_at is None:
        page(ticket, at=at)
    if ticket.assignee_id is not None:
        from helpdesk import routing

        routing.notify_assignee(ticket, actor=actor)


def page(ticket: Ticket, *, at: datetime) -> int:
    """Page every on-call engineer about ``ticket`` (once per continuous-effort
    start); when nobody is on call, page the managers at once instead. Return the
    number of pages queued."""
    agents = on_call_agents()
    if not agents:
        return _page_managers(ticket, at=at)
    stamp = int(at.timestamp())
    for agent in agents:
        queue_email(
            key=f"sev1-page:{ticket.pk}:{stamp}:{agent.pk}",
            to=agent.email,
            template="sev1_page",
            context={"recipient": agent, "managers": False},
            ticket=ticket,
        )
    return len(agents)


def _page_managers(ticket: Ticket, *, at: datetime) -> int:
    managers = roles.members(roles.SUPPORT_MANAGER)
    stamp = int(ticket.continuous_effort_since_at.timestamp())
    for manager in managers:
        queue_email(
            key=f"sev1-managers:{ticket.pk}:{stamp}:{manager.pk}",
            to=manager.email,
            template="sev1_page",
            context={"recipient": manager, "managers": True},
            ticket=ticket,
        )
    return len(managers)


def waiting_for_managers(now: datetime):
    """Continuous-effort tickets, unassigned or unanswered for longer than the
    delay, whose managers have not been paged (the ``tkt_continuous_effort`` index)."""
    return Ticket.objects.filter(
        Q(assignee__isnull=True) | Q(first_responded_at__isnull=True),
        continuous_effort_since_at__lte=now - manager_delay(),
        managers_paged_at__isnull=True,
        workaround_provided_at__isnull=True,
    ).exclude(status__in=_CLOSED)


def page_managers_due(*, now: datetime | None = None) -> int:
    """Page the Support Managers about every Sev1 ticket still unassigned or
    unanswered after the delay, exactly once each; return how many tickets."""
    now = now or timezone.now()
    paged = 0
    for pk in list(waiting_for_managers(now).values_list("pk", flat=True)[:500]):
        try:
            with transaction.atomic():
                ticket = (
                    waiting_for_managers(now)
                    .select_for_update(of=("self",))
                    .select_related("organization", "severity")
                    .filter(pk=pk)
                    .first()
                )
                if ticket is None:  # answered, or paged by another worker
                    continue
                ticket.managers_paged_at = now
                ticket.save(update_fields=["managers_paged_at", "updated_at"])
                _page_managers(ticket, at=now)
                paged += 1
        except Exception:
            logger.exception("paging the managers about ticket %s failed", pk)
    return paged


@transaction.atomic
def record_workaround(
    ticket: Ticket, *, actor: User, note: str, now: datetime | None = None
) -> Ticket:
    """Record that a workaround was provided: the continuous effort ends (no more
    pages), the customer sees it, and the resolution clock runs on."""
    from helpdesk.services import post_event

    if not actor.has_perm("helpdesk.change_ticket"):
        raise PermissionDenied("You may not work tickets.")
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    if ticket.continuous_effort_since_at is None:
        raise ValidationError(
            f"{ticket.reference} is not worked around the clock; there is no "
            "continuous effort to end."
        )
    if ticket.workaround_provided_at is not None:
        raise ValidationError(
            f"A workaround is already recorded on {ticket.reference}."
        )
    if ticket.status in _CLOSED:
        raise ValidationError(
            f"{ticket.reference} is {ticket.get_status_display().lower()}."
        )
    note = note.strip()
    if not note:
        raise ValidationError({"note": ["Describe the workaround for the customer."]})
    if errors := secret_errors({"note": note}):
        raise ValidationError(errors)
    ticket.workaround_provided_at, ticket.workaround_provided_by = now, actor
    ticket._history_user = actor
    ticket.save(
        update_fields=["workaround_provided_at", "workaround_provided_by", "updated_at"]
    )
    post_event(
        ticket,
        actor,
        f"Workaround provided: {note}\nWe keep working on the resolution.",
    )
    return ticket


def report(since: datetime, until: datetime) -> list[dict]:
    """Per month and plan, tickets that began continuous effort in [since, until):
    how many, how many got a workaround, and how many paged the managers."""
    rows = (
        Ticket.objects.filter(
            continuous_effort_since_at__gte=since, continuous_effort_since_at__lt=until
        )
        .annotate(month=TruncMonth("continuous_effort_since_at"))
        .values("month", "plan__name")
        .annotate(
            tickets=Count("pk"),
            workarounds=Count("pk", filter=Q(workaround_provided_at__isnull=False)),
            managers_paged=Count("pk", filter=Q(managers_paged_at__isnull=False)),
        )
        .order_by("-month", "plan__name")
    )
    return [
        {
            "month": row["month"],
            "plan": row["plan__name"],
            "tickets": row["tickets"],
            "workarounds": row["workarounds"],
            "managers_paged": row["managers_paged"],
        }
        for row in rows
    ]
