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
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Count, Q

from accounts.models import TeamMembership, User
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

    One statement of one count per view, each a sub-select that reads its view's
    index and nothing else (an index-only scan where it can): a single scan with
    one filter per view read every open ticket on PostgreSQL, and the whole table
    on SQLite, which does not combine indexes for an OR of such terms (46 ms at
    100,000 tickets). Its SQL is compiled once per process (``_CountsStatement``):
    building and compiling the urgency expressions took longer than running them.
    """
    return _COUNTS.run(user_id=user.pk, now=now)


def _count_sql(condition: Q, connection) -> tuple[str, list]:
    """``SELECT COUNT(id) FROM helpdesk_ticket WHERE <condition>``, compiled."""
    query = Ticket.objects.filter(condition).query.chain()
    query.clear_ordering(force=True)
    query.default_cols = False
    query.add_annotation(Count("pk"), "n", select=True)
    return query.get_compiler(connection=connection).as_sql()


class _CountsStatement:
    """The counts' SQL, compiled once per database from the views built for a
    stand-in agent at a stand-in instant; each run puts the real agent and instant
    where the stand-ins were.

    It is compiled twice, with two sets of stand-ins, and every parameter must
    either be the same in both (a constant) or be the same stand-in in both (the
    agent, the instant, the instant plus ``SOON``): a view that came to use some
    other value built from its agent or instant stops start-up of the counts with
    an error rather than count with a stand-in left in."""

    STAND_INS = (
        (-7_310_421, datetime(1901, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (-8_420_532, datetime(1902, 3, 4, 5, 6, 7, tzinfo=UTC)),
    )  # no agent has a negative id; no ticket is that old

    def __init__(self):
        self._compiled: dict[str, tuple[str, list, list[str]]] = {}

    @staticmethod
    def _instant(now: datetime, connection):
        return Ticket._meta.get_field("created_at").get_db_prep_value(now, connection)

    def _sql(self, connection, user_id: int, now: datetime) -> tuple[str, list]:
        stand_in = User(pk=user_id)
        parts, params = [], []
        for queue in QUEUES:
            where = condition(queue.slug, user=stand_in, now=now)
            sql, part_params = _count_sql(where, connection)
            parts.append(f"({sql})")
            params.extend(part_params)
        return "SELECT " + ", ".join(parts), params

    def _compile(self, connection) -> tuple[str, list, list[str]]:
        compiled = [self._sql(connection, *pair) for pair in self.STAND_INS]
        (sql, first), (other_sql, second) = compiled
        kinds = [self._kinds(connection, *pair) for pair in self.STAND_INS]
        slots = []
        for a, b in zip(first, second, strict=True):
            kind = kinds[0].get(a, "constant")
            if kind != kinds[1].get(b, "constant") or (kind == "constant" and a != b):
                raise ImproperlyConfigured(
                    "The console's view counts use a value built from the agent or "
                    "the instant that is not a stand-in of _CountsStatement."
                )
            slots.append((kind, a))
        used = {kind for kind, _ in slots} - {"constant"}
        if sql != other_sql or used != {"user", "now", "soon"}:
            raise ImproperlyConfigured(f"The view counts use {sorted(used)}.")
        return sql, slots, [queue.slug for queue in QUEUES]

    def _kinds(self, connection, user_id: int, now: datetime) -> dict:
        return {
            user_id: "user",
            self._instant(now, connection): "now",
            self._instant(now + SOON, connection): "soon",
        }

    def run(self, *, user_id: int, now: datetime) -> dict[str, int]:
        connection = connections[Ticket.objects.db]
        if connection.alias not in self._compiled:
            self._compiled[connection.alias] = self._compile(connection)
        sql, slots, aliases = self._compiled[connection.alias]
        real = {
            "user": user_id,
            "now": self._instant(now, connection),
            "soon": self._instant(now + SOON, connection),
        }
        params = [value if kind == "constant" else real[kind] for kind, value in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return dict(zip(aliases, row, strict=True))


_COUNTS = _CountsStatement()
