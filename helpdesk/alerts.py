"""SLO alerts: warnings at 75% and 90% of a clock's target and the breach at 100%,
each recorded once per (clock, threshold, due version) and notified once.

The minutely sweep records those whose instant has come since it last ran, by
range on the clocks' threshold instants (never a scan of the open tickets); a clock
transition (``helpdesk.clocks``) records those it puts behind the sweep. The
SLOSweep row keeps the two apart (``swept_until``). Digests go out through
``helpdesk.notifications``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from helpdesk import bulk
from helpdesk.attainment import rollups
from helpdesk.models import SLOClock, SLOEvent, SLOSweep
from policies.business_time import Schedule
from policies.models import BusinessCalendar

logger = logging.getLogger(__name__)

ALWAYS = Schedule.always()

# The columns a due alert is read with, in the order record() unpacks them: the
# clock's, then the threshold and its instant.
_DUE_COLUMNS = (
    "pk",
    "ticket_id",
    "assignee_id",
    "calendar_id",
    "metric",
    "target_label",
    "is_reclassification_breach",
    "due_at",
    "due_version",
    "breached_at",
)
_EVENT_COLUMNS = (
    "clock_id",
    "kind",
    "at",
    "due_before",
    "due_after",
    "due_version",
    "threshold",
    "calendar_id_used",
    "note",
)
# Each threshold and the clock field holding its instant (partial indexes
# clock_running_75, _90 and _due).
_THRESHOLD_FIELDS = ((75, "warning_75_at"), (90, "warning_90_at"), (100, "due_at"))
_WARNING, _BREACH = SLOEvent.Kind.WARNING.value, SLOEvent.Kind.BREACH.value
# Before any sweep has run: every threshold passed so far is still to record.
_NEVER_SWEPT = datetime(2000, 1, 1, tzinfo=UTC)


# Alerts per transaction: each chunk sends one digest per recipient and holds the
# sweep row for about 40 ms per 1,000 alerts (clock transitions wait that long at
# most); a worker killed mid-sweep loses only its chunk, which the next sweep redoes.
SWEEP_CHUNK = 10_000
# How long a sweep tries to get the sweep row while clock transitions hold it.
SWEEP_LOCK_WAIT = timedelta(seconds=5)


def sweep(
    now: datetime | None = None, *, chunk: int = SWEEP_CHUNK, max_chunks: int = 100
) -> dict:
    """Record every warning and breach whose instant has come since the last sweep,
    once per (clock, threshold, due version), and queue their notifications.

    Finds them by range on the clocks' threshold instants in (swept_until, now],
    never by scanning open tickets, and writes only events, the outbox and the
    breached clocks' ``breached_at``. Works in chunks of about ``chunk`` alerts,
    each its own transaction that also moves ``swept_until``: a sweep killed half-way
    keeps what it finished and the next one carries on. Sweeps run one at a time (the
    SLOSweep row); one that cannot get the row within SWEEP_LOCK_WAIT stops with
    ``busy`` and leaves its window to the next.
    """
    now = now or timezone.now()
    totals = {"clocks": 0, "alerts": 0, "emails": 0, "busy": False}
    swept: set[int] = set()  # clocks with an alert in the window
    people: dict = {}  # role members, looked up once per sweep
    calendars: dict = {}  # calendar id -> (calendar, schedule), once per sweep
    for _ in range(max_chunks):
        with transaction.atomic(), _without_gc():
            done = _sweep_chunk(now, chunk, people, calendars)
        if done is None:
            totals["busy"] = True
            logger.warning(
                "SLO sweep stopped: the sweep row stayed locked (another sweep, or "
                "a long clock transition); the next sweep takes up its window"
            )
            break
        swept |= done["clocks"]
        totals["alerts"] += done["alerts"]
        totals["emails"] += done["emails"]
        if done["finished"]:
            break
    totals["clocks"] = len(swept)
    return totals


@contextlib.contextmanager
def _without_gc():
    """Hold the cyclic garbage collector for one chunk: its rows, alerts and events
    are some 50,000 short-lived objects without cycles, and a full collection that
    they set off in a big process (a worker) cost 100-200 ms of a 10,000-alert
    chunk (bench/slo_sweep.py). Reference counting still frees them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sweep_chunk(
    now: datetime, size: int, people: dict, calendars: dict
) -> dict | None:
    """Take the sweep row, record the alerts of up to about ``size`` of the next
    threshold instants up to ``now``, and move the row past them. None if the row
    stayed busy."""
    mark = _lock_sweep_row()
    if mark is None:
        return None
    after, until, finished = mark.swept_until, now, True
    rows = _due_alerts(after, now, limit=size + 1) if now > after else []
    if len(rows) > size:
        # Stop before the first instant left out, so none is cut in two.
        finished, first_left = False, rows[size][-1]
        rows = [row for row in rows if row[-1] < first_left]
        if not rows:  # more than `size` alerts at one instant: take them all
            rows = _due_alerts(after, first_left)
        until = rows[-1][-1]
    done = record(rows, now=now, people=people, calendars=calendars)
    if until > after:
        mark.swept_until, mark.swept_at = until, timezone.now()
        mark.save(update_fields=["swept_until", "swept_at"])
    done["finished"] = finished
    return done


def _due_alerts(after: datetime, until: datetime, limit: int | None = None) -> list:
    """Return (*_DUE_COLUMNS, threshold, instant) for the running clocks' thresholds
    in (after, until], earliest first."""
    due = due_alerts_query(after, until)
    return bulk.fetch(due[:limit] if limit is not None else due)


def due_alerts_query(after: datetime, until: datetime):
    """The running clocks' thresholds in (after, until], earliest first, as a
    values_list of (*_DUE_COLUMNS, threshold, instant): one index range per
    threshold, merged."""
    branches = [
        SLOClock.objects.filter(
            status=SLOClock.Status.RUNNING,
            **{f"{field}__gt": after, f"{field}__lte": until},
        )
        .order_by()  # no Meta.ordering: it would join the tickets
        .annotate(alert_threshold=Value(pct), alert_at=F(field))
        .values_list(*_DUE_COLUMNS, "alert_threshold", "alert_at")
        for pct, field in _THRESHOLD_FIELDS
    ]
    return branches[0].union(*branches[1:], all=True).order_by("alert_at")


def _lock_sweep_row() -> SLOSweep | None:
    """Return the SLOSweep row locked for this transaction, or None if transitions
    or another sweep kept it for SWEEP_LOCK_WAIT.

    Never waits in the lock queue: a transition that waited there behind a sweep,
    holding a ticket another transition needs, could close a cycle of waits."""
    # Monotonic: tests freeze the wall clock.
    deadline = time.monotonic() + SWEEP_LOCK_WAIT.total_seconds()
    while True:
        try:
            with transaction.atomic():
                row = SLOSweep.objects.select_for_update(nowait=True).filter(pk=1)
                if (mark := row.first()) is not None:
                    return mark
            _create_sweep_row()
        except DatabaseError as error:
            if not isinstance(error.__cause__, psycopg.errors.LockNotAvailable):
                raise
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


def _create_sweep_row() -> None:
    """The row is made by the migrations; should it be lost (or a test empty the
    database), assume nothing was swept: the next sweep records whatever has
    passed, and no alert recorded already twice."""
    SLOSweep.objects.bulk_create(
        [SLOSweep(pk=1, swept_until=_NEVER_SWEPT)], ignore_conflicts=True
    )


def swept_until() -> datetime:
    """Return how far the sweep has recorded alerts, and keep it there until this
    transaction ends: a clock transition calls this before it locks or writes a
    clock, so the thresholds it puts at or before the value are its own to record
    and no sweep runs between.

    PostgreSQL: a shared lock on the SLOSweep row (transitions do not wait for each
    other). SQLite runs one writing transaction at a time (transaction_mode
    IMMEDIATE), so reading it is enough."""
    for _ in range(2):
        if connection.features.has_select_for_update:
            table = connection.ops.quote_name(SLOSweep._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT swept_until FROM {table} WHERE id=1 FOR SHARE")
                found = cursor.fetchone()
            value = found[0] if found else None
        else:
            value = (
                SLOSweep.objects.filter(pk=1)
                .values_list("swept_until", flat=True)
                .first()
            )
        if value is not None:
            return value
        _create_sweep_row()
    raise SLOSweep.DoesNotExist("the SLO sweep row could not be created")


def record(rows: list, *, now: datetime, people: dict, calendars: dict) -> dict:
    """Record the alerts of ``rows`` ((*_DUE_COLUMNS, threshold, instant)) as events,
    set the breached clocks' ``breached_at``, and queue digests of the alerts that
    were not recorded before (the unique constraint drops those, and they are not
    notified twice). Return the ids of the clocks in ``rows``, the alerts recorded
    and the e-mails queued.

    Plain rows in, set-based statements out (``helpdesk.bulk``): building model
    instances and bulk_create took over half of a 10,000-alert sweep
    (bench/slo_sweep.py)."""
    from helpdesk import notifications

    if not rows:
        return {"clocks": set(), "alerts": 0, "emails": 0}
    _load_calendars(calendars, {row[3] for row in rows})
    alerts: list[notifications.DueAlert] = []
    events: list[tuple] = []  # SLOEvent rows, _EVENT_COLUMNS
    clocks: dict[int, notifications.AlertClock] = {}
    breached_at: dict[int, datetime] = {}  # first breach of a clock not breached
    for (
        pk,
        ticket_id,
        assignee_id,
        calendar_id,
        metric,
        target_label,
        is_reclassification_breach,
        due_at,
        due_version,
        breached,
        threshold,
        when,
    ) in rows:
        clock = clocks.get(pk)
        if clock is None:
            clock = clocks[pk] = notifications.AlertClock(
                id=pk,
                ticket_id=ticket_id,
                assignee_id=assignee_id,
                calendar=calendars[calendar_id][0],
                metric=metric,
                target_label=target_label,
                is_reclassification_breach=is_reclassification_breach,
            )
        alerts.append(notifications.DueAlert(clock, threshold, due_version, due_at))
        kind, note = _WARNING, ""
        if threshold == 100:
            kind = _BREACH
            if is_reclassification_breach:
                note = "caused by reclassification"
            if breached is None:
                breached_at.setdefault(pk, when)
        # An alert does not move the due instant: due before = due after.
        events.append(
            (pk, kind, when, due_at, due_at, due_version, threshold, calendar_id, note)
        )
    inserted = bulk.insert(
        SLOEvent,
        _EVENT_COLUMNS,
        events,
        constants={
            # Only start and target_change events carry a target; the sweep is
            # not a person.
            "target": None,
            "target_label": "",
            "actor_id": None,
            "recorded_at": timezone.now(),  # what auto_now_add would write
        },
        ignore_conflicts=True,
        returning=("clock_id", "threshold", "due_version"),
    )
    if len(inserted) < len(alerts):
        recorded = set(inserted)
        alerts = [
            a for a in alerts if (a.clock.id, a.threshold, a.due_version) in recorded
        ]
        breached_at = {
            a.clock.id: breached_at[a.clock.id]
            for a in alerts
            if a.threshold == 100 and a.clock.id in breached_at
        }
    if breached_at:
        bulk.update(SLOClock, ("breached_at",), list(breached_at.items()))
        # In the attainment roll-ups, in this transaction.
        rollups.count_breaches(breached_at.keys())
    emails = notifications.notify_slo_alerts(alerts, now=now, people=people)
    return {"clocks": clocks.keys(), "alerts": len(alerts), "emails": emails}


def _load_calendars(calendars: dict, ids: set[int | None]) -> None:
    """Add (calendar, schedule) for the calendar ``ids`` missing from ``calendars``
    (None: elapsed time), loading them with their hours and holidays in one go."""
    missing = ids - calendars.keys()
    if None in missing:
        calendars[None] = (None, ALWAYS)
        missing.discard(None)
    if missing:
        found = BusinessCalendar.objects.prefetch_related("hours", "holidays").in_bulk(
            missing
        )
        for pk, calendar in found.items():
            calendars[pk] = (calendar, calendar.schedule())
