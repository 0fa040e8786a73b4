"""The ticket lifecycle (SPEC §4): which status may follow which, and why not.

    new → open → waiting on customer ⇄ open → resolved → closed
    resolved → open (the customer reopens the same ticket)

Every status change goes through ``check_transition``; ``services`` applies it.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from helpdesk.models import Ticket

S = Ticket.Status

ALLOWED: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.OPEN, S.WAITING_ON_CUSTOMER, S.RESOLVED}),
    S.OPEN: frozenset({S.WAITING_ON_CUSTOMER, S.RESOLVED}),
    S.WAITING_ON_CUSTOMER: frozenset({S.OPEN, S.RESOLVED}),
    S.RESOLVED: frozenset({S.OPEN, S.CLOSED}),
    S.CLOSED: frozenset(),
}


# The statuses that end the work on a ticket: an escalated ticket reaches neither
# until it is de-escalated (``helpdesk.escalations.refuse_ending``).
ENDS = frozenset({S.RESOLVED, S.CLOSED})


class IllegalTransition(ValidationError):
    """A status change the lifecycle does not allow."""


def allowed_next(status: str) -> list[str]:
    """Return the statuses a ticket in ``status`` may move to, in lifecycle order."""
    return [s for s in S.values if s in ALLOWED[status]]


def check_transition(current: str, target: str) -> None:
    """Raise IllegalTransition, with a message for people, unless allowed."""
    if target not in ALLOWED:
        raise IllegalTransition(f"{target!r} is not a ticket status.")
    if target in ALLOWED[current]:
        return
    here, there = S(current).label, S(target).label
    if current == S.CLOSED:
        raise IllegalTransition(
            "This ticket is closed and cannot change any more. If the problem is "
            "back, please file a new ticket and mention this one."
        )
    if current == target:
        raise IllegalTransition(f"The ticket is already {here.lower()}.")
    options = ", ".join(S(s).label.lower() for s in allowed_next(current))
    raise IllegalTransition(
        f"A ticket that is {here.lower()} cannot become {there.lower()}; "
        f"it can become: {options}."
    )
