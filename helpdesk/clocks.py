"""SLO clocks: the one module that moves them and the only writer of a ticket's
``first_response_due_at`` and ``resolution_due_at``.

Every transition appends an SLOEvent and recomputes the due instant from the
ticket's opening, the current target and the pauses (``helpdesk.slo``), so replaying
the events gives the same answer. Callers are ``helpdesk.services`` (filing, replies,
status changes, severity changes, assignment), the admin and the sweep task.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import time
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta

import psycopg
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Value
from django.utils import timezone

from helpdesk import bulk, slo
from helpdesk.models import SLOClock, SLOEvent, SLOPause, SLOSweep, Ticket
from policies.business_time import Schedule
from policies.models import BusinessCalendar
from policies.slo import DueInstants, due_for

logger = logging.getLogger(__name__)

Metric = SLOClock.Metric
ALWAYS = Schedule.always()


def schedule_of(calendar: BusinessCalendar | None) -> Schedule:
    return calendar.schedule() if calendar is not None else ALWAYS


def _schedule_by_id(calendar_id: int | None) -> Schedule:
    if calendar_id is None:
        return ALWAYS
    return BusinessCalendar.objects.get(pk=calendar_id).schedule()


def _clock_spec(
    due: DueInstants, metric: str, opened_at: datetime
) -> tuple[BusinessCalendar | None, timedelta, str] | None:
    """Return (calendar, open-time target, label) for one metric of ``due``."""
    target = due.target
    if target is None:
        return None
    if metric == Metric.FIRST_RESPONSE:
        due_at = due.first_response_due_at
        if due_at is None:
            return None
        if due.is_off_hours:
            label = f"{target.off_hours_label} (off hours, elapsed time)"
            return None, due_at - opened_at, label
        calendar, label = target.response_calendar, target.response_label
    else:
        due_at = due.resolution_due_at
        if due_at is None:
            return None
        calendar, label = target.resolution_calendar, target.resolution_label
    if calendar.kind == BusinessCalendar.Kind.ALWAYS:
        calendar = None  # absolute elapsed time: no calendar needed
    # Business days become the open time they span, so pauses subtract uniformly.
    return calendar, schedule_of(calendar).elapsed(opened_at, due_at), label


# The sweep's swept_until, held (see _swept_until) by the transition running.
_held_swept_until: ContextVar[datetime | None] = ContextVar(
    "held_swept_until", default=None
)


def _transition(function):
    """Run a clock transition in a transaction that first holds the sweep off
    (``_swept_until``), before it locks or writes any clock."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with transaction.atomic(savepoint=False):
            if _held_swept_until.get() is not None:  # within another transition
                return function(*args, **kwargs)
            token = _held_swept_until.set(_swept_until())
            try:
                return function(*args, **kwargs)
            finally:
                _held_swept_until.reset(token)

    return wrapper


def _policy_version(due: DueInstants) -> int | None:
    record = due.target.history.order_by("-history_id").first() if due.target else None
    return record.history_id if record else None


@_transition
def start_clocks(ticket: Ticket, due: DueInstants, *, opened_at: datetime) -> None:
    """Create the ticket's clocks from its due instants (at filing)."""
    version = _policy_version(due)
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        spec = _clock_spec(due, metric, opened_at)
        if spec is None:
            continue
        calendar, target, label = spec
        clock = SLOClock.objects.create(
            ticket=ticket,
            metric=metric,
            assignee_id=ticket.assignee_id,
            started_at=opened_at,
            calendar=calendar,
            target=target,
            target_label=label,
            policy_version=version,
        )
        _recompute(clock, at=opened_at, kind=SLOEvent.Kind.START, bump=False)
    _sync_ticket(ticket)


@_transition
def follow_assignee(ticket: Ticket) -> None:
    """Copy the ticket's assignee onto its clocks: the sweep warns whoever it is.

    Waits for a sweep chunk that is running (under a second for 10,000 alerts), so
    the next sweep warns the new assignee."""
    ticket.clocks.exclude(assignee_id=ticket.assignee_id).update(
        assignee_id=ticket.assignee_id
    )


@_transition
def record_response(ticket: Ticket, *, at: datetime, actor=None) -> None:
    """A public agent reply meets the first-response clock."""
    clock = _clock(ticket, Metric.FIRST_RESPONSE)
    if clock is not None and clock.status in (SLOClock.Status.RUNNING,):
        _meet(clock, at=at, actor=actor)
        _sync_ticket(ticket)


@_transition
def on_status_change(
    ticket: Ticket, old: str, new: str, *, at: datetime, actor=None
) -> None:
    """Pause, resume, meet or reopen the resolution clock as the status moves; a
    ticket resolved or closed before any public reply stops its response clock too
    (met, or breached if late), so nothing warns about a finished ticket."""
    S = Ticket.Status
    if new in (S.RESOLVED, S.CLOSED):
        response = _clock(ticket, Metric.FIRST_RESPONSE)
        if response is not None and response.status == SLOClock.Status.RUNNING:
            _meet(response, at=at, actor=actor)
            _sync_ticket(ticket)
    clock = _clock(ticket, Metric.RESOLUTION)
    if clock is None or clock.status == SLOClock.Status.BEST_EFFORT:
        return
    if new == S.WAITING_ON_CUSTOMER and clock.status == SLOClock.Status.RUNNING:
        _record_before_stopping(clock, at)
        SLOPause.objects.create(
            clock=clock, started_at=at, reason="waiting on customer"
        )
        clock.status = SLOClock.Status.PAUSED
        _recompute(clock, at=at, kind=SLOEvent.Kind.PAUSE, actor=actor)
    elif new == S.OPEN and old == S.WAITING_ON_CUSTOMER:
        _end_open_pause(clock, at)
        clock.status = SLOClock.Status.RUNNING
        _recompute(clock, at=at, kind=SLOEvent.Kind.RESUME, actor=actor)
    elif new == S.RESOLVED and clock.status != SLOClock.Status.MET:
        _meet(clock, at=at, actor=actor)
    elif new == S.OPEN and old == S.RESOLVED and clock.status == SLOClock.Status.MET:
        # The time it stayed resolved does not count: resume with what was left.
        SLOPause.objects.create(
            clock=clock, started_at=clock.met_at, ended_at=at, reason="resolved"
        )
        clock.status, clock.met_at = SLOClock.Status.RUNNING, None
        _recompute(clock, at=at, kind=SLOEvent.Kind.REOPEN, actor=actor)
    else:
        return
    _sync_ticket(ticket)


@_transition
def change_targets(
    ticket: Ticket,
    due: DueInstants,
    *,
    at: datetime,
    actor=None,
    reclassification: bool = True,
    note: str = "severity change",
) -> None:
    """Recompute the running clocks from the ticket's opening with new targets (a
    severity change, or an edited policy applied by an administrator). Met clocks
    keep their outcome. After a reclassification, a due instant that lands in the
    past marks the coming breach as caused by it."""
    _lock_ticket(ticket)
    opened_at = ticket.created_at
    version = _policy_version(due)
    for clock in ticket.clocks.select_for_update().order_by("metric"):
        if clock.status in (SLOClock.Status.MET, SLOClock.Status.BEST_EFFORT):
            continue
        if is_tam_clock(ticket, clock):
            continue  # the TAM SLO does not depend on severity or the plan
        spec = _clock_spec(due, clock.metric, opened_at)
        if spec is None:
            continue
        clock.calendar, clock.target, clock.target_label = spec
        clock.policy_version = version
        _recompute(
            clock,
            at=at,
            kind=SLOEvent.Kind.TARGET_CHANGE,
            actor=actor,
            note=note,
            record_passed=False,
        )
        if clock.breached_at is None:
            # Only a due instant this change put in the past is its breach; a later
            # change that moves it back to the future clears the tag.
            overdue = clock.due_at is not None and clock.due_at < at
            clock.is_reclassification_breach = reclassification and overdue
            clock.save(update_fields=["is_reclassification_breach"])
        _record_passed(clock, at)
    _sync_ticket(ticket)


TAM_LABEL = "4 business hours (TAM SLO)"


def is_tam_clock(ticket: Ticket, clock: SLOClock) -> bool:
    """Return whether ``clock`` counts the TAM SLO of a TAM-routed ticket."""
    return (
        ticket.is_tam_routed
        and clock.metric == Metric.FIRST_RESPONSE
        and clock.target_label == TAM_LABEL
    )


@_transition
def use_target(
    ticket: Ticket,
    metric: str,
    *,
    calendar: BusinessCalendar | None,
    target: timedelta,
    label: str,
    at: datetime,
    actor=None,
) -> None:
    """Count one running clock against another target (the TAM SLO of a TAM-routed
    ticket), recomputed from the opening."""
    _lock_ticket(ticket)
    clock = _clock(ticket, metric)
    if clock is None or clock.status != SLOClock.Status.RUNNING:
        return
    clock.calendar, clock.target, clock.target_label = calendar, target, label
    _recompute(clock, at=at, kind=SLOEvent.Kind.TARGET_CHANGE, actor=actor, note=label)
    _sync_ticket(ticket)


@_transition
def tam_hours_used_up(organization, *, at: datetime) -> int:
    """Make the open TAM-routed tickets of ``organization`` best effort (the month's
    TAM hours ran out). Return how many tickets changed."""
    tickets = (
        Ticket.objects.open()
        .filter(
            organization=organization,
            is_tam_routed=True,
            clocks__status__in=[SLOClock.Status.RUNNING, SLOClock.Status.PAUSED],
        )
        .distinct()
    )
    count = 0
    for ticket in tickets:
        make_best_effort(ticket, at=at, note="TAM hours for the month are used up")
        count += 1
    return count


@_transition
def make_best_effort(ticket: Ticket, *, at: datetime, note: str, actor=None) -> None:
    """Stop holding the ticket to an SLO (e.g. TAM hours used up): kept and shown,
    excluded from attainment."""
    _lock_ticket(ticket)
    for clock in ticket.clocks.select_for_update().exclude(
        status__in=[SLOClock.Status.MET, SLOClock.Status.BEST_EFFORT]
    ):
        _record_before_stopping(clock, at)
        clock.status = SLOClock.Status.BEST_EFFORT
        clock.save(update_fields=["status"])
        _event(
            clock, SLOEvent.Kind.BEST_EFFORT, at, clock.due_at, clock.due_at, note=note
        )
    _sync_ticket(ticket)


# --- policy edits ------------------------------------------------------------------


def policy_changes(plans) -> list[dict]:
    """Preview applying the plans' current targets to their open clocks: one row per
    clock whose target or due instant would change. Met clocks are left out: they
    keep their outcome."""
    rows = []
    open_clocks = (
        SLOClock.objects.filter(
            ticket__plan__in=plans,
            status__in=[SLOClock.Status.RUNNING, SLOClock.Status.PAUSED],
        )
        .select_related("ticket__plan", "ticket__severity", "calendar")
        .prefetch_related("pauses")
        .order_by("ticket__reference", "metric")
    )
    dues: dict[int, DueInstants] = {}
    for clock in open_clocks:
        ticket = clock.ticket
        if is_tam_clock(ticket, clock):
            continue  # counts the TAM SLO, not the plan's targets
        if ticket.pk not in dues:
            dues[ticket.pk] = due_for(ticket.plan, ticket.severity, ticket.created_at)
        spec = _clock_spec(dues[ticket.pk], clock.metric, ticket.created_at)
        if spec is None:
            continue
        calendar, target, label = spec
        pauses = [(p.started_at, p.ended_at) for p in clock.pauses.all()]
        new_due = slo.counted_until(
            schedule_of(calendar), clock.started_at, target, pauses
        )
        if (target, getattr(calendar, "pk", None)) != (clock.target, clock.calendar_id):
            rows.append(
                {
                    "clock": clock,
                    "old_label": clock.target_label,
                    "new_label": label,
                    "old_due": clock.due_at,
                    "new_due": new_due,
                }
            )
    return rows


@_transition
def apply_policy_changes(plans, *, actor, at: datetime | None = None) -> int:
    """Apply the plans' current targets to their open clocks (after a preview)."""
    at = at or timezone.now()
    tickets = {row["clock"].ticket for row in policy_changes(plans)}
    for ticket in tickets:
        due = due_for(ticket.plan, ticket.severity, ticket.created_at)
        change_targets(
            ticket,
            due,
            at=at,
            actor=actor,
            reclassification=False,
            note="policy update",
        )
    return len(tickets)


# --- the sweep ---------------------------------------------------------------------

# The columns a due alert is read with, in the order _record unpacks them: the
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
    they set off in a big process (a worker) cost up to 100 ms of a 10,000-alert
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
    done = _record(rows, now=now, people=people, calendars=calendars)
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


def _swept_until() -> datetime:
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


def _record(rows: list, *, now: datetime, people: dict, calendars: dict) -> dict:
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


# --- internals -----------------------------------------------------------------------


def _lock_ticket(ticket: Ticket) -> None:
    """Lock the ticket row before its clocks, in the order the services take them
    (the ticket, then its clocks), for transitions that may run without a service
    around them (a policy update, TAM hours used up): two transactions on the same
    ticket then never wait for each other. A no-op when the lock is held."""
    list(Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk"))


def _clock(ticket: Ticket, metric: str) -> SLOClock | None:
    return (
        SLOClock.objects.select_for_update(of=("self",))
        .select_related("calendar")
        .filter(ticket=ticket, metric=metric)
        .first()
    )


def _meet(clock: SLOClock, *, at: datetime, actor=None) -> None:
    _record_before_stopping(clock, at)
    _end_open_pause(clock, at)
    clock.status, clock.met_at = SLOClock.Status.MET, at
    _recompute(clock, at=at, kind=SLOEvent.Kind.MET, actor=actor)
    if clock.due_at is not None and at > clock.due_at and clock.breached_at is None:
        # Met late before any sweep noticed: still a breach, at the due instant.
        clock.breached_at = clock.due_at
        clock.save(update_fields=["breached_at"])


def _end_open_pause(clock: SLOClock, at: datetime) -> None:
    SLOPause.objects.filter(clock=clock, ended_at__isnull=True).update(ended_at=at)


def _recompute(
    clock: SLOClock,
    *,
    at: datetime,
    kind: str,
    actor=None,
    bump: bool = True,
    note: str = "",
    record_passed: bool = True,
) -> None:
    """Derive the due instant and the threshold instants from the clock's current
    target and pauses, save, append the event, and record the thresholds already
    passed (``_record_passed``)."""
    pauses = [(p.started_at, p.ended_at) for p in SLOPause.objects.filter(clock=clock)]
    schedule = schedule_of(clock.calendar)
    before = clock.due_at
    clock.due_at = slo.counted_until(schedule, clock.started_at, clock.target, pauses)
    if bump and clock.due_at != before:
        clock.due_version += 1  # a moved due instant re-arms the thresholds
    instants = slo.alert_instants(schedule, clock.started_at, clock.target, pauses)
    clock.warning_75_at, clock.warning_90_at = instants[75], instants[90]
    clock.save()
    _event(clock, kind, at, before, clock.due_at, actor=actor, note=note)
    if record_passed:
        _record_passed(clock, at)


def _record_passed(clock: SLOClock, at: datetime) -> None:
    """Record (and notify) the running clock's thresholds that a transition put at
    or before the sweep's ``swept_until`` (a severity change, a resume with little
    time left): the sweep looks only after it. Those still ahead of it, passed or
    not, are the sweep's, a minute at most later, as before any such change: a
    reclassification corrected at once leaves no breach."""
    if clock.status == SLOClock.Status.RUNNING:
        _record_reached(clock, _held_swept_until.get() or _swept_until())


def _record_before_stopping(clock: SLOClock, at: datetime) -> None:
    """Record the thresholds a running clock reached by ``at``, where it pauses, is
    met or becomes best effort: the sweep looks at running clocks only, so one it
    has not reached yet would otherwise be lost (a reply a minute late is a breach,
    in the log and to the managers, whenever the sweep ran)."""
    if clock.status == SLOClock.Status.RUNNING:
        _record_reached(clock, at)


def _record_reached(clock: SLOClock, upto: datetime) -> None:
    rows = [
        (
            clock.pk,
            clock.ticket_id,
            clock.assignee_id,
            clock.calendar_id,
            clock.metric,
            clock.target_label,
            clock.is_reclassification_breach,
            clock.due_at,
            clock.due_version,
            clock.breached_at,
            threshold,
            when,
        )
        for threshold, when in (
            (75, clock.warning_75_at),
            (90, clock.warning_90_at),
            (100, clock.due_at),
        )
        if when is not None and when <= upto
    ]
    if rows:
        # Held outside the calendar's hours from now, when the e-mail goes out.
        _record(rows, now=timezone.now(), people={}, calendars={})
        clock.refresh_from_db(fields=["breached_at"])


def _event(
    clock: SLOClock,
    kind: str,
    at: datetime,
    before: datetime | None,
    after: datetime | None,
    *,
    threshold: int | None = None,
    note: str = "",
    actor=None,
) -> SLOEvent:
    return SLOEvent.objects.create(
        clock=clock,
        kind=kind,
        at=at,
        due_before=before,
        due_after=after,
        due_version=clock.due_version,
        threshold=threshold,
        target=clock.target if kind in ("start", "target_change") else None,
        target_label=clock.target_label if kind in ("start", "target_change") else "",
        calendar_id_used=clock.calendar_id,
        note=note,
        actor=actor,
    )


def _sync_ticket(ticket: Ticket, actor=None) -> None:
    """Copy the clocks' due instants onto the ticket (its history shows each move)."""
    dues = dict(ticket.clocks.values_list("metric", "due_at"))
    response, resolution = dues.get(Metric.FIRST_RESPONSE), dues.get(Metric.RESOLUTION)
    if (ticket.first_response_due_at, ticket.resolution_due_at) == (
        response,
        resolution,
    ):
        return
    ticket.first_response_due_at, ticket.resolution_due_at = response, resolution
    ticket._history_user = actor or getattr(ticket, "_history_user", None)
    ticket.save(
        update_fields=["first_response_due_at", "resolution_due_at", "updated_at"]
    )
