"""The console's ticket page without Django's raw inlines: what the severity-change,
escalation and clock tables showed is in the timeline and the side panel; the
clocks say when their time is business time; filing on behalf names the archives."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.models import Team
from helpdesk import alerts, clock_display, escalations, services, severity, timeline
from helpdesk.console import ticket_page
from helpdesk.models import SLOClock, Ticket
from policies.models import CatalogueEntry
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 3, 10, 9, tzinfo=PT)  # a Tuesday
REASON = "Checkout is down for every EU customer since 09:00."


def file(plan: str, level: int, **overrides):
    admin = administrator(plan)
    sev = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(T0, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=sev, customer_contact="Ada, +1 555 0100", **overrides),
            requester=admin.user,
            filed_by=admin.user,
        )


@pytest.fixture
def agent(client):
    user = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Erin Engineer")
    client.force_login(user)
    return user


def page_of(client, ticket):
    return client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))


def test_no_raw_inline_is_left_on_the_page(client, agent):
    ticket = file("janrain-platinum", 3)

    page = page_of(client, ticket)

    assert page.status_code == 200
    assert list(page.context["inline_admin_formsets"]) == []
    assert "TOTAL_FORMS" not in page.content.decode()


def test_a_severity_change_shows_its_reason_who_and_the_new_targets(client, agent):
    ticket = file("janrain-platinum", 3)
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        severity.request_severity_change(
            ticket,
            ticket.plan.severities.get(level=2),
            actor=agent,
            reason=REASON,
            expected=ticket.plan.severities.get(level=3),
        )

    entries = page_of(client, ticket).context["timeline"]

    change = next(e for e in entries if e.body.startswith("Severity upgraded"))
    assert REASON in change.body
    assert change.who == "Erin Engineer"
    assert change.role == roles.SUPPORT_ENGINEER
    # The clocks' new due instants, as their events say.
    targets = [e for e in entries if e.kind == "clock" and "Target changed" in e.body]
    assert {e.body.split(" clock:")[0] for e in targets} == {
        "First response",
        "Resolution",
    }
    assert all("due " in e.body and "(was " in e.body for e in targets)


def test_the_open_escalation_shows_each_check_and_who_recorded_it(client, agent):
    ticket = file("janrain-platinum", 3)
    escalation = escalations.request_escalation(
        ticket, actor=ticket.requester, reason="No progress for two days."
    )
    escalations.record_check(
        escalation, "action_plan", actor=agent, note="Rollback planned for 14:00."
    )

    page = page_of(client, ticket)

    html = page.content.decode()
    panel = html[html.index('id="escalation"') :]
    panel = panel[: panel.index("</div>")]
    assert "No progress for two days." in panel
    assert "Erin Engineer" in panel
    assert "Rollback planned for 14:00." in panel
    assert panel.count("still to record") == 2
    assert reverse("admin:helpdesk_escalation_change", args=[escalation.pk]) in panel
    checks = page.context["open_escalation"].checks
    assert [c.by for c in checks] == ["Erin Engineer", None, None]
    assert checks[0].at is not None
    assert checks[0].at.tzinfo is not None
    # The request itself is in the conversation, by the customer.
    assert any(
        e.body == "Escalation requested: No progress for two days."
        and e.role == "customer"
        for e in page.context["timeline"]
    )


def test_a_breached_clock_shows_its_breach_in_the_panel_and_the_timeline(client, agent):
    ticket = file("jelastic", 1)  # 24x7, first response in 2 h
    clock = SLOClock.objects.get(ticket=ticket, metric="first_response")
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        alerts.sweep()
        page = page_of(client, ticket)

    html = page.content.decode()
    clocks = html[html.index('id="clocks"') :]
    assert "overdue 1h 00m" in clocks
    assert "breached <time" in clocks
    assert reverse("admin:helpdesk_clock_explain", args=[clock.pk]) in clocks
    bodies = [e.body for e in page.context["timeline"] if e.kind == "clock"]
    assert "First response clock: Breached (100%)" in bodies


@pytest.mark.parametrize(
    ("plan", "metric", "business"),
    [
        # Janrain's resolution clock runs on a 24x5 calendar: business time.
        ("janrain-platinum", "resolution", True),
        # Jelastic's run 24x7: the time left is plain time.
        ("jelastic", "first_response", False),
    ],
)
def test_time_left_says_when_it_is_business_time(plan, metric, business):
    ticket = file(plan, 3)
    clock = SLOClock.objects.get(ticket=ticket, metric=metric)

    shown = clock_display.view(clock, T0 + timedelta(minutes=30))

    assert shown.state == "on track"
    assert shown.text.endswith(" business time left" if business else "m left")
    assert ("business" in shown.text) == business
    assert shown.is_business_time == business
    assert shown.short.endswith("m left") or shown.short.endswith("h left")
    assert "business" not in shown.short  # the list's narrow column marks it


def test_the_list_marks_business_time_in_its_narrow_column(client, agent):
    business = file("janrain-platinum", 3)
    plain = file("jelastic", 3)

    with time_machine.travel(T0 + timedelta(minutes=30), tick=False):
        html = client.get(reverse("admin:helpdesk_ticket_changelist")).content.decode()

    rows = {
        ref: html[html.index(ref) :][:1500]
        for ref in (business.reference, plain.reference)
    }
    marker = '<abbr title="business hours">bh</abbr>'
    assert marker in rows[business.reference].split("</tr>")[0]
    assert marker not in rows[plain.reference].split("</tr>")[0]
    assert "business time left" in rows[business.reference].split("</tr>")[0]


def test_the_assignee_is_shown_from_the_ticket_and_a_bad_value_is_no_error(
    client, agent
):
    ticket = file("janrain-platinum", 3)
    services.assign_ticket(ticket, agent, actor=agent)
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])

    page = client.get(url)
    bad = client.post(url, {"assignee": "abc", "component": "x"})

    assert f'<option value="{agent.pk}" selected>Erin Engineer</option>' in (
        page.content.decode()
    )
    assert bad.status_code == 200
    assert "assignee" in bad.context["adminform"].form.errors


def test_filing_on_behalf_names_the_files_and_archives_the_portal_accepts(
    client, agent
):
    admin = administrator("janrain-platinum")

    page = client.get(
        reverse("admin:helpdesk_ticket_add"), {"organization": admin.organization.pk}
    )

    help_text = page.context["adminform"].form.fields["attachments"].help_text
    assert "PNG, JPEG, GIF or WebP" in help_text
    assert ".zip, .gz or .tar.gz" in help_text
    assert "up to 10 MB each" in help_text
    assert help_text in page.content.decode()


def test_team_product_and_workaround_cost_no_query_of_their_own(client, agent):
    plain = file("janrain-platinum", 3)
    busy = file("janrain-platinum", 3)
    team = Team.objects.create(
        slug="prod", name="Production support", kind=Team.Kind.PRODUCTION
    )
    product = CatalogueEntry.objects.create(plan=busy.plan, name="Login widget")
    Ticket.objects.filter(pk=busy.pk).update(
        team=team,
        product=product,
        workaround_provided_by=agent,
        workaround_provided_at=timezone.now(),
        continuous_effort_since_at=timezone.now(),
    )
    page_of(client, plain)  # warm the process's caches
    with CaptureQueriesContext(connection) as few:
        page_of(client, plain)

    with CaptureQueriesContext(connection) as more:
        page = page_of(client, busy)

    assert len(more.captured_queries) == len(few.captured_queries)
    html = page.content.decode()
    routing = html[html.index('id="routing"') :]
    assert "Production support" in routing
    assert "Login widget" in routing
    assert "by Erin Engineer" in html


def test_the_querysets_built_once_read_only_the_ticket_asked_for(client, agent):
    """The ticket, its clocks and its messages come from querysets built once per
    process (ticket_page.page_tickets …) and narrowed per page: each page shows its
    own ticket, a change shows at once, and the shared querysets are never read
    whole."""
    first = file("janrain-platinum", 3, summary="First ticket's summary")
    second = file("jumpcloud", 2, summary="Second ticket's summary")
    services.post_reply(second, author=agent, body="Only on the second.")

    one, two = page_of(client, first), page_of(client, second)
    services.post_reply(first, author=agent, body="Now on the first too.")
    again = page_of(client, first)

    assert one.context["original"].pk == first.pk
    assert two.context["original"].pk == second.pk
    assert "Only on the second." in two.content.decode()
    assert "Only on the second." not in one.content.decode()
    assert "Now on the first too." in again.content.decode()
    assert [clock.ticket_id for clock, _ in two.context["clock_views"]] == [
        second.pk
    ] * len(two.context["clock_views"])
    for shared in (
        ticket_page.page_tickets(),
        ticket_page._clock_rows(),
        timeline._message_rows(),
    ):
        assert shared._result_cache is None


@pytest.mark.parametrize("role", roles.AGENT_ROLES)
def test_the_admins_queryset_narrows_nothing_the_page_reads_past(rf, role):
    """The page reads its ticket from ticket_page.page_tickets, not the admin's
    get_queryset: were the console ever to narrow the tickets an agent sees, the
    page would have to narrow them too."""
    request = rf.get("/admin/helpdesk/ticket/")
    request.user = AgentFactory(role=role)

    queryset = admin.site._registry[Ticket].get_queryset(request)

    assert not queryset.query.where
