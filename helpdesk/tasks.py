"""Celery tasks of the ticket core. Tasks take ids, call one service, return JSON."""

from celery import shared_task


@shared_task(name="helpdesk.ping")
def ping() -> str:
    """Return "pong": proves the web → broker → worker → result round trip."""
    return "pong"
