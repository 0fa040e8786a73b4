"""The monthly hours report: queued for every Support Manager through the outbox on
the first business day of the month."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tam import report_queries, terms
from tam.models import TAMProfile
from tam.routing import schedule_for_location
from tam.services.routing import support_managers


def previous_month(day: date) -> date:
    """Return the first day of the month before ``day``'s: 2026-01-15 -> 2025-12-01."""
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


@transaction.atomic
def send_monthly_hours_report(*, now: datetime | None = None) -> dict:
    """Queue last month's hours report for every Support Manager, through the outbox.

    It goes out on the first business day of the month (Janrain's Pacific calendar)
    or on the first run after it, so a worker that was down that day catches up;
    the outbox key (month and address) makes a second run queue nothing.
    """
    from helpdesk.emails import queue_email
    from helpdesk.models import OutboundEmail

    now = now or timezone.now()
    schedule = schedule_for_location(TAMProfile.Location.US_PACIFIC)
    today = now.astimezone(schedule.zone).date()
    first_business_day = terms.first_working_day_of_month(
        schedule, today.year, today.month
    )
    month = previous_month(today)
    if today < first_business_day:
        return {"month": f"{month:%Y-%m}", "queued": 0, "waiting": True}
    managers = support_managers()
    keys = {m.email: f"tam-hours-report:{month:%Y-%m}:{m.email}" for m in managers}
    already = set(
        OutboundEmail.objects.filter(key__in=keys.values()).values_list(
            "key", flat=True
        )
    )
    todo = [m for m in managers if keys[m.email] not in already]
    if todo:
        report = report_queries.month_report(month)
        path = reverse("tam:month", args=[month.year, month.month])
        for manager in todo:
            queue_email(
                key=keys[manager.email],
                to=manager.email,
                template="tam_hours_report",
                context={"report": report, "manager": manager, "report_path": path},
            )
    return {"month": f"{month:%Y-%m}", "queued": len(todo), "waiting": False}
