"""Due instants of a ticket's SLO clocks, from its plan, severity and opening instant.

SPEC §3.2: a ticket that opens inside the plan's business hours gets the target counted
on the target's own calendar (open time, or whole business days); one that opens while
the business hours are closed gets the off-hours target in elapsed wall-clock time,
where the plan has one. Reads the plan's targets (prefetch ``targets`` when looping).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.business_time import Schedule
    from policies.models import BusinessCalendar, Severity, SLOTarget, SupportPlan


@dataclass(frozen=True)
class ClockExplanation:
    """How one due instant was reached: the calendar and the intervals counted."""

    metric: str
    due_at: datetime
    calendar: BusinessCalendar | None
    rule: str
    intervals: list[tuple[datetime, datetime]] = field(default_factory=list)
    holidays: list[date] = field(default_factory=list)

    @property
    def counted(self) -> timedelta:
        return sum((end - start for start, end in self.intervals), timedelta())


@dataclass(frozen=True)
class DueInstants:
    """The due instants of a new ticket; ``None`` where the plan sets no target."""

    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    target: SLOTarget | None = None
    severity: Severity | None = None
    is_off_hours: bool = False

    def explain(self, opened_at: datetime) -> list[ClockExplanation]:
        """Return, per clock, the calendar used and the open intervals counted."""
        return explain(self, opened_at)


def target_for(plan: SupportPlan, severity: Severity | None) -> SLOTarget | None:
    """Return the plan's target for ``severity`` (default severity when ``None``),
    falling back to the plan-wide target.

    Uses the plan's prefetched ``targets`` if any; otherwise one query loads the
    candidates with their calendars, the plan's business hours and the target's
    policy version (``policy_version``: its latest history id), all that filing a
    ticket reads of the policy.
    """
    if severity is None:
        severity = plan.default_severity
    if severity is not None and severity.plan_id != plan.pk:
        raise ValueError(f"{severity} is not a severity of the {plan} plan")
    severity_id = severity.pk if severity is not None else None
    if "targets" in getattr(plan, "_prefetched_objects_cache", {}):
        targets = list(plan.targets.all())
    else:
        targets = _load_targets(plan, severity_id)
    exact = [t for t in targets if t.severity_id == severity_id and severity_id]
    plan_wide = [t for t in targets if t.severity_id is None]
    return (exact or plan_wide or [None])[0]


def _load_targets(plan: SupportPlan, severity_id: int | None) -> list[SLOTarget]:
    from django.db.models import OuterRef, Q, Subquery

    from policies.models import SLOTarget

    history = SLOTarget.history.model.objects.filter(id=OuterRef("pk"))
    return list(
        SLOTarget.objects.filter(
            Q(severity_id=severity_id) | Q(severity__isnull=True), plan_id=plan.pk
        )
        .select_related(
            "response_calendar", "resolution_calendar", "plan__business_calendar"
        )
        .annotate(
            policy_version=Subquery(
                history.order_by("-history_id").values("history_id")[:1]
            )
        )
        .order_by()
    )


def _business_hours(plan: SupportPlan, target: SLOTarget) -> BusinessCalendar | None:
    """Return the plan's business calendar, taking the row ``target_for`` loaded
    with the target (the same plan row) rather than querying for it again."""
    if plan.business_calendar_id is None:
        return None
    loaded = target.plan if type(target).plan.is_cached(target) else plan
    if loaded.business_calendar_id == plan.business_calendar_id and type(
        loaded
    ).business_calendar.is_cached(loaded):
        return loaded.business_calendar
    return plan.business_calendar


def due_for(
    plan: SupportPlan, severity: Severity | None, opened_at: datetime
) -> DueInstants:
    """Return when the first response and the resolution are due.

    Janrain Platinum Sev1 opened Sat 10:00 PT: response due 10:30 (30 min on 24x7),
    resolution 14:00. Iron.io Premium opened Fri 22:00 PT (closed): response due
    Sat 04:00 (6 h wall clock) instead of Mon 07:00 (1 business hour).
    """
    if opened_at.tzinfo is None or opened_at.utcoffset() is None:
        raise ValueError("opened_at must be an aware datetime, not a naive one")
    if severity is None:
        severity = plan.default_severity
    target = target_for(plan, severity)
    if target is None:
        return DueInstants(None, None, None, severity)

    is_off_hours = False
    if target.off_hours_response_minutes is not None:
        business_hours = _business_hours(plan, target)
        is_off_hours = business_hours is not None and not (
            business_hours.schedule().is_open(opened_at)
        )
    if is_off_hours:
        response_due = wall_clock_add(
            opened_at, timedelta(minutes=target.off_hours_response_minutes)
        )
    else:
        response_due = count_on(
            target.response_calendar.schedule(),
            opened_at,
            target.response_minutes,
            target.response_business_days,
        )
    resolution_due = None
    if target.resolution_calendar_id and (
        target.resolution_minutes is not None or target.resolution_business_days
    ):
        resolution_due = count_on(
            target.resolution_calendar.schedule(),
            opened_at,
            target.resolution_minutes,
            target.resolution_business_days,
        )
    return DueInstants(response_due, resolution_due, target, severity, is_off_hours)


def count_on(
    schedule: Schedule,
    start: datetime,
    minutes: int | None,
    business_days: int | None,
) -> datetime:
    """Return ``start`` plus a target of open minutes or whole business days."""
    if business_days:
        return schedule.add_business_days(start, business_days)
    return schedule.add(start, timedelta(minutes=minutes or 0))


def wall_clock_add(start: datetime, duration: timedelta) -> datetime:
    """Return ``start`` plus elapsed time (not wall-clock arithmetic across DST)."""
    return (start.astimezone(UTC) + duration).astimezone(start.tzinfo)


def explain(due: DueInstants, opened_at: datetime) -> list[ClockExplanation]:
    """Return the calendar and counted intervals behind each due instant of ``due``."""
    target = due.target
    if target is None:
        return []
    clocks = []
    if due.first_response_due_at is not None:
        if due.is_off_hours:
            clocks.append(
                ClockExplanation(
                    "first response",
                    due.first_response_due_at,
                    None,
                    f"opened outside business hours: {target.off_hours_label} of "
                    "elapsed time",
                    [(opened_at, due.first_response_due_at)],
                )
            )
        else:
            clocks.append(
                _explain_on(
                    "first response",
                    target.response_calendar,
                    opened_at,
                    due.first_response_due_at,
                    target.response_label,
                )
            )
    if due.resolution_due_at is not None:
        clocks.append(
            _explain_on(
                "resolution",
                target.resolution_calendar,
                opened_at,
                due.resolution_due_at,
                target.resolution_label,
            )
        )
    return clocks


def _explain_on(
    metric: str,
    calendar: BusinessCalendar,
    start: datetime,
    due_at: datetime,
    label: str,
) -> ClockExplanation:
    schedule = calendar.schedule()
    return ClockExplanation(
        metric,
        due_at,
        calendar,
        f"{label} counted on {calendar}",
        schedule.explain(start, due_at),
        schedule.holidays_between(start, due_at),
    )
