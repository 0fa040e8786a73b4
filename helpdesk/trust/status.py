"""Component state, derived (never typed): a pure module, no ORM.

A component is as bad as the worst of its open incidents; maintenance in progress
shows as "under maintenance" unless an incident makes it worse.

>>> component_state(["minor"], in_maintenance=True)
<State.DEGRADED: 'degraded'>
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class State(StrEnum):
    OPERATIONAL = "operational"
    UNDER_MAINTENANCE = "maintenance"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial-outage"
    MAJOR_OUTAGE = "major-outage"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def severity(self) -> int:
        return ORDER.index(self)


ORDER = [
    State.OPERATIONAL,
    State.UNDER_MAINTENANCE,
    State.DEGRADED,
    State.PARTIAL_OUTAGE,
    State.MAJOR_OUTAGE,
]
LABELS = {
    State.OPERATIONAL: "Operational",
    State.UNDER_MAINTENANCE: "Under maintenance",
    State.DEGRADED: "Degraded performance",
    State.PARTIAL_OUTAGE: "Partial outage",
    State.MAJOR_OUTAGE: "Major outage",
}
# Incident.Impact values -> the state they put a component in.
IMPACT_STATE = {
    "minor": State.DEGRADED,
    "major": State.PARTIAL_OUTAGE,
    "critical": State.MAJOR_OUTAGE,
}


def worst(states: Iterable[State]) -> State:
    """Return the worst of ``states`` (operational when there are none)."""
    return max(states, key=lambda s: s.severity, default=State.OPERATIONAL)


def component_state(open_impacts: Iterable[str], *, in_maintenance: bool) -> State:
    """Return a component's state from the impacts of its open incidents and
    whether a maintenance window on it is in progress."""
    states = [IMPACT_STATE[impact] for impact in open_impacts]
    if in_maintenance:
        states.append(State.UNDER_MAINTENANCE)
    return worst(states)


def overall_state(states: Iterable[State]) -> tuple[State, str]:
    """The page's headline: the worst state and a sentence for it."""
    state = worst(states)
    sentence = {
        State.OPERATIONAL: "All systems operational",
        State.UNDER_MAINTENANCE: "Scheduled maintenance in progress",
        State.DEGRADED: "Some systems are degraded",
        State.PARTIAL_OUTAGE: "Partial outage",
        State.MAJOR_OUTAGE: "Major outage",
    }[state]
    return state, sentence
