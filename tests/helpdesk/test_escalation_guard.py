"""Escalations cannot be sidestepped (JumpCloud, issue 15 §3.3): an escalated
ticket is neither resolved nor closed before it is de-escalated through the three
checks, and only an escalation engineer or a support manager de-escalates."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk import escalations, services
from helpdesk.lifecycle import IllegalTransition
from helpdesk.models import Escalation, Ticket
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def escalated():
    ticket = file_ticket(administrator("jumpcloud"))
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="No progress for two days."
    )
    return ticket, escalation


def record_all_checks(escalation, actor):
    for check in escalations.CHECKS:
        escalations.record_check(escalation, check, actor=actor, note=f"{check} ok")


@pytest.mark.parametrize("status", [Ticket.Status.RESOLVED])
def test_an_escalated_ticket_cannot_be_resolved(escalated, status):
    ticket, _ = escalated
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)

    with pytest.raises(IllegalTransition) as excinfo:
        services.change_status(ticket, status, actor=engineer)

    assert "escalated" in excinfo.value.messages[0]
    assert "an acceptable action plan is confirmed" in excinfo.value.messages[0]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    assert ticket.resolved_at is None


def test_a_resolved_ticket_escalated_again_cannot_be_closed(escalated):
    ticket, escalation = escalated
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    record_all_checks(escalation, manager)
    escalations.de_escalate(escalation, actor=manager)
    services.change_status(ticket, Ticket.Status.RESOLVED, actor=manager)
    escalations.request_escalation(
        ticket, actor=ticket.requester, reason="The fix did not hold."
    )

    with pytest.raises(IllegalTransition, match="cannot be closed"):
        services.change_status(ticket, Ticket.Status.CLOSED, actor=manager)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED


def test_a_reply_with_resolve_is_refused_whole(escalated, client):
    ticket, _ = escalated
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER, is_superuser=True)
    client.force_login(engineer)

    client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": "Fixed, closing.", "then_status": Ticket.Status.RESOLVED},
    )

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    assert not ticket.messages.filter(body="Fixed, closing.").exists()


def test_after_de_escalation_the_ticket_resolves(escalated):
    ticket, escalation = escalated
    engineer = AgentFactory(role=roles.ESCALATION_ENGINEER)
    record_all_checks(escalation, engineer)
    escalations.de_escalate(escalation, actor=engineer)

    services.change_status(ticket, Ticket.Status.RESOLVED, actor=engineer)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.RESOLVED


@pytest.mark.parametrize(
    "role", [roles.SUPPORT_ENGINEER, roles.TAM, roles.PROJECT_MANAGER, None]
)
def test_only_escalation_engineers_and_managers_de_escalate(escalated, role):
    _, escalation = escalated
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    record_all_checks(escalation, manager)
    other = AgentFactory(role=role, is_superuser=role is None)

    with pytest.raises(PermissionDenied):
        escalations.de_escalate(escalation, actor=other)

    escalation.refresh_from_db()
    assert escalation.is_open
    assert Ticket.objects.get(pk=escalation.ticket_id).is_escalated


@pytest.mark.parametrize("role", [roles.ESCALATION_ENGINEER, roles.SUPPORT_MANAGER])
def test_escalation_engineers_and_managers_de_escalate(escalated, role):
    _, escalation = escalated
    actor = AgentFactory(role=role)
    record_all_checks(escalation, actor)

    escalations.de_escalate(escalation, actor=actor)

    escalation.refresh_from_db()
    assert escalation.de_escalated_by == actor


def test_de_escalation_still_needs_the_three_checks(escalated):
    _, escalation = escalated
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    escalations.record_check(escalation, "action_plan", actor=manager, note="Plan ok")

    with pytest.raises(ValidationError, match="proper process"):
        escalations.de_escalate(escalation, actor=manager)

    assert Escalation.objects.get(pk=escalation.pk).is_open


def test_the_ticket_page_offers_no_resolve_while_escalated(escalated, client):
    ticket, _ = escalated
    manager = AgentFactory(role=roles.SUPPORT_MANAGER, is_superuser=True)
    client.force_login(manager)

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    statuses = [value for value, _ in page.context["status_choices"]]
    assert Ticket.Status.RESOLVED not in statuses
    assert Ticket.Status.OPEN in statuses
    assert Ticket.Status.RESOLVED not in dict(page.context["send_and"])
    assert "escalation-holds" in page.content.decode()


def test_the_console_offers_de_escalation_only_to_those_who_may(escalated, client):
    _, escalation = escalated
    url = reverse("admin:helpdesk_escalation_change", args=[escalation.pk])
    superuser = AgentFactory(is_superuser=True)
    record_all_checks(escalation, superuser)

    notes = {
        "action_plan_note": "Plan agreed",
        "process_note": "Verified",
        "parties_note": "All agree",
        "de_escalate": "on",
    }

    client.force_login(superuser)
    assert 'name="de_escalate"' not in client.get(url).content.decode()
    client.post(url, notes)
    assert Escalation.objects.get(pk=escalation.pk).is_open

    client.force_login(AgentFactory(role=roles.ESCALATION_ENGINEER))
    assert 'name="de_escalate"' in client.get(url).content.decode()
    client.post(url, notes)
    assert not Escalation.objects.get(pk=escalation.pk).is_open
