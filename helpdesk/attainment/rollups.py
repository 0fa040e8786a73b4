"""Keep the monthly SLO attainment roll-ups (``SLOAttainmentMonth``) as clocks get
their outcome.

A clock's outcome is a vector (met, breached, reclassified, best effort, total) read
from its status, ``breached_at`` and ``is_reclassification_breach``
(``outcome``): the zero vector while it runs or is paused without a breach. Each
transition that changes it (``helpdesk.clocks``: met, a breach recorded, best
effort, a reopen; ``helpdesk.severity``: a severity change moves the ticket's
clocks to another bucket) adds the difference to the clock's bucket (month it
started, in UTC; plan; severity; metric), in its own transaction, as one
``INSERT ... ON CONFLICT DO UPDATE SET met = met + excluded.met, ...``.

Increments commute, so concurrent transactions on PostgreSQL need no more than the
row lock the upsert takes; they are collected over a transition (``counting``) and
written at its end, in one statement with the buckets in a fixed order, so two
transactions lock the rows they share in the same order and hold them only until
their commit. ``rebuild`` recomputes every row from the clocks (``manage.py
rebuild_slo_attainment``, and the data migration that created the table).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, date, datetime

from django.db import connection, transaction
from django.db.models import Count, DateField, F, Q, QuerySet
from django.db.models.functions import TruncMonth

from helpdesk.models import SLOAttainmentMonth, SLOClock

# met, breached, reclassified, best effort, total
Outcome = tuple[int, int, int, int, int]
# month (first day, UTC), plan id, severity id or None, metric
Bucket = tuple[date, int, int | None, str]

NONE: Outcome = (0, 0, 0, 0, 0)
COUNTERS = ("met", "breached", "reclassified", "best_effort", "total")
Status = SLOClock.Status

# The month a clock started, in UTC, as the database computes it for a rebuild and
# for the report's open clocks (month_of is the same in Python).
MONTH = TruncMonth("started_at", output_field=DateField(), tzinfo=UTC)
# Clocks with an outcome: in the roll-ups. The others (running or paused, no breach)
# are counted live.
DECIDED = Q(status__in=[Status.MET, Status.BEST_EFFORT]) | Q(breached_at__isnull=False)
UNFINISHED = Q(status__in=[Status.RUNNING, Status.PAUSED], breached_at__isnull=True)


def outcome(
    status: str, breached_at: datetime | None, is_reclassification_breach: bool
) -> Outcome:
    """Return what one clock adds to its bucket.

    A met clock without a breach is met; a breach counts as breached, or as
    reclassified when a severity change caused it; a best-effort clock counts as
    best effort (and as breached too if it was, as the report always showed it);
    ``total`` is 1 for any of these. A running or paused clock without a breach
    adds nothing yet.
    """
    breached = breached_at is not None
    met = status == Status.MET and not breached
    best_effort = status == Status.BEST_EFFORT
    if not (met or breached or best_effort):
        return NONE
    return (
        int(met),
        int(breached and not is_reclassification_breach),
        int(breached and is_reclassification_breach),
        int(best_effort),
        1,
    )


def outcome_of(clock: SLOClock) -> Outcome:
    return outcome(clock.status, clock.breached_at, clock.is_reclassification_breach)


def month_of(instant: datetime) -> date:
    """Return the first day of ``instant``'s month in UTC: 2026-03-31 23:30-05:00
    is in April."""
    return instant.astimezone(UTC).date().replace(day=1)


def bucket_of(clock: SLOClock) -> Bucket:
    """Return the clock's bucket; its ticket is the one the transition holds (the
    reverse manager and ``helpdesk.clocks._clock`` set it: no query)."""
    ticket = clock.ticket
    return (
        month_of(clock.started_at),
        ticket.plan_id,
        ticket.severity_id,
        clock.metric,
    )


def _difference(after: Outcome, before: Outcome) -> Outcome:
    return tuple(a - b for a, b in zip(after, before, strict=True))  # type: ignore[return-value]


def _sum(one: Outcome, other: Outcome) -> Outcome:
    return tuple(a + b for a, b in zip(one, other, strict=True))  # type: ignore[return-value]


# The increments of the transition running (``counting``), by bucket.
_pending: ContextVar[dict[Bucket, Outcome] | None] = ContextVar(
    "attainment_pending", default=None
)


@contextlib.contextmanager
def counting() -> Iterator[None]:
    """Collect the increments of the clock transitions inside and write them when
    the block ends without an error, in one statement (nested blocks join the
    outer one)."""
    if _pending.get() is not None:
        yield
        return
    pending: dict[Bucket, Outcome] = {}
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    write(pending)


def add(bucket: Bucket, delta: Outcome) -> None:
    """Add ``delta`` to ``bucket``: at the end of the transition running, or now."""
    if not any(delta):
        return
    pending = _pending.get()
    if pending is None:
        write({bucket: delta})
        return
    pending[bucket] = _sum(pending.get(bucket, NONE), delta)


def count(clock: SLOClock, before: Outcome) -> None:
    """Count the change of ``clock``'s outcome since ``before`` (``outcome_of`` it
    before the transition changed it)."""
    after = outcome_of(clock)
    if after != before:
        add(bucket_of(clock), _difference(after, before))


def count_breaches(clock_ids: Iterable[int]) -> None:
    """Count the breaches just recorded on ``clock_ids`` (``helpdesk.alerts``):
    running clocks without an outcome until now. One grouped query for their
    buckets, however many."""
    ids = list(clock_ids)
    if not ids:
        return
    rows = (
        SLOClock.objects.filter(pk__in=ids)
        .order_by()
        .annotate(month=MONTH)
        .values_list(
            "month",
            "ticket__plan_id",
            "ticket__severity_id",
            "metric",
            "is_reclassification_breach",
        )
        .annotate(clocks=Count("pk"))
    )
    for month, plan_id, severity_id, metric, reclassified, clocks in rows:
        delta = (0, 0, clocks, 0, clocks) if reclassified else (0, clocks, 0, 0, clocks)
        add((month, plan_id, severity_id, metric), delta)


def ticket_moved(ticket, *, plan_id: int, severity_id: int | None) -> None:
    """Move the outcomes of ``ticket``'s clocks from the bucket of ``plan_id`` and
    ``severity_id`` (before a severity change) to the ticket's current one."""
    if (plan_id, severity_id) == (ticket.plan_id, ticket.severity_id):
        return
    clocks = (
        SLOClock.objects.filter(ticket=ticket)
        .filter(DECIDED)
        .order_by()
        .values_list(
            "started_at",
            "metric",
            "status",
            "breached_at",
            "is_reclassification_breach",
        )
    )
    for started_at, metric, status, breached_at, reclassified in clocks:
        counted = outcome(status, breached_at, reclassified)
        month = month_of(started_at)
        add((month, plan_id, severity_id, metric), _difference(NONE, counted))
        add((month, ticket.plan_id, ticket.severity_id, metric), counted)


def _sort_key(bucket: Bucket) -> tuple:
    month, plan_id, severity_id, metric = bucket
    return (month, plan_id, severity_id or 0, metric)


def write(increments: dict[Bucket, Outcome]) -> None:
    """Add ``increments`` to their rows, creating the missing ones: one statement,
    the buckets in a fixed order (PostgreSQL locks the rows in it)."""
    rows = sorted(
        ((b, d) for b, d in increments.items() if any(d)),
        key=lambda row: _sort_key(row[0]),
    )
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(SLOAttainmentMonth._meta.db_table)
    columns = ["month", "plan_id", "severity_id", "metric", *COUNTERS]
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * len(rows))
    updates = ", ".join(
        f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}" for c in COUNTERS
    )
    params: list = []
    for (month, plan_id, severity_id, metric), delta in rows:
        params += [
            connection.ops.adapt_datefield_value(month),
            plan_id,
            severity_id,
            metric,
            *delta,
        ]
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)})"
        f" VALUES {values}"
        f" ON CONFLICT ({quote('month')}, {quote('plan_id')},"
        f" COALESCE({quote('severity_id')}, 0), {quote('metric')})"
        f" DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def decided_counts(clocks: QuerySet | None = None) -> QuerySet:
    """Return the roll-up rows computed from ``clocks`` (all by default): dicts of
    month, plan, severity, metric and the counters."""
    clocks = SLOClock.objects.all() if clocks is None else clocks
    return (
        clocks.filter(DECIDED)
        .order_by()
        .annotate(month=MONTH)
        .values(
            "month",
            "metric",
            plan_id=F("ticket__plan_id"),
            severity_id=F("ticket__severity_id"),
        )
        .annotate(
            met=Count("pk", filter=Q(status=Status.MET, breached_at__isnull=True)),
            breached=Count(
                "pk",
                filter=Q(breached_at__isnull=False, is_reclassification_breach=False),
            ),
            reclassified=Count(
                "pk",
                filter=Q(breached_at__isnull=False, is_reclassification_breach=True),
            ),
            best_effort=Count("pk", filter=Q(status=Status.BEST_EFFORT)),
            total=Count("pk"),
        )
    )


def rebuild() -> int:
    """Recompute every roll-up row from the clocks; return how many rows.

    On PostgreSQL the table is locked against the increments (not against reads)
    until the rebuild commits: a transition that counted before waits to commit
    first and is in the sums; one that counts after adds its increment to them."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(SLOAttainmentMonth._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
        SLOAttainmentMonth.objects.all().delete()
        rows = [SLOAttainmentMonth(**row) for row in decided_counts()]
        SLOAttainmentMonth.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
