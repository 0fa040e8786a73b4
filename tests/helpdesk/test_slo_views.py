"""Where people see SLO clocks: the console list and filter, explain, the portal,
the attainment report, and applying an edited policy."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from accounts import roles
from helpdesk import alerts, clocks, services
from helpdesk.models import SLOClock
from policies.models import SLOTarget, SupportPlan
from policies.slo import due_for
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 6, 10, tzinfo=PT)


def file(admin, level: int, at: datetime = T0, **overrides):
    severity = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(at, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada", **overrides),
            requester=admin.user,
            filed_by=admin.user,
        )


@pytest.fixture
def agent(client):
    user = AgentFactory(is_superuser=True)
    client.force_login(user)
    return user


@pytest.fixture
def tickets(agent):
    """Jelastic (24x7, response only): breached, at risk, on track and met tickets;
    and a Janrain Sev1 whose resolution clock is paused."""
    admin = administrator("jelastic")
    made = {
        "breached": file(admin, 1, T0 - timedelta(hours=3)),  # 2 h target: overdue
        "at_risk": file(admin, 1, T0 - timedelta(minutes=100)),  # 100 of 120 min
        "on_track": file(admin, 4, T0),
        "paused": file(administrator("janrain-platinum"), 1, T0),
        "met": file(admin, 2, T0),
    }
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        services.change_status(made["paused"], "waiting", actor=agent)
        services.post_reply(made["met"], author=agent, body="Hello")
        alerts.sweep()
    return made


@pytest.mark.parametrize("state", ["breached", "at_risk", "on_track", "paused", "met"])
def test_the_console_filters_tickets_by_slo_state(client, tickets, state):
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        response = client.get(
            reverse("admin:helpdesk_ticket_changelist"), {"slo": state}
        )

    shown = {t.reference for t in response.context["cl"].result_list}
    assert tickets[state].reference in shown
    others = {k: t.reference for k, t in tickets.items() if k != state}
    if state in ("breached", "at_risk", "on_track"):
        assert not shown & {others[k] for k in others if k in ("on_track", "breached")}


def test_the_console_list_colours_time_left_and_overdue(client, tickets):
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        text = client.get(reverse("admin:helpdesk_ticket_changelist")).content.decode()

    assert "overdue 1h 02m" in text
    assert "18m left" in text
    assert "color:red" in text


def test_explain_shows_the_counted_intervals_and_the_pauses(client, agent):
    admin = administrator("jumpcloud")
    ticket = file(admin, 3, datetime(2026, 3, 6, 15, tzinfo=ZoneInfo("America/Denver")))
    clock = SLOClock.objects.get(ticket=ticket, metric="first_response")

    text = client.get(
        reverse("admin:helpdesk_clock_explain", args=[clock.pk])
    ).content.decode()

    assert "Fri 6 Mar 2026 15:00 MST" in text
    assert "Mon 9 Mar 2026 09:00 MDT" in text
    assert "Total" in text
    assert "8:00:00" in text


def test_the_ticket_page_shows_both_clocks_with_their_events(client, tickets):
    ticket = tickets["breached"]

    text = client.get(
        reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    ).content.decode()

    assert "explain this due instant" in text
    assert "Breached" in text
    assert "Warning (75%)" in text


def test_the_customer_sees_targets_and_whether_each_was_met(client):
    admin = administrator("jelastic")
    ticket = file(admin, 2)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.post_reply(ticket, author=AgentFactory(), body="Hi")
    client.force_login(admin.user)

    text = client.get(ticket.get_absolute_url()).content.decode()

    assert "Service levels" in text
    assert "First response: 6 h" in text
    assert "Met" in text


def test_attainment_counts_met_breached_and_reclassification_apart(client, agent):
    admin = administrator("janrain-platinum")
    met = file(admin, 1, T0)
    late = file(admin, 1, T0)
    reclassified = file(admin, 3, T0)
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        services.post_reply(met, author=agent, body="fast")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        services.post_reply(late, author=agent, body="slow")
        sev1 = reclassified.plan.severities.get(level=1)
        clocks.change_targets(
            reclassified,
            due_for(reclassified.plan, sev1, reclassified.created_at),
            at=T0 + timedelta(hours=2),
        )
        alerts.sweep()

    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        response = client.get(reverse("slo_attainment"))

    rows = {
        (r["severity"], r["metric"]): r
        for r in response.context["rows"]
        if r["plan"] == "Janrain Platinum"
    }
    sev1 = rows[("Severity 1", "First response")]
    assert (sev1["met"], sev1["breached"], sev1["reclassified"]) == (1, 1, 0)
    assert sev1["attainment"] == 50.0
    sev3 = rows[("Severity 3", "First response")]
    assert sev3["reclassified"] == 1
    assert sev3["breached"] == 0
    assert "Reclassification breaches" in response.content.decode()


def test_customers_cannot_read_the_attainment_report(client):
    client.force_login(administrator().user)

    response = client.get(reverse("slo_attainment"))

    assert response.status_code == 302


def test_an_edited_target_reaches_open_clocks_only_through_the_previewed_action(
    client, agent
):
    admin = administrator("jelastic")
    open_ticket = file(admin, 2)
    answered = file(admin, 2)
    services.post_reply(answered, author=agent, body="Done")
    target = SLOTarget.objects.get(plan__slug="jelastic", severity__level=2)
    target.response_minutes = 3 * 60
    target.save()
    plan = SupportPlan.objects.get(slug="jelastic")
    url = reverse("admin:policies_supportplan_changelist")
    form = {"action": "apply_targets_to_open_tickets", "_selected_action": [plan.pk]}

    untouched = SLOClock.objects.get(ticket=open_ticket, metric="first_response")
    assert untouched.due_at == T0 + timedelta(hours=6)  # nothing silent
    preview = client.post(url, form)
    assert [r["clock"].ticket for r in preview.context["rows"]] == [open_ticket]
    client.post(url, form | {"confirm": "yes"})

    moved = SLOClock.objects.get(ticket=open_ticket, metric="first_response")
    kept = SLOClock.objects.get(ticket=answered, metric="first_response")
    assert moved.due_at == T0 + timedelta(hours=3)
    assert moved.events.last().note == "policy update"
    assert not moved.is_reclassification_breach
    assert kept.target == timedelta(hours=6)


def test_the_console_shows_how_far_behind_the_sweep_is(client, agent):
    file(administrator("jelastic"), 1)  # a transition: the sweep row exists
    with time_machine.travel(T0 + timedelta(minutes=3), tick=False):
        alerts.sweep(now=T0)
        page = client.get(reverse("admin:helpdesk_slosweep_changelist"))

    assert page.status_code == 200
    assert "3m" in page.content.decode()  # swept until T0, three minutes ago
    assert client.get(reverse("admin:helpdesk_slosweep_add")).status_code == 403


def test_support_managers_see_the_sweep_page_and_engineers_do_not(client):
    file(administrator("jelastic"), 1)  # the sweep row exists
    url = reverse("admin:helpdesk_slosweep_changelist")
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
    assert client.get(url).status_code == 200
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))
    assert client.get(url).status_code == 403
