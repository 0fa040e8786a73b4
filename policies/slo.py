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
    falling back to the plan-wide target."""
    if severity is None:
        severity = plan.default_severity
    if severity is not None and severity.plan_id != plan.pk:
        raise ValueError(f"{severity} is not a severity of the {plan} plan")
    targets = list(plan.targets.all())
    severity_id = severity.pk if severity is not None else None
    exact = [t for t in targets if t.severity_id == severity_id and severity_id]
    plan_wide = [t for t in targets if t.severity_id is None]
    return (exact or plan_wide or [None])[0]


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

    business_hours = plan.business_calendar
    is_off_hours = (
        target.off_hours_response_minutes is not None
        and business_hours is not None
        and not business_hours.schedule().is_open(opened_at)
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
