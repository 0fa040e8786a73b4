"""SLO clocks: the one module that moves them and the only writer of a ticket's
``first_response_due_at`` and ``resolution_due_at``.

Every transition appends an SLOEvent and recomputes the due instant and the 75% and
90% instants from the ticket's opening, the current target and the pauses
(``helpdesk.slo``), so replaying the events gives the same answer; it records the
warnings and breaches it puts behind the sweep (``helpdesk.alerts``, which records
the rest). Callers are ``helpdesk.services`` (filing, replies, status changes,
severity changes, assignment), ``tam`` and the admin.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from helpdesk import alerts, slo
from helpdesk.alerts import SWEEP_CHUNK, sweep  # noqa: F401  (their earlier home)
from helpdesk.attainment import rollups
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


# The sweep's swept_until, held (see _swept_until) by the transition running.
_held_swept_until: ContextVar[datetime | None] = ContextVar(
    "held_swept_until", default=None
)


@contextlib.contextmanager
def sweep_held():
    """Hold the sweep off (``alerts.swept_until``) in a transaction, before any clock
    is locked or written, for every transition inside: a service that moves several
    clocks in one transaction (a first reply that also opens the ticket) reads the
    sweep row once."""
    with transaction.atomic(savepoint=False):
        if _held_swept_until.get() is not None:  # within another transition
            yield
            return
        token = _held_swept_until.set(alerts.swept_until())
        try:
            # The attainment roll-ups' increments, written once at the end.
            with rollups.counting():
                yield
        finally:
            _held_swept_until.reset(token)


def _transition(function):
    """Run a clock transition in a transaction that first holds the sweep off
    (``sweep_held``), before it locks or writes any clock."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with sweep_held():
            return function(*args, **kwargs)

    return wrapper


def _policy_version(due: DueInstants) -> int | None:
    if due.target is None:
        return None
    # policies.slo.target_for loads it with the target when it queries.
    version = getattr(due.target, "policy_version", _NOT_LOADED)
    if version is not _NOT_LOADED:
        return version
    record = due.target.history.order_by("-history_id").first()
    return record.history_id if record else None


_NOT_LOADED = object()


def _new_clocks(due: DueInstants, opened_at: datetime) -> list[SLOClock]:
    """Return the clocks a ticket filed at ``opened_at`` starts, unsaved, with their
    due and threshold instants derived as every transition derives them."""
    new = []
    for metric in (Metric.FIRST_RESPONSE, Metric.RESOLUTION):
        spec = _clock_spec(due, metric, opened_at)
        if spec is None:
            continue
        calendar, target, label = spec
        clock = SLOClock(
            metric=metric,
            started_at=opened_at,
            calendar=calendar,
            target=target,
            target_label=label,
        )
        _derive(clock, [])
        new.append(clock)
    return new


def set_due_instants(ticket: Ticket, due: DueInstants, *, opened_at: datetime) -> None:
    """Give a ticket about to be inserted the due instants its clocks will start
    with (``start_clocks``), so that filing writes the ticket row once."""
    dues = {clock.metric: clock.due_at for clock in _new_clocks(due, opened_at)}
    ticket.first_response_due_at = dues.get(Metric.FIRST_RESPONSE)
    ticket.resolution_due_at = dues.get(Metric.RESOLUTION)


@_transition
def start_clocks(ticket: Ticket, due: DueInstants, *, opened_at: datetime) -> None:
    """Create the ticket's clocks from its due instants (at filing): one INSERT for
    the clocks and one for their start events, whatever their number."""
    version = _policy_version(due)
    new = _new_clocks(due, opened_at)
    for clock in new:
        clock.ticket = ticket
        clock.assignee_id = ticket.assignee_id
        clock.policy_version = version
    SLOClock.objects.bulk_create(new)
    SLOEvent.objects.bulk_create(
        [
            _event_row(clock, SLOEvent.Kind.START, opened_at, None, clock.due_at)
            for clock in new
        ]
    )
    for clock in new:
        _record_passed(clock, opened_at)
    _sync_ticket(
        ticket,
        dues={clock.metric: clock.due_at for clock in new},
    )


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
        _sync_clock(ticket, clock)


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
            _sync_clock(ticket, response)
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
        counted = rollups.outcome_of(clock)
        clock.status, clock.met_at = SLOClock.Status.RUNNING, None
        # Open again: no longer met (a breach stays a breach); one the resumed
        # clock reaches below counts itself.
        rollups.count(clock, counted)
        _recompute(clock, at=at, kind=SLOEvent.Kind.REOPEN, actor=actor)
    else:
        return
    _sync_clock(ticket, clock)


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
    _sync_clock(ticket, clock)


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
        counted = rollups.outcome_of(clock)
        clock.status = SLOClock.Status.BEST_EFFORT
        clock.save(update_fields=["status"])
        rollups.count(clock, counted)
        _event(
            clock, SLOEvent.Kind.BEST_EFFORT, at, clock.due_at, clock.due_at, note=note
        )
    _sync_ticket(ticket)


# --- policy edits ------------------------------------------------------------------


def policy_changes(plans, *, due_of=None) -> list[dict]:
    """Preview applying the plans' current targets to their open clocks: one row per
    clock whose target or due instant would change. Met clocks are left out: they
    keep their outcome. ``due_of(ticket)`` gives other targets' due instants
    instead (a plan revision's impact preview, ``policies.revisions.impact``)."""
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
            dues[ticket.pk] = (
                due_of(ticket)
                if due_of is not None
                else due_for(ticket.plan, ticket.severity, ticket.created_at)
            )
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


# --- internals -----------------------------------------------------------------------


def _lock_ticket(ticket: Ticket) -> None:
    """Lock the ticket row before its clocks, in the order the services take them
    (the ticket, then its clocks), for transitions that may run without a service
    around them (a policy update, TAM hours used up): two transactions on the same
    ticket then never wait for each other. A no-op when the lock is held."""
    list(Ticket.objects.select_for_update().filter(pk=ticket.pk).values_list("pk"))


def _clock(ticket: Ticket, metric: str) -> SLOClock | None:
    clock = (
        SLOClock.objects.select_for_update(of=("self",))
        .select_related("calendar")
        .filter(ticket=ticket, metric=metric)
        .first()
    )
    if clock is not None:
        clock.ticket = ticket  # its bucket in the roll-ups, without a query
    return clock


def _meet(clock: SLOClock, *, at: datetime, actor=None) -> None:
    _record_before_stopping(clock, at)
    counted = rollups.outcome_of(clock)  # a breach just recorded counted itself
    pauses = _pauses(clock)
    if any(end is None for _, end in pauses):
        _end_open_pause(clock, at)
        pauses = [(start, at if end is None else end) for start, end in pauses]
    clock.status, clock.met_at = SLOClock.Status.MET, at
    _recompute(clock, at=at, kind=SLOEvent.Kind.MET, actor=actor, pauses=pauses)
    if clock.due_at is not None and at > clock.due_at and clock.breached_at is None:
        # Late with no breach recorded (a running clock records its own first):
        # still a breach, at the due instant.
        clock.breached_at = clock.due_at
        clock.save(update_fields=["breached_at"])
    rollups.count(clock, counted)


def _end_open_pause(clock: SLOClock, at: datetime) -> None:
    SLOPause.objects.filter(clock=clock, ended_at__isnull=True).update(ended_at=at)


def _pauses(clock: SLOClock) -> list[slo.Pause]:
    return [(p.started_at, p.ended_at) for p in SLOPause.objects.filter(clock=clock)]


def _recompute(
    clock: SLOClock,
    *,
    at: datetime,
    kind: str,
    actor=None,
    bump: bool = True,
    note: str = "",
    record_passed: bool = True,
    pauses: list[slo.Pause] | None = None,
) -> None:
    """Derive the due instant and the threshold instants from the clock's current
    target and pauses (read unless given, as stored), save, append the event, and
    record the thresholds already passed (``_record_passed``)."""
    if pauses is None:
        pauses = _pauses(clock)
    before = clock.due_at
    _derive(clock, pauses)
    if bump and clock.due_at != before:
        clock.due_version += 1  # a moved due instant re-arms the thresholds
    clock.save()
    _event(clock, kind, at, before, clock.due_at, actor=actor, note=note)
    if record_passed:
        _record_passed(clock, at)


def _derive(clock: SLOClock, pauses: list[slo.Pause]) -> None:
    """Set the clock's due instant and 75%/90% instants from its start, target,
    calendar and ``pauses``."""
    schedule = schedule_of(clock.calendar)
    clock.due_at = slo.counted_until(schedule, clock.started_at, clock.target, pauses)
    instants = slo.alert_instants(schedule, clock.started_at, clock.target, pauses)
    clock.warning_75_at, clock.warning_90_at = instants[75], instants[90]


def _record_passed(clock: SLOClock, at: datetime) -> None:
    """Record (and notify) the running clock's thresholds that a transition put at
    or before the sweep's ``swept_until`` (a severity change, a resume with little
    time left): the sweep looks only after it. Those still ahead of it, passed or
    not, are the sweep's, a minute at most later, as before any such change: a
    reclassification corrected at once leaves no breach."""
    if clock.status == SLOClock.Status.RUNNING:
        _record_reached(clock, _held_swept_until.get() or alerts.swept_until())


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
        alerts.record(rows, now=timezone.now(), people={}, calendars={})
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
    event = _event_row(
        clock, kind, at, before, after, threshold=threshold, note=note, actor=actor
    )
    event.save()
    return event


def _event_row(
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
    return SLOEvent(
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


def _sync_clock(ticket: Ticket, clock: SLOClock) -> None:
    """Copy the due instant of ``clock``, the one clock a transition moved, onto the
    ticket the caller locked (its history shows each move): the other clock's is
    already there, so neither is read back."""
    field = (
        "first_response_due_at"
        if clock.metric == Metric.FIRST_RESPONSE
        else "resolution_due_at"
    )
    if getattr(ticket, field) == clock.due_at:
        return
    setattr(ticket, field, clock.due_at)
    ticket.save(update_fields=[field, "updated_at"])


def _sync_ticket(ticket: Ticket, actor=None, *, dues: dict | None = None) -> None:
    """Copy the clocks' due instants onto the ticket (its history shows each move);
    ``dues`` (metric -> due instant) when the caller holds every clock."""
    if dues is None:
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
