"""The data steps of this app's migrations, run back and forth on a real database."""

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from helpdesk import alerts
from helpdesk.models import SLOClock, SLOEvent, SLOSweep
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


BEFORE_THRESHOLD_INSTANTS = [("helpdesk", "0010_event_clock_without_db_constraint")]


def test_threshold_instants_and_the_sweep_row_both_ways():
    ticket = file_ticket(administrator("jelastic"), customer_contact="Ada")
    response = SLOClock.objects.get(ticket=ticket, metric="first_response")
    SLOEvent.objects.create(  # the 75% warning is recorded; 90% is next
        clock=response, kind="warning", at=response.warning_75_at, due_version=1,
        threshold=75, due_before=response.due_at, due_after=response.due_at,
    )  # fmt: skip

    # Back: each running clock's next alert is its first threshold not alerted.
    executor = migrate(BEFORE_THRESHOLD_INSTANTS)
    old = executor.loader.project_state(BEFORE_THRESHOLD_INSTANTS).apps
    old_clock = old.get_model("helpdesk", "SLOClock").objects.get(pk=response.pk)
    assert (old_clock.next_alert_threshold, old_clock.next_alert_at) == (
        90,
        response.warning_90_at,
    )

    # Forward: the same instants again, and the sweep row at the migration (the
    # next alert is still to come), so the first sweep that reaches the next alert
    # records it, and not the 75% warning again.
    before = timezone.now()
    migrate(executor.loader.graph.leaf_nodes())
    response.refresh_from_db()
    again = SLOClock.objects.get(pk=response.pk)
    assert (again.warning_75_at, again.warning_90_at) == (
        response.warning_75_at,
        response.warning_90_at,
    )
    assert before <= SLOSweep.objects.get().swept_until <= timezone.now()
    with time_machine.travel(response.warning_90_at, tick=False):
        assert alerts.sweep()["alerts"] == 1
    assert sorted(SLOEvent.objects.alerts().values_list("threshold", flat=True)) == [
        75,
        90,
    ]
