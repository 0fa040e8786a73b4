"""Due instants of a ticket's SLO clocks, from its plan, severity and opening instant.

SPEC §3.2: a ticket that opens inside the plan's business hours gets the target counted
on the target's own calendar (open time, or whole business days); one that opens while
the business hours are closed gets the off-hours target in elapsed wall-clock time,
where the plan has one. Reads the plan's targets (prefetch ``targets`` when looping).
"""

from __future__ import annotations

import copy
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
    """Return the plan's candidate targets for ``severity_id`` (its own and the
    plan-wide one), each with its calendars, the plan's business hours and its
    ``policy_version``: one statement of fixed SQL (no query compilation per ticket).

    The rows are read every time, inside the caller's transaction, so nothing a
    change committed before is ever missed; the model instances built from them are
    cached by the rows themselves (the policy version: an edited target, calendar or
    plan, or a revision made live, reads different rows and builds afresh). Each call
    gets its own copies of the targets: the calendars are shared and read-only.
    """
    from django.db import connection

    query = _targets_query(connection)
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [plan.pk, severity_id])
        rows = tuple(tuple(row) for row in cursor.fetchall())
    built = _built_targets.get(rows)
    if built is None:
        built = [query.build(row) for row in rows]
        if len(_built_targets) >= _BUILT_TARGETS_SIZE:
            _built_targets.clear()
        _built_targets[rows] = built
    return [copy.copy(target) for target in built]


# The candidate rows of _load_targets -> the targets built from them, in this process.
_built_targets: dict[tuple, list[SLOTarget]] = {}
_BUILT_TARGETS_SIZE = 512
_TARGET_QUERIES: dict[str, _TargetsQuery] = {}


def _targets_query(connection) -> _TargetsQuery:
    query = _TARGET_QUERIES.get(connection.vendor)
    if query is None:
        query = _TARGET_QUERIES[connection.vendor] = _TargetsQuery(connection)
    return query


class _TargetsQuery:
    """The SQL of ``_load_targets`` for one database vendor, and the conversion of
    its rows into model instances (Django's own converters, field by field)."""

    def __init__(self, connection) -> None:
        from policies.models import BusinessCalendar, SLOTarget, SupportPlan

        q = connection.ops.quote_name
        self.connection = connection
        self.target_fields = SLOTarget._meta.concrete_fields
        self.calendar_fields = BusinessCalendar._meta.concrete_fields
        history = SLOTarget.history.model._meta
        plan = SupportPlan._meta

        def columns(alias: str, fields) -> list[str]:
            return [f"{alias}.{q(f.column)}" for f in fields]

        select = [
            *columns("t", self.target_fields),
            f"(SELECT h.{q('history_id')} FROM {q(history.db_table)} h "
            f"WHERE h.{q('id')} = t.{q('id')} ORDER BY h.{q('history_id')} DESC "
            "LIMIT 1)",
            f"p.{q(plan.get_field('business_calendar').column)}",
            *columns("rc", self.calendar_fields),
            *columns("sc", self.calendar_fields),
            *columns("bc", self.calendar_fields),
        ]
        target = SLOTarget._meta
        calendar = q(BusinessCalendar._meta.db_table)
        pk = q("id")

        def column(name: str) -> str:
            return q(target.get_field(name).column)

        self.sql = (
            f"SELECT {', '.join(select)} FROM {q(target.db_table)} t "
            f"INNER JOIN {q(plan.db_table)} p ON p.{pk} = t.{column('plan')} "
            f"INNER JOIN {calendar} rc ON rc.{pk} = t.{column('response_calendar')} "
            f"LEFT OUTER JOIN {calendar} sc "
            f"ON sc.{pk} = t.{column('resolution_calendar')} "
            f"LEFT OUTER JOIN {calendar} bc "
            f"ON bc.{pk} = p.{q(plan.get_field('business_calendar').column)} "
            f"WHERE t.{column('plan')} = %s "
            f"AND (t.{column('severity')} = %s OR t.{column('severity')} IS NULL)"
        )
        self.target_converters = self._converters("t", self.target_fields)
        self.calendar_converters = self._converters("c", self.calendar_fields)

    def _converters(self, alias: str, fields) -> list[list]:
        return [
            [
                (converter, field.get_col(alias))
                for converter in (
                    self.connection.ops.get_db_converters(field.get_col(alias))
                    + field.get_db_converters(self.connection)
                )
            ]
            for field in fields
        ]

    def _convert(self, values, converters) -> list:
        out = []
        for value, conversions in zip(values, converters, strict=True):
            for converter, expression in conversions:
                value = converter(value, expression, self.connection)
            out.append(value)
        return out

    def _calendar(self, values) -> BusinessCalendar | None:
        from policies.models import BusinessCalendar

        if values[0] is None:
            return None
        return BusinessCalendar.from_db(
            self.connection.alias,
            [f.attname for f in self.calendar_fields],
            self._convert(values, self.calendar_converters),
        )

    def build(self, row: tuple) -> SLOTarget:
        from policies.models import SLOTarget

        n, c = len(self.target_fields), len(self.calendar_fields)
        target = SLOTarget.from_db(
            self.connection.alias,
            [f.attname for f in self.target_fields],
            self._convert(row[:n], self.target_converters),
        )
        target.policy_version = row[n]
        business_calendar_id = row[n + 1]
        calendars = row[n + 2 :]
        target.response_calendar = self._calendar(calendars[:c])
        target.resolution_calendar = self._calendar(calendars[c : 2 * c])
        # The plan's business hours as of this read (``_business_hours``).
        target._business_hours = (
            business_calendar_id,
            self._calendar(calendars[2 * c :]),
        )
        return target


def _business_hours(plan: SupportPlan, target: SLOTarget) -> BusinessCalendar | None:
    """Return the plan's business calendar, taking the row ``target_for`` loaded
    with the target (the same plan row) rather than querying for it again."""
    if plan.business_calendar_id is None:
        return None
    loaded_id, loaded = getattr(target, "_business_hours", (None, None))
    if loaded is not None and loaded_id == plan.business_calendar_id:
        return loaded
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
