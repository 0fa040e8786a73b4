"""Who hears about what: SLO warnings and breaches, and mail stuck in the outbox,
through the e-mail outbox.

One sweep's alerts go out as one e-mail per recipient (and per hold time), so an
engineer gets a digest rather than a storm, and each alert is in exactly one e-mail.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models.functions import Coalesce

from accounts import roles
from helpdesk import emails
from helpdesk.emails import queue_email
from helpdesk.models import OutboundEmail, SLOClock, Ticket
from policies.models import BusinessCalendar, SupportPlan

logger = logging.getLogger(__name__)

# A digest lists this many alerts (breaches first); the console has the rest.
DIGEST_ROWS = 50
# The outbox keys of the stuck-mail alerts, which are outbox mail themselves.
STUCK_OUTBOX_KEY = "outbox-stuck:"


@dataclass(slots=True, eq=False)
class AlertClock:
    """The fields of a swept clock that its alerts need: who hears, when, and what
    the digest shows. Reads like an SLOClock in the ``slo_alert`` templates; the
    sweep builds these from plain rows rather than loading model instances."""

    id: int
    ticket_id: int
    assignee_id: int | None
    calendar: BusinessCalendar | None
    metric: str
    target_label: str
    is_reclassification_breach: bool
    ticket: Ticket | None = None  # loaded for the rows a digest shows

    @property
    def calendar_id(self) -> int | None:
        return self.calendar.pk if self.calendar is not None else None

    def get_metric_display(self) -> str:
        return SLOClock.Metric(self.metric).label


@dataclass(slots=True, eq=False)
class DueAlert:
    """One recorded alert: a threshold (75, 90, 100) of one due version of a clock."""

    clock: AlertClock
    threshold: int
    due_version: int
    due_at: datetime

    @property
    def clock_id(self) -> int:
        return self.clock.id


def hold_until(clock: SLOClock | AlertClock, now: datetime) -> datetime | None:
    """When a business-time clock's alert may go out: now if its calendar is open,
    else at the next opening (no 2 a.m. warnings for a 24x5 Sev3). 24x7 and
    elapsed-time clocks notify at once."""
    calendar = clock.calendar
    if calendar is None or calendar.kind == BusinessCalendar.Kind.ALWAYS:
        return None
    schedule = calendar.schedule()
    return None if schedule.is_open(now) else schedule.next_open(now)


# Ticket ids per query when looking up which alerts wait for staffed hours (SQLite
# allows 32,766 parameters in one statement).
_STAFFED_LOOKUP_CHUNK = 5_000


def staffed_holds(alerts: list[DueAlert], now: datetime) -> dict[int, datetime | None]:
    """Return, by ticket id, when the alerts of tickets that wait for staffed hours
    may go out: the tickets on a plan with a staffed-hours calendar whose severity
    does not page at once (Janrain Sev3). None: staffed now, at once. The alerts of
    other tickets are not in the result (``hold_until`` decides for them).

    Costs one query when no plan has staffed hours, else one per 5,000 tickets and
    one for the calendars."""
    staffed = dict(
        SupportPlan.objects.filter(staffed_calendar__isnull=False).values_list(
            "pk", "staffed_calendar_id"
        )
    )
    if not staffed:
        return {}
    ids = sorted({alert.clock.ticket_id for alert in alerts})
    waiting: dict[int, int] = {}  # ticket id -> staffed calendar id
    for start in range(0, len(ids), _STAFFED_LOOKUP_CHUNK):
        rows = Ticket.objects.filter(
            pk__in=ids[start : start + _STAFFED_LOOKUP_CHUNK],
            plan_id__in=list(staffed),
            severity__pages_at_once=False,
        ).values_list("pk", "plan_id")
        waiting.update((pk, staffed[plan_id]) for pk, plan_id in rows)
    if not waiting:
        return {}
    calendars = BusinessCalendar.objects.prefetch_related("hours", "holidays").in_bulk(
        set(waiting.values())
    )
    opens: dict[int, datetime | None] = {}
    for pk, calendar in calendars.items():
        schedule = calendar.schedule()
        opens[pk] = None if schedule.is_open(now) else schedule.next_open(now)
    return {ticket_id: opens[calendar_id] for ticket_id, calendar_id in waiting.items()}


def notify_slo_alerts(
    alerts: list[DueAlert], *, now: datetime, people: dict | None = None
) -> int:
    """Queue one digest e-mail per (recipient, hold time) for ``alerts``: the
    assignee, else the Support Engineers; breaches also go to the Support Managers.
    Alerts of severities that do not page at once, on a plan with staffed hours,
    wait for those hours to open (``staffed_holds``); the others wait for their
    clock's calendar (``hold_until``). ``people`` caches the role members across
    calls. Return the e-mails queued."""
    if not alerts:
        return 0
    people_cache = people if people is not None else {}
    for role in (roles.SUPPORT_ENGINEER, roles.SUPPORT_MANAGER):
        if role not in people_cache:
            people_cache[role] = roles.members(role)
    engineers = people_cache[roles.SUPPORT_ENGINEER]
    managers = people_cache[roles.SUPPORT_MANAGER]
    # Someone in both roles (or an assignee who manages) gets each breach once.
    engineers_and_managers = _without_repeats([*engineers, *managers])
    assignees = _assignees(alerts)
    holds: dict[int | None, datetime | None] = {}  # hold time per calendar
    staffed = staffed_holds(alerts, now)
    groups: dict[tuple, list[DueAlert]] = defaultdict(list)
    recipients_of: dict[int, list] = {}
    for alert in alerts:
        clock = alert.clock
        if clock.ticket_id in staffed:
            send_after = staffed[clock.ticket_id]
        else:
            calendar_id = clock.calendar_id
            if calendar_id not in holds:
                holds[calendar_id] = hold_until(clock, now)
            send_after = holds[calendar_id]
        assignee = assignees.get(clock.assignee_id)
        if alert.threshold < 100:
            recipients = [assignee] if assignee is not None else engineers
        elif assignee is None:
            recipients = engineers_and_managers
        else:
            recipients = _without_repeats([assignee, *managers])
        for user in recipients:
            if user.is_active:
                recipients_of[user.pk] = user
                groups[(user.pk, send_after)].append(alert)
    _load_tickets_for_digests(groups.values())
    for (user_pk, send_after), items in groups.items():
        user = recipients_of[user_pk]
        fingerprint = hashlib.sha256(
            ",".join(
                f"{a.clock_id}:{a.threshold}:{a.due_version}" for a in items
            ).encode()
        ).hexdigest()[:24]
        queue_email(
            key=f"slo:{user_pk}:{fingerprint}",
            to=user.email,
            template="slo_alert",
            context={
                "recipient": user,
                "alerts": items,
                "shown": items[:DIGEST_ROWS],
                "more": max(0, len(items) - DIGEST_ROWS),
                "breaches": sum(1 for a in items if a.threshold >= 100),
            },
            send_after=send_after,
        )
    return len(groups)


def _without_repeats(users: list) -> list:
    """Return ``users`` in order, each once."""
    return list({user.pk: user for user in users}.values())


def _assignees(alerts: list[DueAlert]) -> dict:
    """Return the assignees of the alerts' tickets (the clocks' copies of them) by
    id, in one query (none when no ticket is assigned)."""
    ids = {a.clock.assignee_id for a in alerts} - {None}
    return get_user_model().objects.in_bulk(ids) if ids else {}


def _load_tickets_for_digests(groups) -> None:
    """Sort each digest (breaches first) and load, in one query, the tickets of the
    rows it shows: their organisation, plan and severity appear in the e-mail."""
    shown = []
    for items in groups:
        items.sort(key=lambda a: (-a.threshold, a.due_at))
        shown += items[:DIGEST_ROWS]
    tickets = Ticket.objects.select_related("organization", "plan", "severity").in_bulk(
        {alert.clock.ticket_id for alert in shown}
    )
    for alert in shown:
        alert.clock.ticket = tickets[alert.clock.ticket_id]


def notify_stuck_outbox(*, now: datetime) -> list[int]:
    """Queue one e-mail per Support Manager when outbox mail has waited STUCK_AFTER
    (15 minutes) past the instant it was due, once per stuck episode; return the
    outbox ids queued (none when nothing is stuck or this episode was told).

    The alert goes through the outbox like any mail, so an SMTP outage delays it
    instead of losing it, and the sweep sends it ahead of the backlog. An episode
    is over when every e-mail stuck at its alert has gone out or failed: a new one
    starts with stuck mail that was due after the last alert was queued. The alerts
    themselves are never counted as stuck, so an alert that cannot go out raises no
    alert of its own.
    """
    cutoff = now - emails.STUCK_AFTER
    stuck = OutboundEmail.objects.stuck(before=cutoff).exclude(
        key__startswith=STUCK_OUTBOX_KEY
    )
    since = (
        stuck.annotate(due_at=Coalesce("send_after", "created_at"))
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    if since is None:
        return []
    told = OutboundEmail.objects.filter(
        key__startswith=STUCK_OUTBOX_KEY, created_at__gte=since
    )
    if told.exists():
        return []
    managers = roles.members(roles.SUPPORT_MANAGER)
    if not managers:
        logger.warning(
            "outbox mail stuck since %s, and no Support Manager to tell", since
        )
        return []
    context = {
        "count": stuck.count(),
        "since": since,
        "errors": list(
            dict.fromkeys(
                stuck.exclude(last_error="")
                .order_by("-attempts")
                .values_list("last_error", flat=True)[:20]
            )
        )[:3],
        "failed": OutboundEmail.objects.failed().filter(failed_at__gte=since).count(),
    }
    return [
        queue_email(
            key=f"{STUCK_OUTBOX_KEY}{since:%Y%m%dT%H%M%S.%f}:{manager.pk}",
            to=manager.email,
            template="outbox_stuck",
            context={**context, "recipient": manager},
        ).pk
        for manager in managers
    ]
