"""What each console page costs in queries, pinned: every list view and the ticket
page make the same queries with a few tickets and with many, and a conversation of
50 messages costs what one of 3 does (bench/console.py times them at 1,000,000)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Team, TeamMembership
from helpdesk import escalations, services
from helpdesk.admin.tickets import TicketAdmin
from helpdesk.console import queues
from helpdesk.models import Message, SLOClock, Ticket
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

URL = "/admin/helpdesk/ticket/"
SLO_COLUMN = ["action_checkbox", *TicketAdmin.list_display].index("slo_cell")

# Every list view, and what it costs: the session, the user, the two-factor check,
# the permissions (one: accounts.backends), the one-click views' counts, the page's
# rows, their clocks, the filters' choices and the paginator's count or estimate; a
# search that is not a reference first looks for the organisations it names
# (helpdesk.console.search).
LIST_PAGES = {
    "default": ({}, 9),
    **{f"view {q.slug}": ({"view": q.slug}, 9) for q in queues.QUEUES},
    **{
        f"slo {state}": ({"slo": state}, 9)
        for state in ("breached", "at_risk", "on_track", "paused", "met")
    },
    "reference": ({"q": "HD-000001"}, 9),
    "word": ({"q": "slow"}, 10),
    "organisation": ({"q": "Acme"}, 10),
    "sort by due": ({"o": SLO_COLUMN}, 9),
    "page 2": ({"p": 2}, 9),
}
# The ticket page (issue 12 §4: at most 12): the session, the user, the two-factor
# check; the ticket with its people, organisation, plan, severity, team and product,
# its open escalation and the people on it, the e-mail it was filed by, the files
# filed with it, its filer's roles and its plan's severities (helpdesk.console.
# ticket_page); its clocks with their calendars and events; the severity caps of its
# plan; the messages with their authors, roles and attachments; the ticket's history;
# the TAM minutes left (one query); the permissions (one); the canned replies. The
# assignee's option in the assignee field is the assignee read with the ticket.
TICKET_PAGE = 11


@pytest.fixture
def agent(client):
    user = AgentFactory(role="Support Engineer", full_name="Erin Engineer")
    client.force_login(user)
    return user


def jelastic(level: int, *, hours_ago: float, summary: str) -> Ticket:
    """A Jelastic ticket (24x7, response only: L1 2 h, L4 24 h) filed ``hours_ago``."""
    admin = administrator("jelastic")
    severity = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(timezone.now() - timedelta(hours=hours_ago)):
        return file_ticket(
            admin, severity=severity, customer_contact="Ada", summary=summary
        )


def board(agent) -> dict[str, Ticket]:
    """A ticket in each view, one resolved, and one on a business-hours plan with a
    conversation (3 messages, one an internal note, and an escalation)."""
    made = {
        "breached": jelastic(1, hours_ago=3, summary="Checkout is slow"),
        "due_soon": jelastic(1, hours_ago=1.5, summary="Webhook is slow"),
        "mine": jelastic(4, hours_ago=0, summary="Dashboard is slow"),
        "unassigned": jelastic(4, hours_ago=0.5, summary="Export loses rows"),
        # Janrain: a resolution clock, which waiting on the customer pauses.
        "waiting": file_ticket(
            administrator("janrain-platinum"),
            summary="Profile page blank",
            customer_contact="Ada",
        ),
        "resolved": jelastic(1, hours_ago=5, summary="Login fails for SSO users"),
    }
    admin = administrator("janrain-platinum", organization__name="Acme Retail")
    made["talk"] = file_ticket(admin, customer_contact="Ada")
    for key in ("breached", "due_soon", "mine", "waiting", "resolved", "talk"):
        services.assign_ticket(made[key], agent, actor=agent)
    # "My team's": the agent's team works the ticket in "mine".
    team = Team.objects.create(
        slug="production", name="Production support", kind=Team.Kind.PRODUCTION
    )
    TeamMembership.objects.create(team=team, user=agent)
    Ticket.objects.filter(pk=made["mine"].pk).update(team=team)
    services.change_status(made["waiting"], "waiting", actor=agent)
    services.change_status(made["resolved"], "resolved", actor=agent)
    services.post_reply(made["talk"], author=agent, body="Looking at it now.")
    services.post_reply(made["talk"], author=agent, body="Logs?", internal=True)
    services.post_reply(made["talk"], author=admin.user, body="Attached below.")
    escalations.request_escalation(made["talk"], actor=admin.user, reason="Slow.")
    return {key: Ticket.objects.get(pk=t.pk) for key, t in made.items()}


def grow(tickets: list[Ticket], times: int, talk: Ticket, messages: int) -> None:
    """Add ``times`` copies of each ticket with their clocks, in bulk, and bring
    ``talk``'s conversation to ``messages`` messages."""
    last = Ticket.objects.count()
    copies, originals = [], []
    for _ in range(times):
        for ticket in tickets:
            copy = Ticket.objects.get(pk=ticket.pk)
            copy.pk = None
            last += 1
            copy.reference = f"HD-{500000 + last:06d}"
            copies.append(copy)
            originals.append(ticket)
    Ticket.objects.bulk_create(copies)
    clocks = []
    for copy, original in zip(copies, originals, strict=True):
        for clock in SLOClock.objects.filter(ticket=original):
            clock.pk, clock.ticket = None, copy
            clocks.append(clock)
    SLOClock.objects.bulk_create(clocks)
    people = [talk.requester, *({m.author for m in talk.messages.all()})]
    have = talk.messages.count()
    Message.objects.bulk_create(
        Message(
            ticket=talk,
            author=people[n % len(people)],
            visibility="internal"
            if people[n % len(people)].is_staff and n % 3 == 0
            else "public",
            body=f"Message {n}: the dashboard is slow again.",
        )
        for n in range(have, messages)
    )


def test_every_list_view_and_the_ticket_page_cost_the_same_at_two_sizes(
    client, agent, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(TicketAdmin, "list_per_page", 3)  # so that there is a page 2
    tickets = board(agent)
    talk = tickets["talk"]
    ticket_page = f"{URL}{talk.pk}/change/"

    def pinned() -> None:
        for name, (params, queries) in LIST_PAGES.items():
            client.get(URL, params)  # warm the process's caches (schedules, types)
            with django_assert_num_queries(queries):
                response = client.get(URL, params)
            assert response.status_code == 200, name
            assert response.context["cl"].result_list, name  # a page with rows
        client.get(ticket_page)
        with django_assert_num_queries(TICKET_PAGE):
            response = client.get(ticket_page)
        assert response.status_code == 200

    pinned()
    assert talk.messages.count() == 4  # 3 and the escalation's event

    grow(list(tickets.values()), 8, talk, messages=50)
    assert Ticket.objects.count() == 7 * 9
    assert talk.messages.count() == 50
    pinned()
