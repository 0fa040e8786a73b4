"""Who hears about what: SLO warnings and breaches, through the e-mail outbox.

One sweep's alerts go out as one e-mail per recipient (and per hold time), so an
engineer gets a digest rather than a storm, and each alert is in exactly one e-mail.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime

from django.contrib.auth.models import Group

from accounts import roles
from helpdesk.emails import queue_email
from helpdesk.models import SLOAlert, SLOClock, Ticket
from policies.models import BusinessCalendar

# A digest lists this many alerts (breaches first); the console has the rest.
DIGEST_ROWS = 50


def hold_until(clock: SLOClock, now: datetime) -> datetime | None:
    """When a business-time clock's alert may go out: now if its calendar is open,
    else at the next opening (no 2 a.m. warnings for a 24x5 Sev3). 24x7 and
    elapsed-time clocks notify at once."""
    calendar = clock.calendar
    if calendar is None or calendar.kind == BusinessCalendar.Kind.ALWAYS:
        return None
    schedule = calendar.schedule()
    return None if schedule.is_open(now) else schedule.next_open(now)


def notify_slo_alerts(
    alerts: list[SLOAlert], *, now: datetime, people: dict | None = None
) -> int:
    """Queue one digest e-mail per (recipient, hold time) for ``alerts``: the
    assignee, else the Support Engineers; breaches also go to the Support Managers.
    ``people`` caches the role members across calls. Return the e-mails queued."""
    if not alerts:
        return 0
    people_cache = people if people is not None else {}
    for role in (roles.SUPPORT_ENGINEER, roles.SUPPORT_MANAGER):
        if role not in people_cache:
            people_cache[role] = _role(role)
    engineers = people_cache[roles.SUPPORT_ENGINEER]
    managers = people_cache[roles.SUPPORT_MANAGER]
    groups: dict[tuple, list[SLOAlert]] = defaultdict(list)
    people = {}
    for alert in alerts:
        clock = alert.clock
        assignee = clock.ticket.assignee
        recipients = [assignee] if assignee else list(engineers)
        if alert.threshold >= 100:
            recipients += managers
        send_after = hold_until(clock, now)
        for user in recipients:
            if user.is_active:
                people[user.pk] = user
                groups[(user.pk, send_after)].append(alert)
    _load_tickets_for_digests(groups.values())
    for (user_pk, send_after), items in groups.items():
        user = people[user_pk]
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


def _role(name: str) -> list:
    group = Group.objects.filter(name=name).first()
    return list(group.user_set.filter(is_active=True)) if group else []
