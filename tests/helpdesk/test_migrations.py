"""The data steps of this app's migrations, run back and forth on a real database."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from helpdesk.models import SLOClock, SLOEvent
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_ALERTS_WERE_EVENTS = [("helpdesk", "0005_fewer_clock_indexes")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_alerts_and_assignees_survive_the_migrations_both_ways():
    ticket = file_ticket(administrator("jelastic"), customer_contact="Ada")
    response = SLOClock.objects.get(ticket=ticket, metric="first_response")
    SLOEvent.objects.create(  # as the sweep writes a warning
        clock=response, kind="warning", at=response.started_at, due_version=1,
        threshold=75, due_before=response.due_at, due_after=response.due_at,
    )  # fmt: skip

    # Back: the SLOAlert table returns with the alert the event recorded.
    executor = migrate(BEFORE_ALERTS_WERE_EVENTS)
    old = executor.loader.project_state(BEFORE_ALERTS_WERE_EVENTS).apps
    alerts = old.get_model("helpdesk", "SLOAlert").objects
    assert list(alerts.values_list("clock_id", "threshold", "due_version")) == [
        (response.pk, 75, 1)
    ]
    # What the old schema allowed: the same alert twice, and an assignee that
    # only the ticket knows.
    old_event = old.get_model("helpdesk", "SLOEvent")
    first = old_event.objects.get(clock_id=response.pk, threshold=75)
    old_event.objects.create(
        clock_id=response.pk, kind="warning", at=first.at, due_version=1,
        threshold=75, due_before=first.due_before, due_after=first.due_after,
    )  # fmt: skip
    agent = AgentFactory(role="Support Engineer")
    old.get_model("helpdesk", "Ticket").objects.filter(pk=ticket.pk).update(
        assignee_id=agent.pk
    )

    # Forward: one event per alert, the first kept; the clocks know the assignee.
    migrate(executor.loader.graph.leaf_nodes())
    assert list(SLOEvent.objects.alerts().values_list("pk", flat=True)) == [first.pk]
    assert set(ticket.clocks.values_list("assignee", flat=True)) == {agent.pk}
