"""Policy lint: targets that invert, so that filing earlier means answering later.

A plan with an off-hours response target (SPEC §3.2) counts a ticket filed inside its
business hours on the target's calendar and one filed while they are closed in
wall-clock time. When the business-hours target is the longer of the two, the last
second before closing is due *later* than the first second after it: Iron.io Standard
as it once was, 24 business hours (Mon 18:59:59 PT -> Wed 18:59:58) against 24 h off
hours (Mon 19:00:01 -> Tue 19:00:01). ``lint_plan`` finds that by asking the real
SLO maths (``policies.slo.due_for``) about each closing of the plan's business hours
in the two weeks after ``now``, and reports the first pair of instants that shows it.

Used by the plan page in the admin (a warning) and by ``load_policy_packs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from policies.slo import due_for

if TYPE_CHECKING:
    from policies.models import Severity, SLOTarget, SupportPlan

LOOK_AHEAD = timedelta(days=14)  # every weekday's closing, twice
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Inversion:
    """A ticket filed inside business hours due later than one filed after closing."""

    plan: str
    scope: str
    inside_at: datetime
    inside_due_at: datetime
    outside_at: datetime
    outside_due_at: datetime

    @property
    def later_by(self) -> timedelta:
        return self.inside_due_at - self.outside_due_at

    def message(self) -> str:
        return (
            f"{self.plan} ({self.scope}): targets invert. A ticket filed inside "
            f"business hours at {_when(self.inside_at)} is due "
            f"{_when(self.inside_due_at)}, later than one filed after closing at "
            f"{_when(self.outside_at)}, due {_when(self.outside_due_at)}. Make the "
            "business-hours target no longer than the off-hours one."
        )


def _when(at: datetime) -> str:
    return f"{at:%a %-d %b %Y %H:%M:%S} {at.tzname()}"


def closings(plan: SupportPlan, start: datetime, end: datetime) -> list[datetime]:
    """Return the instants the plan's business hours close between two instants."""
    if plan.business_calendar_id is None:
        return []
    schedule = plan.business_calendar.schedule()
    return [close for _, close in schedule.explain(start, end) if close < end]


def _severity_for(
    plan: SupportPlan, target: SLOTarget, severities: list[Severity]
) -> Severity | None:
    """Return a severity the target counts for (a plan-wide target: one that has
    no target of its own), or None for a plan without severities."""
    if target.severity_id is not None:
        return target.severity
    own = {t.severity_id for t in plan.targets.all() if t.severity_id is not None}
    return next((s for s in severities if s.pk not in own), None)


def lint_plan(plan: SupportPlan, *, now: datetime) -> list[Inversion]:
    """Return one inversion per target of ``plan`` that has one (empty: none)."""
    if plan.business_calendar_id is None:
        return []
    severities = list(plan.severities.all())
    found = []
    ends = closings(plan, now, now + LOOK_AHEAD)
    for target in plan.targets.all():
        if target.off_hours_response_minutes is None:
            continue
        severity = _severity_for(plan, target, severities)
        if severities and severity is None:
            continue  # a plan-wide target every severity overrides
        scope = severity.name if severity is not None else "every ticket"
        for close in ends:
            inside_at, outside_at = close - _SECOND, close + _SECOND
            inside = due_for(plan, severity, inside_at)
            outside = due_for(plan, severity, outside_at)
            if not outside.is_off_hours or inside.is_off_hours:
                continue
            inside_due = inside.first_response_due_at
            outside_due = outside.first_response_due_at
            if inside_due is None or outside_due is None or inside_due <= outside_due:
                continue
            zone = close.tzinfo
            found.append(
                Inversion(
                    plan.name,
                    scope,
                    inside_at,
                    inside_due.astimezone(zone),
                    outside_at,
                    outside_due.astimezone(zone),
                )
            )
            break
    return found


def lint_plans(plans: Iterable[SupportPlan], *, now: datetime) -> list[Inversion]:
    """Return the inversions of every plan in ``plans``."""
    return [inversion for plan in plans for inversion in lint_plan(plan, now=now)]
