"""SLO clocks: the one module that moves them and the only writer of a ticket's
``first_response_due_at`` and ``resolution_due_at``.

Every transition appends an SLOEvent and recomputes the due instant from the
ticket's opening, the current target and the pauses (``helpdesk.slo``), so replaying
the events gives the same answer. Callers are ``helpdesk.services`` (filing, replies,
status changes, severity changes, assignment), the admin and the sweep task.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from helpdesk import bulk, slo
from helpdesk.models import SLOClock, SLOEvent, SLOPause, Ticket
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


def _policy_version(due: DueInstants) -> int | None:
    record = due.target.history.order_by("-history_id").first() if due.target else None
    return record.history_id if record else None


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


def follow_assignee(ticket: Ticket) -> None:
    """Copy the ticket's assignee onto its clocks: the sweep warns whoever it is.

    Waits for a sweep that holds one of the clocks (under a second for a chunk of
    10,000), so the next sweep warns the new assignee."""
    ticket.clocks.exclude(assignee_id=ticket.assignee_id).update(
        assignee_id=ticket.assignee_id
    )


def record_response(ticket: Ticket, *, at: datetime, actor=None) -> None:
    """A public agent reply meets the first-response clock."""
    clock = _clock(ticket, Metric.FIRST_RESPONSE)
    if clock is not None and clock.status in (SLOClock.Status.RUNNING,):
        _meet(clock, at=at, actor=actor)
        _sync_ticket(ticket)


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
            clock, at=at, kind=SLOEvent.Kind.TARGET_CHANGE, actor=actor, note=note
        )
        if clock.breached_at is None:
            # Only a due instant this change put in the past is its breach; a later
            # change that moves it back to the future clears the tag.
            overdue = clock.due_at is not None and clock.due_at < at
            clock.is_reclassification_breach = reclassification and overdue
            clock.save(update_fields=["is_reclassification_breach"])
    _sync_ticket(ticket)


TAM_LABEL = "4 business hours (TAM SLO)"


def is_tam_clock(ticket: Ticket, clock: SLOClock) -> bool:
    """Return whether ``clock`` counts the TAM SLO of a TAM-routed ticket."""
    return (
        ticket.is_tam_routed
        and clock.metric == Metric.FIRST_RESPONSE
        and clock.target_label == TAM_LABEL
    )


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
    clock = _clock(ticket, metric)
    if clock is None or clock.status != SLOClock.Status.RUNNING:
        return
    clock.calendar, clock.target, clock.target_label = calendar, target, label
    _recompute(clock, at=at, kind=SLOEvent.Kind.TARGET_CHANGE, actor=actor, note=label)
    _sync_ticket(ticket)


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


def make_best_effort(ticket: Ticket, *, at: datetime, note: str, actor=None) -> None:
    """Stop holding the ticket to an SLO (e.g. TAM hours used up): kept and shown,
    excluded from attainment."""
    for clock in ticket.clocks.exclude(
        status__in=[SLOClock.Status.MET, SLOClock.Status.BEST_EFFORT]
    ):
        clock.status = SLOClock.Status.BEST_EFFORT
        clock.next_alert_at = clock.next_alert_threshold = None
        clock.save(update_fields=["status", "next_alert_at", "next_alert_threshold"])
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


@transaction.atomic
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

# The columns the sweep reads of a due clock, in the order _sweep_chunk unpacks them.
_DUE_COLUMNS = (
    "pk",
    "ticket_id",
    "assignee_id",
    "calendar_id",
    "metric",
    "target_label",
    "is_reclassification_breach",
    "started_at",
    "target",
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
_STATE_COLUMNS = ("next_alert_at", "next_alert_threshold", "breached_at")
_WARNING, _BREACH = SLOEvent.Kind.WARNING.value, SLOEvent.Kind.BREACH.value


# Due clocks per transaction: each chunk sends one digest per recipient, holds its
# clocks' row locks for about 50 ms per 1,000 clocks, and is all that a worker
# killed mid-sweep leaves for the next sweep to redo.
SWEEP_CHUNK = 10_000


def sweep(
    now: datetime | None = None, *, chunk: int = SWEEP_CHUNK, max_chunks: int = 100
) -> dict:
    """Record every warning and breach that is due, exactly once per (clock,
    threshold, due version), and queue their notifications.

    Works in chunks, each its own transaction, so a sweep killed half-way keeps what
    it finished and the next one carries on. Safe from several workers at once: the
    due rows are locked with SKIP LOCKED, so each sweep takes different clocks, and
    the events' unique constraint on alerts is the last word. Cost grows with the
    due clocks (an indexed range query on ``next_alert_at``), never with the open
    ones.
    """
    now = now or timezone.now()
    totals = {"clocks": 0, "alerts": 0, "emails": 0}
    people: dict = {}  # role members, looked up once per sweep
    calendars: dict = {}  # calendar id -> (calendar, schedule), once per sweep
    for _ in range(max_chunks):
        with transaction.atomic():
            done = _sweep_chunk(now, chunk, people, calendars)
        for key in totals:
            totals[key] += done[key]
        if done["clocks"] < chunk:
            break
    return totals


def _sweep_chunk(now: datetime, size: int, people: dict, calendars: dict) -> dict:
    """Lock up to ``size`` due clocks, record their warnings and breaches as
    events, move their next alert, and queue the digests.

    Plain rows in, set-based statements out (``helpdesk.bulk``): building model
    instances and bulk_create/bulk_update took over half of a 10,000-clock sweep
    (bench/slo_sweep.py)."""
    from helpdesk import notifications

    due = bulk.fetch(
        SLOClock.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            status=SLOClock.Status.RUNNING,
            next_alert_at__isnull=False,
            next_alert_at__lte=now,
        )
        .order_by("next_alert_at")
        .values_list(*_DUE_COLUMNS)[:size]
    )
    if not due:
        return {"clocks": 0, "alerts": 0, "emails": 0}
    ids = [row[0] for row in due]
    pauses: dict[int, list] = defaultdict(list)
    for clock_id, started, ended in bulk.select(
        SLOPause, ("clock_id", "started_at", "ended_at"), key="clock_id", ids=ids
    ):
        pauses[clock_id].append((started, ended))
    alerted_before: dict[tuple[int, int], set[int]] = defaultdict(set)
    for clock_id, threshold, version in bulk.select(
        SLOEvent,
        ("clock_id", "threshold", "due_version"),
        key="clock_id",
        ids=ids,
        where="threshold IS NOT NULL",  # SLOEvent.objects.alerts()
    ):
        alerted_before[(clock_id, version)].add(threshold)
    _load_calendars(calendars, {row[3] for row in due})

    alerts: list[notifications.DueAlert] = []
    events: list[tuple] = []  # SLOEvent rows, _EVENT_COLUMNS
    states: list[tuple] = []  # (clock id, *_STATE_COLUMNS)
    for (
        pk,
        ticket_id,
        assignee_id,
        calendar_id,
        metric,
        target_label,
        is_reclassification_breach,
        started_at,
        target,
        due_at,
        due_version,
        breached_at,
    ) in due:
        calendar, schedule = calendars[calendar_id]
        reached, next_pct, next_at = slo.pending_alerts(
            schedule,
            started_at,
            target,
            pauses.get(pk, ()),
            alerted_before.get((pk, due_version), ()),
            now,
        )
        if reached:
            clock = notifications.AlertClock(
                id=pk,
                ticket_id=ticket_id,
                assignee_id=assignee_id,
                calendar=calendar,
                metric=metric,
                target_label=target_label,
                is_reclassification_breach=is_reclassification_breach,
            )
            for pct, when in reached:
                alerts.append(notifications.DueAlert(clock, pct, due_version, due_at))
                kind, note = _WARNING, ""
                if pct == 100:
                    kind, breached_at = _BREACH, when
                    if is_reclassification_breach:
                        note = "caused by reclassification"
                # An alert does not move the due instant: due before = due after.
                events.append(
                    (
                        pk,
                        kind,
                        when,
                        due_at,
                        due_at,
                        due_version,
                        pct,
                        calendar_id,
                        note,
                    )
                )
        states.append((pk, next_at, next_pct, breached_at))
    # The row locks keep other sweeps off these clocks; should an alert be recorded
    # already all the same, the unique constraint drops it and so does the digest.
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
    bulk.update(SLOClock, _STATE_COLUMNS, states)
    if len(inserted) < len(alerts):
        recorded = set(inserted)
        alerts = [
            a for a in alerts if (a.clock.id, a.threshold, a.due_version) in recorded
        ]
    emails = notifications.notify_slo_alerts(alerts, now=now, people=people)
    return {"clocks": len(due), "alerts": len(alerts), "emails": emails}


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


def _clock(ticket: Ticket, metric: str) -> SLOClock | None:
    return (
        SLOClock.objects.select_for_update(of=("self",))
        .select_related("calendar")
        .filter(ticket=ticket, metric=metric)
        .first()
    )


def _meet(clock: SLOClock, *, at: datetime, actor=None) -> None:
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
) -> None:
    """Derive the due instant and the next alert from the clock's current target and
    pauses, save, and append the event."""
    pauses = [(p.started_at, p.ended_at) for p in SLOPause.objects.filter(clock=clock)]
    schedule = schedule_of(clock.calendar)
    before = clock.due_at
    clock.due_at = slo.counted_until(schedule, clock.started_at, clock.target, pauses)
    if bump and clock.due_at != before:
        clock.due_version += 1  # a moved due instant re-arms the thresholds
    if clock.status == SLOClock.Status.RUNNING:
        alerted = set(
            SLOEvent.objects.alerts()
            .filter(clock=clock, due_version=clock.due_version)
            .values_list("threshold", flat=True)
        )
        _, clock.next_alert_threshold, clock.next_alert_at = slo.pending_alerts(
            schedule, clock.started_at, clock.target, pauses, alerted
        )
    else:
        clock.next_alert_threshold = clock.next_alert_at = None
    clock.save()
    _event(clock, kind, at, before, clock.due_at, actor=actor, note=note)


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
