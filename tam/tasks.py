"""Celery tasks of TAM contracts: each calls one service and returns small JSON."""

from __future__ import annotations

from celery import shared_task

from tam import services


@shared_task(name="tam.renew_due_contracts")
def renew_due_contracts() -> dict[str, int]:
    """Start, renew and end contracts whose dates have come (daily; idempotent)."""
    return services.renew_due_contracts()


@shared_task(name="tam.send_monthly_hours_report")
def send_monthly_hours_report() -> dict:
    """E-mail last month's hours report to the Support Managers on the month's first
    business day (or the first run after it), once per manager and month."""
    return services.send_monthly_hours_report()


@shared_task(name="tam.warn_licence_endings")
def warn_licence_endings() -> dict[str, int]:
    """E-mail the Support Managers 60 days before a TAM renewal the customer's
    licence does not cover (daily; once per contract and licence end)."""
    return services.warn_licence_endings()
