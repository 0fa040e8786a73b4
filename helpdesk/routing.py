"""Which team works a new ticket, and who hears of it (issue 15 §3.5, issue 12 §3).

Janrain: "In order to route the ticket to the appropriate team ... please indicate
if this is a deployment or production issue." A production ticket goes to the
production support team, a deployment ticket to deployment support, and a ticket
routed to the customer's TAM (``tam.routing``) to the TAM team. The team's members are
e-mailed at once through the outbox, whatever the severity (before this, nobody heard
of a new Sev2 until its 75% warning), and an assignee hears of each assignment.
"""

from __future__ import annotations

import copy

from django.db import connection

from accounts.models import Team, User
from helpdesk.emails import queue_email
from helpdesk.models import Ticket

KIND_BY_ENVIRONMENT = {
    Ticket.Environment.PRODUCTION: Team.Kind.PRODUCTION,
    Ticket.Environment.DEPLOYMENT: Team.Kind.DEPLOYMENT,
}


def team_kind(environment: str, *, is_tam_routed: bool) -> str | None:
    """Return the kind of team for a ticket: the TAM's when TAM-routed, else by
    environment."""
    if is_tam_routed:
        return Team.Kind.TAM
    return KIND_BY_ENVIRONMENT.get(environment)


def team_for(environment: str, *, is_tam_routed: bool) -> Team | None:
    """Return the team a new ticket goes to, or None when no such team exists yet."""
    kind = team_kind(environment, is_tam_routed=is_tam_routed)
    return _team_of_kind(kind) if kind else None


# Team rows read by _team_of_kind -> the Team built from them, in this process.
_teams: dict[tuple, Team] = {}


def _team_of_kind(kind: str) -> Team | None:
    """Return the team of ``kind`` (the first by name, as ``Team`` orders).

    Filing runs this for every ticket: the row is read each time, in the filing's
    transaction (a team renamed, added or removed in another process counts at
    once), by fixed SQL instead of a compiled queryset, and the instance built from
    a row is reused for the same row; each call gets its own copy."""
    opts = Team._meta
    fields = opts.concrete_fields
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(quote(f.column) for f in fields)} "
            f"FROM {quote(opts.db_table)} WHERE {quote(opts.get_field('kind').column)}"
            f" = %s ORDER BY {quote(opts.get_field('name').column)} LIMIT 1",
            [kind],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    row = tuple(row)
    team = _teams.get(row)
    if team is None:
        if len(_teams) >= 64:
            _teams.clear()
        team = _teams[row] = Team.from_db(
            connection.alias, [f.attname for f in fields], row
        )
    return copy.copy(team)


def team_members(team: Team | None) -> list[User]:
    if team is None:
        return []
    return list(
        team.members.filter(is_active=True, is_staff=True).order_by("email").distinct()
    )


def notify_team(ticket: Ticket) -> int:
    """E-mail every member of the ticket's team about the new ticket, once each;
    return how many."""
    members = team_members(ticket.team)
    for member in members:
        queue_email(
            key=f"ticket-routed:{ticket.pk}:{member.pk}",
            to=member.email,
            template="ticket_routed",
            context={"recipient": member},
            ticket=ticket,
        )
    return len(members)


def notify_assignee(ticket: Ticket, *, actor: User | None) -> bool:
    """E-mail the ticket's assignee that it is theirs, unless they assigned it to
    themselves; one e-mail per assignment (the ticket's history record)."""
    assignee = ticket.assignee
    if assignee is None or assignee == actor:
        return False
    version = ticket.history.values_list("history_id", flat=True).first()
    queue_email(
        key=f"ticket-assigned:{ticket.pk}:{assignee.pk}:{version}",
        to=assignee.email,
        template="ticket_assigned",
        context={"recipient": assignee},
        ticket=ticket,
    )
    return True
