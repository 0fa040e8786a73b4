"""The status page's content, read in a constant number of queries: components with
their derived state and 90-day history, open incidents, maintenance (in progress,
upcoming, recent) and the incidents of the last days."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch, Q

from helpdesk.trust import status, uptime
from helpdesk.trust.models import Component, Incident, IncidentUpdate, MaintenanceWindow

HISTORY_DAYS = 90


def history_zone() -> ZoneInfo:
    """The zone whose calendar days the uptime bars count (one for every reader)."""
    return ZoneInfo(settings.HELPDESK_STATUS_TIME_ZONE)


@dataclass
class ComponentRow:
    component: Component
    state: status.State
    days: list[uptime.Day] = field(default_factory=list)

    @property
    def uptime_percent(self) -> str:
        return f"{uptime.uptime_over(self.days) * 100:.2f}%"


@dataclass
class Board:
    now: datetime
    groups: list[tuple[str, list[ComponentRow]]]
    state: status.State
    headline: str
    open_incidents: list[Incident]
    recent_incidents: list[Incident]
    in_progress: list[MaintenanceWindow]
    upcoming: list[MaintenanceWindow]
    past_maintenance: list[MaintenanceWindow]
    zone_name: str


def _latest_updates() -> Prefetch:
    return Prefetch(
        "updates", queryset=IncidentUpdate.objects.order_by("-posted_at", "-pk")
    )


def component_states(
    components, incidents, windows, now: datetime
) -> dict[int, status.State]:
    """Each component's state from the open incidents and the maintenance in
    progress among ``incidents`` and ``windows`` (their components prefetched)."""
    impacts: dict[int, list[str]] = defaultdict(list)
    for incident in incidents:
        if incident.resolved_at is None:
            for component in incident.components.all():
                impacts[component.pk].append(incident.impact)
    maintained = {
        component.pk
        for window in windows
        if window.phase(now) == "in progress"
        for component in window.components.all()
    }
    return {
        c.pk: status.component_state(impacts[c.pk], in_maintenance=c.pk in maintained)
        for c in components
    }


def build(now: datetime, *, history_days: int = HISTORY_DAYS) -> Board:
    """Return the status page's content at ``now`` (five queries)."""
    zone = history_zone()
    since = now - timedelta(days=history_days + 1)
    components = list(Component.objects.all())
    incidents = list(
        Incident.objects.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=since))
        .prefetch_related("components", _latest_updates())
        .order_by("-started_at", "-pk")
    )
    windows = list(
        MaintenanceWindow.objects.scheduled()
        .filter(ends_at__gte=since)
        .prefetch_related("components")
        .order_by("starts_at", "pk")
    )
    states = component_states(components, incidents, windows, now)
    by_component_incidents: dict[int, list[uptime.Interval]] = defaultdict(list)
    by_component_windows: dict[int, list[uptime.Interval]] = defaultdict(list)
    for incident in incidents:
        interval = uptime.Interval(
            incident.started_at,
            incident.resolved_at,
            status.IMPACT_STATE[incident.impact],
        )
        for component in incident.components.all():
            by_component_incidents[component.pk].append(interval)
    for window in windows:
        interval = uptime.Interval(
            window.starts_at, window.ends_at, status.State.UNDER_MAINTENANCE
        )
        for component in window.components.all():
            by_component_windows[component.pk].append(interval)
    groups: dict[str, list[ComponentRow]] = {}
    for component in components:
        groups.setdefault(component.group or "Services", []).append(
            ComponentRow(
                component=component,
                state=states[component.pk],
                days=uptime.history(
                    by_component_incidents[component.pk],
                    by_component_windows[component.pk],
                    zone=zone,
                    now=now,
                    days=history_days,
                ),
            )
        )
    overall, headline = status.overall_state(states.values())
    return Board(
        now=now,
        groups=list(groups.items()),
        state=overall,
        headline=headline,
        open_incidents=[i for i in incidents if i.resolved_at is None],
        recent_incidents=[i for i in incidents if i.resolved_at is not None][:10],
        in_progress=[w for w in windows if w.phase(now) == "in progress"],
        upcoming=[w for w in windows if w.phase(now) == "upcoming"],
        past_maintenance=[w for w in windows if w.phase(now) == "completed"][-5:][::-1],
        zone_name=str(zone),
    )
