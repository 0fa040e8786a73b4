"""Who hears about what: SLO warnings and breaches, through the e-mail outbox."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from helpdesk.emails import queue_email
from helpdesk.models import SLOAlert, SLOClock
from policies.models import BusinessCalendar


def alert_recipients(clock: SLOClock, threshold: int) -> list:
    """The assignee, else the Support Engineers; a breach also tells the managers."""
    ticket = clock.ticket
    people = [ticket.assignee] if ticket.assignee else _role(roles.SUPPORT_ENGINEER)
    if threshold >= 100:
        people += _role(roles.SUPPORT_MANAGER)
    unique = {user.pk: user for user in people if user.is_active}
    return list(unique.values())


def hold_until(clock: SLOClock, now):
    """When a business-time clock's alert may go out: now if its calendar is open,
    else at the next opening (no 2 a.m. warnings for a 24x5 Sev3). 24x7 and
    elapsed-time clocks notify at once."""
    calendar = clock.calendar
    if calendar is None or calendar.kind == BusinessCalendar.Kind.ALWAYS:
        return None
    schedule = calendar.schedule()
    return None if schedule.is_open(now) else schedule.next_open(now)


def notify_slo_alert(alert: SLOAlert, clock: SLOClock) -> None:
    now = timezone.now()
    send_after = hold_until(clock, now)
    kind = "breached" if alert.threshold >= 100 else f"{alert.threshold}% elapsed"
    for user in alert_recipients(clock, alert.threshold):
        queue_email(
            key=f"slo:{alert.clock_id}:{alert.threshold}:{alert.due_version}:{user.pk}",
            to=user.email,
            template="slo_alert",
            context={
                "recipient": user,
                "clock": clock,
                "alert": alert,
                "kind": kind,
                "admin_path": reverse(
                    "admin:helpdesk_ticket_change", args=[clock.ticket_id]
                ),
            },
            ticket=clock.ticket,
            send_after=send_after,
        )


def _role(name: str) -> list:
    group = Group.objects.filter(name=name).first()
    return list(group.user_set.filter(is_active=True)) if group else []
