"""Rebuilding a clock from its event log gives the live answer, whatever happened."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk import clocks, services, slo
from helpdesk.lifecycle import allowed_next
from helpdesk.models import SLOClock
from policies.slo import due_for
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
START = datetime(2026, 3, 5, 16, 0, tzinfo=PT)  # a Thursday before the DST weekend

OPERATIONS = ["wait", "customer_reply", "agent_reply", "resolve", "reopen", "severity"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    plan=st.sampled_from(["janrain-platinum", "jumpcloud", "ironio-standard"]),
    steps=st.lists(
        st.tuples(
            st.integers(1, 60 * 30), st.sampled_from(OPERATIONS), st.integers(1, 3)
        ),
        max_size=8,
    ),
)
def test_replaying_the_events_rebuilds_every_clock(plan, steps):
    admin = administrator(plan)
    agent = AgentFactory()
    severities = {s.level: s for s in admin.organization.support_plan.severities.all()}
    now = START
    with time_machine.travel(now, tick=False):
        ticket = services.open_ticket(
            admin.organization,
            draft(customer_contact="Ada"),
            requester=admin.user,
            filed_by=admin.user,
        )
    for minutes, operation, level in steps:
        now += timedelta(minutes=minutes)
        ticket.refresh_from_db()
        with time_machine.travel(now, tick=False):
            _apply(ticket, operation, agent, severities.get(level))

    for clock in SLOClock.objects.filter(ticket=ticket):
        rebuilt = slo.replay(clock.events.order_by("at", "pk"), clocks._schedule_by_id)
        assert rebuilt.due_at == clock.due_at, clock.metric
        assert rebuilt.status == clock.status
        assert rebuilt.met_at == clock.met_at


def _apply(ticket, operation, agent, severity) -> None:
    allowed = allowed_next(ticket.status)
    if operation == "wait" and "waiting" in allowed:
        services.change_status(ticket, "waiting", actor=agent)
    elif operation == "customer_reply" and ticket.status not in ("closed", "resolved"):
        services.post_reply(ticket, author=ticket.requester, body="More detail")
    elif operation == "agent_reply" and ticket.status != "closed":
        services.post_reply(ticket, author=agent, body="Answer")
    elif operation == "resolve" and "resolved" in allowed:
        services.change_status(ticket, "resolved", actor=agent)
    elif operation == "reopen" and ticket.status == "resolved":
        services.reopen_ticket(ticket, actor=ticket.requester, reason="Not fixed")
    elif operation == "severity" and severity is not None:
        due = due_for(ticket.plan, severity, ticket.created_at)
        clocks.change_targets(ticket, due, at=datetime.now(tz=PT), actor=agent)
