"""The views an agent expects one click away, and their counts in one query.

Each view is a condition on the ticket's own columns that one of the console's
indexes answers (``helpdesk.models``: ``tkt_urgency``, ``tkt_open_assignee``,
``tkt_open_status``, ``tkt_escalated``, ``tkt_open_team``), so a view's page walks
an index in urgency order and its count reads a short index range, whatever the
number of tickets. "My team's" takes the agent's teams in a subquery of the same
statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from operator import or_

from django.db.models import Count, Q

from accounts.models import TeamMembership
from helpdesk.console import urgency
from helpdesk.models import Ticket

SOON = timedelta(hours=1)


@dataclass(frozen=True)
class Queue:
    slug: str
    label: str
    title: str  # the tab's tooltip: what the view holds


QUEUES = (
    Queue("mine", "My tickets", "Open tickets assigned to you"),
    Queue("unassigned", "Unassigned", "Open tickets nobody is assigned to"),
    Queue("team", "My team's", "Open tickets routed to a team you are in"),
    Queue("breached", "Breached", "Open tickets with a clock past its due instant"),
    Queue(
        "due_soon",
        "Breaching within the hour",
        "Open tickets whose next SLO due instant is in the coming hour",
    ),
    Queue("escalated", "Escalated", "Tickets escalated and not yet de-escalated"),
    Queue(
        "waiting",
        "Waiting on customer",
        "Open tickets waiting on the customer (resolution clock paused)",
    ),
)
BY_SLUG = {queue.slug: queue for queue in QUEUES}


def condition(slug: str, *, user, now: datetime) -> Q:
    """Return the filter of view ``slug`` for ``user`` at ``now``."""
    if slug == "mine":
        return Q(assignee=user) & urgency.OPEN
    if slug == "unassigned":
        return Q(assignee__isnull=True) & urgency.OPEN
    if slug == "team":
        teams = TeamMembership.objects.filter(user=user).values("team_id")
        return Q(team_id__in=teams) & urgency.OPEN
    if slug == "breached":
        return Q(urgency.overdue(now))
    if slug == "due_soon":
        return urgency.due_between(now, now + SOON)
    if slug == "escalated":
        # Escalated tickets cannot be resolved before they are de-escalated.
        return Q(is_escalated=True)
    if slug == "waiting":
        return Q(status=Ticket.Status.WAITING_ON_CUSTOMER) & urgency.OPEN
    raise KeyError(slug)


def counts(*, user, now: datetime) -> dict[str, int]:
    """Return each view's number of tickets, in one query.

    The WHERE clause is the union of the views, each on its own index (PostgreSQL
    ORs the index scans as bitmaps; SQLite runs one index search per term), so the
    query reads the rows of the views and nothing else.
    """
    conditions = {q.slug: condition(q.slug, user=user, now=now) for q in QUEUES}
    return Ticket.objects.filter(reduce(or_, conditions.values())).aggregate(
        **{slug: Count("pk", filter=cond) for slug, cond in conditions.items()}
    )
