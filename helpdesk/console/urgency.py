"""A ticket's urgency: when its next running SLO clock falls due.

``next_due`` is built from the ticket's own columns, so one B-tree index on it
(``tkt_urgency`` in ``helpdesk.models``) serves the console's default order, the
"breached" and "breaching within the hour" views and the sort by due instant:

- a resolved or closed ticket has no running clock (closing needs resolving first,
  and reopening clears ``resolved_at``): no due instant;
- the first-response clock runs until the first public reply: its due instant
  counts while ``first_responded_at`` is empty;
- the resolution clock runs until the ticket is resolved; ``helpdesk.clocks`` sets
  ``resolution_due_at`` to None while a pause that started before the due instant
  lasts (waiting on the customer), and keeps a due instant that had passed before
  the pause, so a ticket that breached and then waits still reads as breached.

So ``next_due < now`` means "an unfinished clock is overdue" (breached, or about to
be recorded as such by the sweep within a minute), and ordering by ``next_due``
puts breached tickets first, most overdue first, then the earliest due.

Two cases read from the columns differ from the clocks: a best-effort clock (TAM
hours used up) keeps its due instant on the ticket, and a ticket reopened before
any public reply shows its response due again although that clock was met. A
``next_due_at`` column written by ``helpdesk.clocks`` (``_sync_ticket``) from the
running clocks would remove both, and this expression with them.

The expression holds no constants: SQLite matches an index expression only when
the query repeats it literally, and a bound parameter never matches a literal.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Case, DateTimeField, F, Q, When
from django.db.models.expressions import OrderBy
from django.db.models.functions import Coalesce, Least
from django.db.models.lookups import GreaterThanOrEqual, LessThan


def next_due() -> Case:
    """Return the expression: the earliest due instant of the running clocks."""
    response = Case(
        When(first_responded_at__isnull=True, then=F("first_response_due_at")),
        output_field=DateTimeField(),
    )
    resolution = F("resolution_due_at")
    # LEAST is NULL on SQLite as soon as one argument is: coalesce each with the
    # other, so a missing clock never hides the one that runs.
    earliest = Least(
        Coalesce(response, resolution, output_field=DateTimeField()),
        Coalesce(resolution, response, output_field=DateTimeField()),
        output_field=DateTimeField(),
    )
    return Case(
        When(resolved_at__isnull=True, then=earliest),
        output_field=DateTimeField(),
    )


def by_urgency() -> OrderBy:
    """Return the urgency order: earliest due first (the overdue before all), the
    tickets with no running clock last."""
    return next_due().asc(nulls_last=True)


def overdue(now: datetime) -> LessThan:
    """Tickets with a running clock past its due instant: breached (the sweep
    records it within a minute of the due instant)."""
    return LessThan(next_due(), now)


def due_between(start: datetime, end: datetime) -> Q:
    """Tickets whose next due instant is in [start, end)."""
    return Q(GreaterThanOrEqual(next_due(), start)) & Q(LessThan(next_due(), end))


# A ticket that is not resolved or closed: a running clock needs one, and the
# console's partial indexes cover exactly these rows.
OPEN = Q(resolved_at__isnull=True)
