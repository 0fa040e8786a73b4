"""Regression tests for the review findings: permissions on bulk actions, the TAM
SLO surviving a severity change, finished tickets stopping their clocks."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk import alerts, clocks, services, severity
from helpdesk.models import SLOClock, SLOEvent
from policies.models import SupportPlan
from policies.slo import due_for
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft
from tests.tam import factories as tam_factories

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 10, 9, tzinfo=PT)


def file(plan: str, level: int, when=T0, **overrides):
    admin = administrator(plan)
    sev = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(when, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(**({"severity": sev, "customer_contact": "Ada"} | overrides)),
            requester=admin.user,
            filed_by=admin.user,
        )


def test_applying_targets_needs_change_permission_on_plans(client):
    ticket = file("jelastic", 2)
    client.force_login(AgentFactory(role="Support Engineer"))  # view only
    plan = SupportPlan.objects.get(slug="jelastic")

    response = client.post(
        reverse("admin:policies_supportplan_changelist"),
        {
            "action": "apply_targets_to_open_tickets",
            "_selected_action": [plan.pk],
            "confirm": "yes",
        },
    )

    assert response.status_code in (200, 302)
    assert not SLOClock.objects.filter(ticket=ticket, events__note="policy update")


def test_bulk_severity_change_needs_change_permission_on_tickets(client):
    ticket = file("janrain-platinum", 2)
    client.force_login(AgentFactory(role="Project Manager"))  # view only

    client.post(
        reverse("admin:helpdesk_ticket_changelist"),
        {
            "action": "change_severity_action",
            "_selected_action": [ticket.pk],
            "level": 3,
            "reason": "x",
            "apply": "1",
        },
    )

    ticket.refresh_from_db()
    assert ticket.severity.level == 2


def test_the_slo_calculator_needs_view_permission_on_plans(client):
    client.force_login(AgentFactory())  # staff, no permissions

    response = client.get(reverse("admin:policies_slo_calculator"))

    assert response.status_code == 403


def test_a_severity_change_keeps_the_tam_slo_of_a_tam_routed_ticket():
    admin = administrator("janrain-platinum")
    admin.organization.time_zone = "America/Los_Angeles"
    admin.organization.save()
    tam_factories.contract(admin.organization)
    friday = datetime(2027, 2, 5, 15, tzinfo=PT)
    with time_machine.travel(friday, tick=False):
        ticket = services.open_ticket(
            admin.organization,
            draft(environment="deployment", route_to_tam=True),
            requester=admin.user,
            filed_by=admin.user,
        )
        sev2 = ticket.plan.severities.get(level=2)
        severity.request_severity_change(
            ticket,
            sev2,
            actor=admin.user,
            reason="The deployment blocks the launch for all our users now.",
            expected=ticket.severity,
            customer_contact="Ada",
        )

    response = SLOClock.objects.get(ticket=ticket, metric="first_response")
    assert response.target_label == clocks.TAM_LABEL
    assert response.due_at == datetime(2027, 2, 8, 10, tzinfo=PT)
    assert not clocks.policy_changes([ticket.plan])


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_resolving_without_a_reply_stops_the_response_clock(status):
    ticket = file("jelastic", 1)  # response due 11:00
    agent = AgentFactory()
    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        services.change_status(ticket, "resolved", actor=agent)
        if status == "closed":
            services.change_status(ticket, "closed", actor=agent)
    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        alerts.sweep()

    response = SLOClock.objects.get(ticket=ticket, metric="first_response")
    assert response.status == "met"
    assert response.outcome == "met"
    assert not SLOEvent.objects.alerts().exists()


def test_a_downgrade_cannot_be_accepted_once_the_ticket_is_resolved():
    ticket = file("jelastic", 2)
    agent = AgentFactory()
    change = severity.request_severity_change(
        ticket,
        ticket.plan.severities.get(level=3),
        actor=agent,
        reason="Minor",
        expected=ticket.severity,
    )
    services.change_status(ticket, "resolved", actor=agent)

    with pytest.raises(ValidationError, match="resolved"):
        severity.decide_downgrade(change, accept=True, actor=ticket.requester)


def test_a_later_change_clears_the_reclassification_tag():
    ticket = file("janrain-platinum", 3)  # response due Wed 09:00 (1 business day)
    plan = ticket.plan
    at = T0 + timedelta(hours=1)
    with time_machine.travel(at, tick=False):
        clocks.change_targets(
            ticket, due_for(plan, plan.severities.get(level=1), T0), at=at
        )
        tagged = SLOClock.objects.get(ticket=ticket, metric="first_response")
        clocks.change_targets(
            ticket, due_for(plan, plan.severities.get(level=3), T0), at=at
        )

    cleared = SLOClock.objects.get(ticket=ticket, metric="first_response")
    assert tagged.is_reclassification_breach
    assert not cleared.is_reclassification_breach
