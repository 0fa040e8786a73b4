"""The agent console's ticket list (helpdesk.console): urgency order, one-click views
with counts, search by reference, organisation and words, a paginator that does not
count the table, a layout that fits 1280 px, and a query count that does not grow.

Runs on SQLite (FTS5) and, with DATABASE_URL, on PostgreSQL (full-text search).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.admin.templatetags.admin_list import items_for_result
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Organization, Team, TeamMembership, User
from helpdesk import escalations, services
from helpdesk.admin.tickets import TicketAdmin
from helpdesk.console import paginator as console_paginator
from helpdesk.console import queues, rows, search, sqlite_fts
from helpdesk.models import Message, SLOClock, Ticket
from helpdesk.templatetags.instants import instant_text
from policies.models import Severity
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

URL = "/admin/helpdesk/ticket/"


@pytest.fixture
def agent(client):
    user = AgentFactory(role="Support Engineer", full_name="Erin Engineer")
    client.force_login(user)
    return user


def jelastic(level: int, *, hours_ago: float = 0, **overrides) -> Ticket:
    """A Jelastic ticket (24x7, response only: L1 2 h, L4 24 h) filed ``hours_ago``."""
    admin = administrator("jelastic")
    severity = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(timezone.now() - timedelta(hours=hours_ago)):
        return file_ticket(
            admin, severity=severity, customer_contact="Ada", **overrides
        )


@pytest.fixture
def board(agent):
    """One ticket for each view, and one resolved."""
    made = {
        "breached": jelastic(1, hours_ago=3, summary="Checkout times out"),
        "due_soon": jelastic(1, hours_ago=1.5, summary="Webhook retries pile up"),
        "mine": jelastic(4, summary="Dashboard is slow"),
        "unassigned": jelastic(4, hours_ago=0.5, summary="Export loses rows"),
        "escalated": jelastic(4, hours_ago=0.2, summary="Billing shows totals"),
        "waiting": jelastic(4, hours_ago=0.1, summary="Profile page blank"),
        "resolved": jelastic(1, hours_ago=5, summary="Login fails for SSO users"),
    }
    for key in ("breached", "due_soon", "mine", "escalated", "waiting", "resolved"):
        services.assign_ticket(made[key], agent, actor=agent)
    escalations.request_escalation(
        made["escalated"], actor=made["escalated"].requester, reason="No progress."
    )
    # "My team's": the agent's team works the ticket in "mine".
    team = Team.objects.create(
        slug="production", name="Production support", kind=Team.Kind.PRODUCTION
    )
    TeamMembership.objects.create(team=team, user=agent)
    Ticket.objects.filter(pk=made["mine"].pk).update(team=team)
    services.change_status(made["waiting"], "waiting", actor=agent)
    services.change_status(made["resolved"], "resolved", actor=agent)
    return {key: Ticket.objects.get(pk=t.pk) for key, t in made.items()}


def shown(response) -> list[str]:
    return [t.reference for t in response.context["cl"].result_list]


def clone(tickets: list[Ticket], times: int) -> None:
    """Add ``times`` copies of each ticket, with their clocks, in bulk."""
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


# --- order and views --------------------------------------------------------------


def test_the_list_puts_breached_first_then_the_earliest_due_then_newest(client, board):
    newest_closed = board["resolved"]
    response = client.get(URL)

    order = shown(response)
    assert order[:2] == [board["breached"].reference, board["due_soon"].reference]
    # Then the 24 h targets, earliest due first (the oldest filing), and the ticket
    # with no running clock last.
    assert order[2:6] == [
        board[key].reference for key in ("unassigned", "escalated", "waiting", "mine")
    ]
    assert order[-1] == newest_closed.reference


def test_tickets_without_a_running_clock_come_newest_first(client, agent):
    older, newer = jelastic(1, hours_ago=2), jelastic(1, hours_ago=1)
    for ticket in (older, newer):
        services.change_status(ticket, "resolved", actor=agent)

    assert shown(client.get(URL)) == [newer.reference, older.reference]


def test_my_teams_view_holds_the_open_tickets_of_the_agents_teams(client, agent):
    production = Team.objects.create(
        slug="production", name="Production support", kind=Team.Kind.PRODUCTION
    )
    deployment = Team.objects.create(
        slug="deployment", name="Deployment support", kind=Team.Kind.DEPLOYMENT
    )
    TeamMembership.objects.create(team=production, user=agent)
    ours, theirs, done = jelastic(4), jelastic(4), jelastic(4)
    Ticket.objects.filter(pk__in=[ours.pk, done.pk]).update(team=production)
    Ticket.objects.filter(pk=theirs.pk).update(team=deployment)
    services.change_status(done, "resolved", actor=agent)

    response = client.get(URL, {"view": "team"})

    assert shown(response) == [ours.reference]
    assert queues.counts(user=agent, now=timezone.now())["team"] == 1
    page = html.unescape(client.get(URL).content.decode())
    assert re.search(r'\?view=team"[^>]*>My team\'s <span class="hd-count">1<', page)


@pytest.mark.parametrize(
    "view", ["mine", "unassigned", "breached", "due_soon", "escalated", "waiting"]
)
def test_each_view_is_one_click_away_with_its_count(client, board, view):
    page = client.get(URL).content.decode()
    tab = re.search(
        rf'href="[^"]*\?view={view}"[^>]*>([^<]+)<span class="hd-count">(\d+)', page
    )

    response = client.get(URL, {"view": view})

    assert tab is not None
    assert int(tab.group(2)) == len(shown(response))
    assert board[view].reference in shown(response)
    assert board["resolved"].reference not in shown(response)


def test_the_views_hold_what_their_names_say(board, agent):
    now = timezone.now()
    found = {
        queue.slug: set(
            Ticket.objects.filter(
                queues.condition(queue.slug, user=agent, now=now)
            ).values_list("reference", flat=True)
        )
        for queue in queues.QUEUES
    }

    ref = {key: t.reference for key, t in board.items()}
    assert found["mine"] == {
        ref[k] for k in ("breached", "due_soon", "mine", "escalated", "waiting")
    }
    assert found["unassigned"] == {ref["unassigned"]}
    assert found["team"] == {ref["mine"]}
    assert found["breached"] == {ref["breached"]}
    assert found["due_soon"] == {ref["due_soon"]}
    assert found["escalated"] == {ref["escalated"]}
    assert found["waiting"] == {ref["waiting"]}
    assert queues.counts(user=agent, now=now) == {k: len(v) for k, v in found.items()}


def test_the_counts_compiled_once_answer_for_each_agent_and_instant(board, agent):
    """The counts' SQL is compiled once per process with stand-ins; each call puts
    its own agent and instant in, so another agent or a later instant is counted
    as the views would count it."""
    other = AgentFactory(role="Support Engineer")
    later = timezone.now() + timedelta(hours=3)  # due_soon's ticket is now overdue

    for user, now in [(agent, timezone.now()), (other, later), (agent, later)]:
        expected = {
            queue.slug: Ticket.objects.filter(
                queues.condition(queue.slug, user=user, now=now)
            ).count()
            for queue in queues.QUEUES
        }
        assert queues.counts(user=user, now=now) == expected
    assert queues.counts(user=other, now=later)["mine"] == 0
    assert queues.counts(user=agent, now=later)["breached"] == 2


def test_counts_refuse_a_view_whose_values_are_not_the_stand_ins(monkeypatch):
    """A view that filters on a value built from the instant (not the instant
    itself) would keep the stand-in's value in the once-compiled SQL: refused."""
    real = queues.condition

    def yesterday_too(slug, *, user, now):
        if slug == "breached":
            return real(slug, user=user, now=now - timedelta(days=1))
        return real(slug, user=user, now=now)

    monkeypatch.setattr(queues, "condition", yesterday_too)

    with pytest.raises(ImproperlyConfigured):
        queues._CountsStatement()._compile(connection)


def test_the_breached_slo_filter_is_the_breached_view(client, board):
    assert shown(client.get(URL, {"slo": "breached"})) == [board["breached"].reference]


def test_the_sort_by_due_instant_walks_the_urgency_order_both_ways(client, board):
    column = ["action_checkbox", *TicketAdmin.list_display].index("slo_cell")

    ascending = shown(client.get(URL, {"o": column}))
    descending = shown(client.get(URL, {"o": f"-{column}"}))

    assert ascending[0] == board["breached"].reference
    assert descending[0] == board["resolved"].reference  # no due instant
    assert descending[-1] == board["breached"].reference


# --- search -----------------------------------------------------------------------


@pytest.mark.parametrize("typed", ["{ref}", "{ref_lower}", "{number}", " {zeros} "])
def test_a_reference_goes_straight_to_that_ticket(client, board, typed):
    ticket = board["mine"]
    number = int(ticket.reference.split("-")[1])
    term = typed.format(
        ref=ticket.reference,
        ref_lower=f"hd-{number}",
        number=number,
        zeros=f"{number:06d}",
    )

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"q": term})

    assert shown(response) == [ticket.reference]
    sql = " ".join(q["sql"] for q in queries)
    assert '"helpdesk_ticket"."reference" = ' in sql
    assert "LIKE" not in sql.upper()


def test_search_finds_words_in_the_summary_description_and_conversation(
    client, board, agent
):
    services.post_reply(
        board["mine"], author=agent, body="The kerberos realm was renamed."
    )
    described = jelastic(4, description="Our kerberos tickets expire at once.")
    titled = jelastic(4, summary="Kerberos login loops")

    found = shown(client.get(URL, {"q": "kerberos"}))

    # A word in the summary ranks above one in the description, and both above a
    # ticket found by its conversation only.
    assert found == [titled.reference, described.reference, board["mine"].reference]


def test_search_stems_words_and_needs_all_of_them(client, board):
    assert shown(client.get(URL, {"q": "timing out checkout"})) == [
        board["breached"].reference
    ]
    assert shown(client.get(URL, {"q": "checkout dashboard"})) == []


def test_search_finds_an_organisation_by_name_first_word_and_by_slug(client, board):
    organization = board["mine"].organization
    organization.name, organization.slug = "Zanzibar Hosting", "zh-001"
    organization.save()

    by_name = shown(client.get(URL, {"q": "zanzibar hosting"}))
    by_first_word = shown(client.get(URL, {"q": "Zanzibar"}))
    by_slug = shown(client.get(URL, {"q": "zh-001"}))

    assert by_name == by_first_word == by_slug == [board["mine"].reference]


def test_a_summary_edit_is_searchable_at_once(client, board, agent):
    ticket = board["mine"]
    Ticket.objects.filter(pk=ticket.pk).update(summary="Quarantined invoices")

    assert shown(client.get(URL, {"q": "quarantined"})) == [ticket.reference]
    assert shown(client.get(URL, {"q": "dashboard"})) == []


@pytest.mark.parametrize(
    "term",
    [
        '"',
        "AND",
        "OR NOT",
        "a* ^b",
        "NEAR(x y)",
        "-",
        "'; DROP TABLE x; --",
        "100%",
        "o'brien",
        "\x00",
        "é" * 2000,
        "_",
        "\\",
    ],
)
def test_any_search_text_is_a_search_not_an_error(client, board, term):
    response = client.get(URL, {"q": term})

    # A NUL byte may be refused before any view (400); the search drops it anyway.
    assert response.status_code in ((200, 400) if "\x00" in term else (200,))


def test_too_many_matches_to_rank_keep_the_urgency_order(client, board, monkeypatch):
    for ticket in (board["breached"], board["due_soon"], board["mine"]):
        Ticket.objects.filter(pk=ticket.pk).update(summary=f"Quokka {ticket.summary}")
    # The best match by far, and the least urgent of the three.
    Ticket.objects.filter(pk=board["mine"].pk).update(description="quokka quokka")
    monkeypatch.setattr(TicketAdmin, "list_per_page", 1)
    ranked = client.get(URL, {"q": "quokka"})
    monkeypatch.setattr(search, "RANK_LIMIT", 2)

    unranked = client.get(URL, {"q": "quokka"})

    assert shown(ranked) == [board["mine"].reference]
    assert "3 tickets, best matches first" in ranked.content.decode()
    assert shown(unranked) == [board["breached"].reference]
    assert "more than 2 tickets, most urgent first" in unranked.content.decode()
    # With a view too: the view's matches (three, too many), most urgent first.
    Ticket.objects.filter(pk=board["escalated"].pk).update(summary="Quokka")
    Ticket.objects.filter(pk=board["mine"].pk).update(assignee=None)
    in_view = client.get(URL, {"q": "quokka", "view": "mine"})
    assert shown(in_view) == [board["breached"].reference]
    assert "more than 2 tickets, most urgent first" in in_view.content.decode()
    assert board["mine"].reference not in in_view.content.decode()


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="PostgreSQL's planner chooses for itself"
)
def test_too_many_matches_to_rank_walk_the_urgency_index_on_sqlite(board):
    for ticket in board.values():
        Ticket.objects.filter(pk=ticket.pk).update(summary=f"Quokka {ticket.summary}")
    ordered = Ticket.objects.order_by(*TicketAdmin.ordering, "-pk")
    found = search.find(ordered, "quokka").tickets

    walked = search.in_urgency_order(found)

    plan = _plan(*walked.values("pk")[:50].query.sql_with_params())
    assert "tkt_urgency" in plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan  # nothing sorted
    assert "TEMP B-TREE FOR ORDER BY" in _plan(
        *found.values("pk")[:50].query.sql_with_params()
    )  # reading the matches first sorts them
    assert list(walked) == list(found) == list(ordered)


def test_a_quoted_number_is_looked_for_in_the_text(client, agent):
    ticket = jelastic(4, summary="Gateway answers 502 since noon")

    assert shown(client.get(URL, {"q": '"502"'})) == [ticket.reference]


def test_the_search_index_follows_new_messages(board, agent):
    services.post_reply(board["waiting"], author=agent, body="Zeppelin upload stuck")

    found, ranked = search.apply(Ticket.objects.all(), "zeppelin")

    assert ranked
    assert [t.reference for t in found] == [board["waiting"].reference]
    assert Message.objects.filter(body__contains="Zeppelin").exists()


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite keeps its FTS5 tables by triggers"
)
def test_the_sqlite_search_triggers_exist():
    """SQLite drops a table's triggers when Django rebuilds the table: after the
    migrations that alter Ticket or Message, post_migrate creates them again
    (helpdesk.console.sqlite_fts)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {row[0] for row in cursor.fetchall()}

    assert {
        f"{table}_fts_{event}"
        for table in ("helpdesk_ticket", "helpdesk_message")
        for event in ("insert", "update", "delete")
    } <= triggers


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite keeps its FTS5 tables by triggers"
)
def test_triggers_a_table_rebuild_dropped_come_back_with_what_they_missed(board):
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER helpdesk_message_fts_insert")
    ticket = board["mine"]
    services.post_reply(
        ticket, author=ticket.requester, body="The quixotic gateway answers 502 again"
    )
    missed, _ = search.apply(Ticket.objects.all(), "quixotic")
    assert not missed.exists()

    created = sqlite_fts.restore_triggers(connection)

    assert created == ["helpdesk_message_fts_insert"]
    found, _ = search.apply(Ticket.objects.all(), "quixotic")
    assert list(found) == [ticket]
    assert sqlite_fts.restore_triggers(connection) == []  # nothing left to do


# --- the paginator ------------------------------------------------------------------


def test_a_filtered_count_stops_at_the_cap(client, board, monkeypatch):
    monkeypatch.setattr(console_paginator, "CAP", 2)

    response = client.get(URL, {"view": "mine"})

    assert "more than 2 tickets" in response.content.decode()
    assert response.context["cl"].paginator.count_is == "capped"


def test_the_whole_list_is_counted_exactly_when_small(client, board):
    response = client.get(URL)

    assert response.context["cl"].paginator.count_is == "exact"
    assert f"{Ticket.objects.count()} tickets" in response.content.decode()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the estimate is PostgreSQL's"
)
def test_the_whole_list_reads_the_planners_estimate_when_large(
    client, board, monkeypatch
):
    monkeypatch.setattr(console_paginator, "EXACT_BELOW", 1)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE helpdesk_ticket")

    response = client.get(URL)

    assert response.context["cl"].paginator.count_is == "estimated"
    assert "about 7 tickets" in response.content.decode()


# --- cost ---------------------------------------------------------------------------


def _page_queries(client, params) -> int:
    client.get(URL, params)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, params)
    assert response.status_code == 200
    assert response.context["cl"].result_list, params  # a page with rows
    return len(queries)


PAGES = [
    {},
    *({"view": queue.slug} for queue in queues.QUEUES),
    {"slo": "breached"},
    {"q": "HD-000001"},
    {"q": "slow"},
    {"o": ["action_checkbox", *TicketAdmin.list_display].index("slo_cell")},
    {"p": 2},
]


def test_each_page_costs_the_same_at_two_sizes_and_at_most_12_queries(
    client, board, monkeypatch
):
    monkeypatch.setattr(TicketAdmin, "list_per_page", 5)  # so that there is a page 2
    few = {str(p): _page_queries(client, p) for p in PAGES}

    clone(list(board.values()), 6)
    many = {str(p): _page_queries(client, p) for p in PAGES}

    assert many == few
    assert max(few.values()) <= 12


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Tiny tables: make the planner show the index it can use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_the_urgency_order_and_the_views_read_their_indexes(agent, board):
    now = timezone.now()
    ordered = Ticket.objects.order_by(*TicketAdmin.ordering, "-pk")
    plans = {"order": _plan(*ordered.values("pk")[:50].query.sql_with_params())}
    for slug, index in [
        ("mine", "tkt_open_assignee"),
        ("unassigned", ("tkt_open_unassigned", "tkt_open_assignee")),
        ("breached", "tkt_urgency"),
        ("escalated", "tkt_escalated"),
        ("waiting", "tkt_open_status"),
    ]:
        page = ordered.filter(queues.condition(slug, user=agent, now=now))
        page = page.values("pk")[:50]
        indexes = index if isinstance(index, tuple) else (index,)
        plans[slug] = (indexes, _plan(*page.query.sql_with_params()))

    assert "tkt_urgency" in plans.pop("order")
    for slug, (indexes, plan) in plans.items():
        if connection.vendor == "sqlite":
            assert any(index in plan for index in indexes), (slug, plan)
            assert "TEMP B-TREE" not in plan  # nothing sorted
        else:  # on a few rows PostgreSQL may pick another index in the same order
            assert "Sort" not in plan, (slug, plan)
            assert "Seq Scan" not in plan, (slug, plan)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's full-text index"
)
def test_the_word_search_reads_the_gin_index(board):
    hits, _ = search._postgresql("checkout acme")

    plan = _plan(hits.sql, hits.params)

    assert "tkt_search" in plan


# --- the page -------------------------------------------------------------------------


def test_the_page_is_compact_and_needs_no_inline_script(client, board):
    page = client.get(URL).content.decode()

    assert "helpdesk/console.css" in page
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", page)
    ticket = board["unassigned"]
    assert f'title="{ticket.summary}"' in page
    assert 'class="field-reference"' in page
    assert "nav-sidebar" not in page


def _the_admins_rows(cl) -> list[str]:
    return [
        "<tr>" + "".join(items_for_result(cl, ticket, None)) + "</tr>"
        for ticket in cl.result_list
    ]


HOSTILE = "<script>alert(1)</script> & \"quotes\" 'too'"


def test_the_rows_are_the_admins_markup_built_at_once(client, board, agent):
    """helpdesk.console.rows builds each row as one string; it must read exactly as
    the admin's own renderer would print it, escaping included."""
    waiting = board["waiting"]
    Ticket.objects.filter(pk=waiting.pk).update(summary=f"{HOSTILE} summary")
    Organization.objects.filter(pk=waiting.organization_id).update(
        name=f"{HOSTILE} org"
    )
    Severity.objects.filter(pk=waiting.severity_id).update(name=f"{HOSTILE} severity")
    User.objects.filter(pk=agent.pk).update(full_name=f"{HOSTILE} agent")
    # One instant for the page and for the admin's cells ("5h 00m left").
    with time_machine.travel(timezone.now(), tick=False):
        for query in ({}, {"view": "mine"}, {"q": "checkout"}, {"o": "-7"}):
            cl = client.get(URL, query).context["cl"]
            assert cl.result_list
            assert rows.render(cl) == _the_admins_rows(cl)
        page = client.get(URL, {"view": "waiting"}).content.decode()

    assert "<script>alert(1)" not in page
    shown = html.escape(HOSTILE)
    for where in ("summary", "org", "severity", "agent"):
        assert f"{shown} {where}" in page, where
    # The link back to the ticket keeps the list's filters.
    assert "/change/?_changelist_filters=view%3Dwaiting" in page


def test_a_view_only_agent_gets_the_rows_without_checkboxes(client, board):
    viewer = AgentFactory(role="Project Manager")  # reads tickets, changes none
    client.force_login(viewer)
    response = client.get(URL)
    cl = response.context["cl"]

    assert "action_checkbox" not in cl.list_display
    assert rows.render(cl) == _the_admins_rows(cl)
    assert 'class="action-select"' not in response.content.decode()


@pytest.mark.parametrize(
    "zone", ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Europe/London"]
)
def test_the_lists_instants_read_as_every_other_instant(zone):
    """rows.instant is instant_text without Django's localised date format (the
    list shows three a row): the two must read the same, DST included."""
    instants = [
        datetime(2026, 3, 8, 9, 59, tzinfo=UTC),  # US clocks go forward at 10:00
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # UK clocks go forward
        datetime(2026, 11, 1, 8, 30, tzinfo=UTC),  # US clocks go back
        datetime(2027, 1, 5, 23, 5, tzinfo=UTC),
        datetime(2026, 7, 4, 12, 0),  # naive: shown as it is
        None,
    ]
    with timezone.override(ZoneInfo(zone)):
        for at in instants:
            assert rows.instant(at) == instant_text(at), at
