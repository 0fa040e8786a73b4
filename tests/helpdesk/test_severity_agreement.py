"""Jelastic: "Severity levels may be changed after initial contact and assessment
of the issue from a Jelastic Support Engineer, providing the customer is in
agreement" -- in both directions (issue 15 §3.1)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk import severity
from helpdesk.models import Message, OutboundEmail, SeverityChange, SLOClock
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def agent():
    return AgentFactory(role="Support Engineer")


def jelastic_ticket(level: int):
    admin = administrator("jelastic")
    plan = admin.organization.support_plan
    with time_machine.travel(T0, tick=False):
        return file_ticket(
            admin, severity=plan.severities.get(level=level), customer_contact="Gil"
        )


def level(ticket, n: int):
    return ticket.plan.severities.get(level=n)


def response_due(ticket):
    return SLOClock.objects.get(ticket=ticket, metric="first_response").due_at


def test_an_agents_upgrade_on_jelastic_waits_for_the_customer(agent):
    ticket = jelastic_ticket(3)
    due_before = response_due(ticket)

    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        change = severity.request_severity_change(
            ticket,
            level(ticket, 2),
            actor=agent,
            reason="After assessment the primary site is unstable.",
            expected=level(ticket, 3),
        )

    ticket.refresh_from_db()
    assert change.state == SeverityChange.State.AWAITING_CUSTOMER
    assert change.direction == SeverityChange.Direction.UPGRADE
    assert ticket.severity.level == 3  # nothing changed yet
    assert response_due(ticket) == due_before
    proposal = OutboundEmail.objects.get(key=f"severity_proposed:{change.pk}")
    assert "raise the severity" in proposal.subject
    assert Message.objects.filter(
        ticket=ticket, body__startswith="Support proposes to raise"
    ).exists()


def test_the_customer_agrees_to_the_upgrade_and_the_clocks_follow(agent):
    ticket = jelastic_ticket(3)
    change = severity.request_severity_change(
        ticket,
        level(ticket, 2),
        actor=agent,
        reason="After assessment the primary site is unstable.",
        expected=level(ticket, 3),
    )

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        severity.decide_downgrade(change, accept=True, actor=ticket.requester)

    ticket.refresh_from_db()
    change.refresh_from_db()
    assert ticket.severity.level == 2
    assert change.state == SeverityChange.State.APPLIED
    assert change.decided_by == ticket.requester
    assert response_due(ticket) == T0 + timedelta(hours=6)  # Level 2: 6 h


def test_the_customer_declines_the_upgrade_and_the_severity_stays(agent):
    ticket = jelastic_ticket(3)
    change = severity.request_severity_change(
        ticket,
        level(ticket, 2),
        actor=agent,
        reason="After assessment the primary site is unstable.",
        expected=level(ticket, 3),
    )

    severity.decide_downgrade(change, accept=False, actor=ticket.requester)

    ticket.refresh_from_db()
    assert ticket.severity.level == 3
    assert SeverityChange.objects.get().state == SeverityChange.State.REJECTED
    assert Message.objects.filter(
        ticket=ticket, body__startswith="The customer declined raising"
    ).exists()


def test_an_agent_cannot_agree_for_the_customer(agent):
    ticket = jelastic_ticket(3)
    change = severity.request_severity_change(
        ticket,
        level(ticket, 2),
        actor=agent,
        reason="After assessment the primary site is unstable.",
        expected=level(ticket, 3),
    )

    with pytest.raises(ValidationError, match="Support Administrators"):
        severity.decide_downgrade(change, accept=True, actor=agent)

    ticket.refresh_from_db()
    assert ticket.severity.level == 3
    assert SeverityChange.objects.get().state == SeverityChange.State.AWAITING_CUSTOMER


def test_the_customers_own_upgrade_on_jelastic_applies_at_once():
    ticket = jelastic_ticket(3)

    change = severity.request_severity_change(
        ticket,
        level(ticket, 2),
        actor=ticket.requester,
        reason="Our primary production site is now unstable.",
        expected=level(ticket, 3),
    )

    ticket.refresh_from_db()
    assert change.state == SeverityChange.State.APPLIED
    assert ticket.severity.level == 2


def test_an_agents_upgrade_on_janrain_applies_at_once(agent):
    admin = administrator("janrain-platinum")
    plan = admin.organization.support_plan
    ticket = file_ticket(admin, severity=plan.severities.get(level=3))

    change = severity.request_severity_change(
        ticket,
        plan.severities.get(level=2),
        actor=agent,
        reason="Checkout fails for many users since the release at 09:00.",
        expected=plan.severities.get(level=3),
        customer_contact="Ada, +1 555 0100",
    )

    assert change.state == SeverityChange.State.APPLIED


def test_the_portal_shows_the_proposed_upgrade_to_the_customer_only(client, agent):
    ticket = jelastic_ticket(3)
    severity.request_severity_change(
        ticket,
        level(ticket, 2),
        actor=agent,
        reason="After assessment the primary site is unstable.",
        expected=level(ticket, 3),
    )
    url = reverse("portal:ticket", args=[ticket.reference])

    client.force_login(ticket.requester)
    page = client.get(url).content.decode()
    assert "Support proposes to raise the severity" in page
    assert "Agree to Level 2" in page

    stranger = SupportAdministratorFactory()
    client.force_login(stranger.user)
    assert client.get(url).status_code == 404
