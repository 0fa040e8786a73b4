"""Severity changes and escalations, per policy pack."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from helpdesk import escalations, services, severity
from helpdesk.models import Message, OutboundEmail, SeverityChange, SLOClock
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 10, 9, tzinfo=PT)  # a Tuesday


def file(plan: str, level: int, **overrides):
    admin = administrator(plan)
    sev = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(T0, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=sev, **overrides),
            requester=admin.user,
            filed_by=admin.user,
        )


def level(ticket, n: int):
    return ticket.plan.severities.get(level=n)


def response_due(ticket):
    return SLOClock.objects.get(ticket=ticket, metric="first_response").due_at


@pytest.fixture
def agent():
    return AgentFactory(role="Support Engineer")


# --- Janrain: a justified upgrade; a downgrade notifies ----------------------------


def test_janrain_upgrade_needs_a_justification_showing_the_impact():
    ticket = file("janrain-platinum", 3)

    with pytest.raises(ValidationError) as excinfo:
        severity.request_severity_change(
            ticket,
            level(ticket, 1),
            actor=ticket.requester,
            reason="urgent",
            expected=level(ticket, 3),
            customer_contact="Ada, +1 555 0100",
        )

    assert "increased impact" in excinfo.value.message_dict["reason"][0]
    ticket.refresh_from_db()
    assert ticket.severity.level == 3
    assert not SeverityChange.objects.exists()


def test_janrain_justified_upgrade_applies_and_recomputes_the_clocks():
    ticket = file("janrain-platinum", 3)

    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        change = severity.request_severity_change(
            ticket,
            level(ticket, 1),
            actor=ticket.requester,
            reason="Since 09:05 every production login fails for all users.",
            expected=level(ticket, 3),
            customer_contact="Ada, +1 555 0100, on call",
        )

    ticket.refresh_from_db()
    assert change.state == "applied"
    assert change.direction == "upgrade"
    assert ticket.severity.level == 1
    assert response_due(ticket) == T0 + timedelta(minutes=30)
    assert ticket.messages.get(visibility="event").body.startswith("Severity upgraded")


def test_sev1_and_sev2_need_a_named_contact_to_upgrade():
    ticket = file("janrain-platinum", 3)

    with pytest.raises(ValidationError) as excinfo:
        severity.request_severity_change(
            ticket,
            level(ticket, 2),
            actor=ticket.requester,
            reason="Checkout is failing for many of our users since this morning.",
            expected=level(ticket, 3),
        )

    assert "customer_contact" in excinfo.value.message_dict


def test_janrain_downgrade_by_an_agent_applies_and_notifies_the_customer(
    agent, django_capture_on_commit_callbacks
):
    ticket = file("janrain-platinum", 2, customer_contact="Ada")

    with django_capture_on_commit_callbacks(execute=True):
        change = severity.request_severity_change(
            ticket,
            level(ticket, 3),
            actor=agent,
            reason="A workaround is in place.",
            expected=level(ticket, 2),
        )

    assert change.state == "applied"
    [notice] = [m for m in mail.outbox if "Severity lowered" in m.subject]
    assert notice.to == [ticket.requester.email]
    assert "A workaround is in place." in notice.body


def test_a_stale_view_gets_a_conflict_and_changes_nothing(agent):
    ticket = file("janrain-platinum", 2, customer_contact="Ada")
    severity.request_severity_change(
        ticket,
        level(ticket, 3),
        actor=agent,
        reason="Workaround",
        expected=level(ticket, 2),
    )
    other = AgentFactory()

    with pytest.raises(severity.SeverityConflict, match="changed to Severity 3"):
        severity.request_severity_change(
            ticket,
            level(ticket, 1),
            actor=other,
            reason="Production is fully down for all users right now.",
            expected=level(ticket, 2),
        )
    assert SeverityChange.objects.count() == 1


# --- Jelastic: customer agreement; .Net and MS-SQL caps ----------------------------


def test_jelastic_downgrade_waits_for_the_customer_and_applies_on_agreement(agent):
    ticket = file("jelastic", 2, customer_contact="Bo")
    due_before = response_due(ticket)

    change = severity.request_severity_change(
        ticket,
        level(ticket, 4),
        actor=agent,
        reason="Only a how-to question now.",
        expected=level(ticket, 2),
    )
    ticket.refresh_from_db()
    assert change.state == "awaiting"
    assert ticket.severity.level == 2
    assert response_due(ticket) == due_before

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        severity.decide_downgrade(change, accept=True, actor=ticket.requester)

    ticket.refresh_from_db()
    change.refresh_from_db()
    assert ticket.severity.level == 4
    assert change.state == "applied"
    assert change.decided_by == ticket.requester
    assert response_due(ticket) == T0 + timedelta(hours=24)


def test_jelastic_customer_can_decline_a_downgrade(agent):
    ticket = file("jelastic", 2, customer_contact="Bo")
    change = severity.request_severity_change(
        ticket,
        level(ticket, 3),
        actor=agent,
        reason="Minor now",
        expected=level(ticket, 2),
    )

    severity.decide_downgrade(change, accept=False, actor=ticket.requester)

    ticket.refresh_from_db()
    assert ticket.severity.level == 2
    assert SeverityChange.objects.get().state == "rejected"
    with pytest.raises(ValidationError, match="already been decided"):
        severity.decide_downgrade(change, accept=True, actor=ticket.requester)


def test_agents_cannot_agree_on_the_customers_behalf(agent):
    ticket = file("jelastic", 2, customer_contact="Bo")
    change = severity.request_severity_change(
        ticket, level(ticket, 3), actor=agent, reason="Minor", expected=level(ticket, 2)
    )

    with pytest.raises(ValidationError, match="Support Administrators"):
        severity.decide_downgrade(change, accept=True, actor=agent)


@pytest.mark.parametrize("component", [".Net", "MS-SQL", "ms-sql"])
def test_jelastic_caps_refuse_an_upgrade_above_level_2_naming_the_cap(component):
    ticket = file("jelastic", 3, component=component)

    with pytest.raises(ValidationError) as excinfo:
        severity.request_severity_change(
            ticket,
            level(ticket, 1),
            actor=ticket.requester,
            reason="Everything is down",
            expected=level(ticket, 3),
            customer_contact="Bo",
        )

    assert "at most Level 2" in excinfo.value.message_dict["to_severity"][0]


# --- JumpCloud: escalation and the three checks ------------------------------------


def test_jumpcloud_escalation_alerts_managers_and_needs_three_checks_to_end(
    django_capture_on_commit_callbacks,
):
    ticket = file("jumpcloud", 2, customer_contact="Cy")
    manager = AgentFactory(role="Support Manager")
    engineer = AgentFactory(role="Escalation Engineer")

    with django_capture_on_commit_callbacks(execute=True):
        escalation = escalations.request_escalation(
            ticket, actor=ticket.requester, reason="No update for two days."
        )
    ticket.refresh_from_db()
    assert ticket.is_escalated
    assert [m.to for m in mail.outbox if "ESCALATED" in m.subject] == [[manager.email]]

    escalations.assign_engineer(escalation, engineer, actor=manager)
    with pytest.raises(ValidationError, match="acceptable action plan"):
        escalations.de_escalate(escalation, actor=engineer)
    escalations.record_check(
        escalation, "action_plan", actor=engineer, note="Fix Friday"
    )
    escalations.record_check(escalation, "process", actor=manager, note="Logs reviewed")
    with pytest.raises(ValidationError, match="all parties agree"):
        escalations.de_escalate(escalation, actor=engineer)
    escalations.record_check(escalation, "parties", actor=engineer, note="Call 10:00")
    escalations.de_escalate(escalation, actor=engineer)

    escalation.refresh_from_db()
    ticket.refresh_from_db()
    assert not ticket.is_escalated
    assert escalation.action_plan_confirmed_by == engineer
    assert escalation.process_verified_by == manager
    assert escalation.parties_agree_at is not None
    events = list(
        ticket.messages.filter(visibility="event").values_list("body", flat=True)
    )
    assert events[0].startswith("Escalation requested")
    assert events[-1].startswith("De-escalated")


def test_only_escalation_engineers_evaluate_and_one_escalation_at_a_time():
    ticket = file("jumpcloud", 3)
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="Slow"
    )

    with pytest.raises(ValidationError, match="not an Escalation Engineer"):
        escalations.assign_engineer(escalation, AgentFactory(), actor=AgentFactory())
    with pytest.raises(ValidationError, match="already escalated"):
        escalations.request_escalation(ticket, actor=ticket.requester, reason="Again")


# --- the portal and the console ------------------------------------------------------


def test_the_portal_offers_agreement_and_shows_the_new_targets(client, agent):
    ticket = file("jelastic", 2, customer_contact="Bo")
    change = severity.request_severity_change(
        ticket,
        level(ticket, 4),
        actor=agent,
        reason="How-to only",
        expected=level(ticket, 2),
    )
    client.force_login(ticket.requester)

    page = client.get(ticket.get_absolute_url()).content.decode()
    client.post(
        reverse("portal:decide_severity", args=[ticket.reference, change.pk]),
        {"decision": "accept"},
    )
    after = client.get(ticket.get_absolute_url()).content.decode()

    assert "Support proposes to lower the severity from Level 2 to Level 4" in page
    assert "First response: 24 h" in after
    assert "with your agreement" in after


def test_a_customer_escalates_from_the_portal_and_sees_the_badge(client):
    ticket = file("jumpcloud", 3)
    client.force_login(ticket.requester)

    client.post(
        reverse("portal:escalate", args=[ticket.reference]), {"reason": "Stuck"}
    )
    listing = client.get(reverse("portal:tickets")).content.decode()

    assert "Escalated" in listing


def test_other_organisations_cannot_touch_severity_or_escalate(client, agent):
    ticket = file("jelastic", 2, customer_contact="Bo")
    change = severity.request_severity_change(
        ticket, level(ticket, 3), actor=agent, reason="Minor", expected=level(ticket, 2)
    )
    client.force_login(administrator("jelastic").user)

    for url in (
        reverse("portal:change_severity", args=[ticket.reference]),
        reverse("portal:decide_severity", args=[ticket.reference, change.pk]),
        reverse("portal:escalate", args=[ticket.reference]),
    ):
        assert (
            client.post(url, {"decision": "accept", "reason": "x"}).status_code == 404
        )
    assert SeverityChange.objects.get().state == "awaiting"


def test_agents_change_severity_from_the_ticket_page_and_by_an_action(client, agent):
    ticket = file("janrain-platinum", 2, customer_contact="Ada")
    other = file("janrain-platinum", 2, customer_contact="Ada")
    client.force_login(AgentFactory(is_superuser=True))

    client.post(
        reverse("admin:helpdesk_ticket_severity", args=[ticket.pk]),
        {
            "to_severity": level(ticket, 3).pk,
            "reason": "Workaround",
            "expected": level(ticket, 2).pk,
        },
    )
    client.post(
        reverse("admin:helpdesk_ticket_changelist"),
        {
            "action": "change_severity_action",
            "_selected_action": [other.pk],
            "level": 3,
            "reason": "Workaround",
            "apply": "1",
        },
    )

    ticket.refresh_from_db()
    other.refresh_from_db()
    assert (ticket.severity.level, other.severity.level) == (3, 3)
    assert (
        OutboundEmail.objects.filter(key__startswith="severity_changed:").count() == 2
    )
    assert Message.objects.filter(visibility="event").count() == 2


def test_de_escalation_in_the_console_is_refused_until_all_checks(client):
    ticket = file("jumpcloud", 3)
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="Slow"
    )
    # Only escalation engineers and support managers de-escalate (issue 15 §3.3).
    client.force_login(AgentFactory(role="Escalation Engineer"))
    url = reverse("admin:helpdesk_escalation_change", args=[escalation.pk])

    refused = client.post(url, {"action_plan_note": "Plan agreed", "de_escalate": "on"})
    client.post(
        url,
        {
            "action_plan_note": "Plan agreed",
            "process_note": "Verified",
            "parties_note": "All agree",
            "de_escalate": "on",
        },
    )

    assert "Not de-escalated" in refused.content.decode()
    escalation.refresh_from_db()
    assert escalation.de_escalated_at is not None


def test_a_secret_in_a_de_escalation_note_is_refused_at_its_field(client):
    ticket = file("jumpcloud", 3)
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="Slow"
    )
    client.force_login(AgentFactory(is_superuser=True))
    url = reverse("admin:helpdesk_escalation_change", args=[escalation.pk])

    response = client.post(
        url, {"process_note": "Verified with api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc"}
    )

    assert response.status_code == 200
    assert "process_note" in response.context["adminform"].form.errors
    escalation.refresh_from_db()
    assert escalation.process_verified_at is None
