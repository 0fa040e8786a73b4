"""The console's search by organisation (helpdesk.console.search): a name or its
first whole words in any case, or a slug, finds that organisation's tickets and
nothing else; a quoted term searches the text. The tickets are filtered by the
organisations' ids, found first in one query.

Runs on SQLite and, with DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.console import search
from helpdesk.models import Ticket
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

URL = "/admin/helpdesk/ticket/"


@pytest.fixture
def agent(client):
    user = AgentFactory(role="Support Engineer", full_name="Erin Engineer")
    client.force_login(user)
    return user


@pytest.fixture
def customers(agent):
    """Tickets of three organisations; a fourth's ticket mentions one of them."""

    def ticket(name: str, slug: str, summary: str) -> Ticket:
        admin = administrator(organization__name=name, organization__slug=slug)
        return file_ticket(admin, summary=summary)

    return {
        "health": ticket("Acme Health", "acme-health", "Checkout times out"),
        "health_2": ticket("Acme Health 2", "acme-health-2", "Export loses rows"),
        "retail": ticket("Acme Retail", "acme-retail", "Dashboard is slow"),
        "other": ticket("Globex 100% Uptime", "globex", "Acme Health asked us too"),
    }


def found(client, term: str) -> set[str]:
    response = client.get(URL, {"q": term})
    assert response.status_code == 200
    return {t.reference for t in response.context["cl"].result_list}


def references(customers, *keys: str) -> set[str]:
    return {customers[key].reference for key in keys}


def test_an_exact_name_finds_that_organisation_and_those_it_begins(client, customers):
    assert found(client, "Acme Health") == references(customers, "health", "health_2")
    assert found(client, "Acme Health 2") == references(customers, "health_2")


def test_the_first_words_of_a_name_find_every_organisation_they_begin(
    client, customers
):
    assert found(client, "acme") == references(
        customers, "health", "health_2", "retail"
    )
    assert found(client, "Globex 100%") == references(customers, "other")


def test_part_of_a_word_names_no_organisation(client, customers):
    # "Acme Ret" is not "Acme Retail": a word search, which finds nothing here;
    # "acm" would otherwise take every organisation beginning so for the word.
    assert found(client, "Acme Ret") == set()
    assert search.organisations("acm") is None


def test_the_name_is_matched_in_any_case(client, customers):
    assert found(client, "aCME hEALTH 2") == references(customers, "health_2")
    assert found(client, "ACME RETAIL") == references(customers, "retail")


def test_a_slug_finds_its_organisation(client, customers):
    assert found(client, "acme-retail") == references(customers, "retail")
    assert found(client, "GLOBEX") == references(customers, "other")


def test_a_name_is_not_a_pattern(client, customers):
    # LIKE's wildcards are plain characters: these name no organisation, and are
    # looked for as words (the other customer's summary has them).
    assert found(client, "Acme_Health") == references(customers, "other")
    assert found(client, "%Health") == references(customers, "other")


def test_a_quoted_name_searches_the_text_instead(client, customers):
    assert found(client, '"Acme Health"') == references(customers, "other")


def test_a_term_that_names_no_organisation_is_a_word_search(client, customers):
    assert found(client, "dashboard") == references(customers, "retail")
    assert found(client, "health") == references(customers, "other")


def test_the_tickets_are_filtered_by_the_organisations_ids(customers):
    with CaptureQueriesContext(connection) as captured:
        tickets, ranked = search.apply(Ticket.objects.all(), "Acme Health")
    named = search.organisations("Acme Health")

    assert not ranked  # most urgent first, as every list
    assert len(captured) == 1  # the organisations, once
    assert isinstance(named, list)  # ids, not a subquery
    assert set(named) == {
        customers["health"].organization_id,
        customers["health_2"].organization_id,
    }
    sql = str(tickets.query)
    assert '"organization_id" IN (' in sql
    assert "helpdesk_ticket_search" not in sql
    assert "_fts" not in sql
    assert search.organisations("no such customer") is None


def test_many_organisations_come_back_as_a_subquery(customers, monkeypatch):
    monkeypatch.setattr(search, "ORGANISATIONS_LISTED", 2)

    named = search.organisations("acme")
    tickets, _ = search.apply(Ticket.objects.all(), "acme")

    assert not isinstance(named, list)
    assert {t.reference for t in tickets} == references(
        customers, "health", "health_2", "retail"
    )


def test_the_list_says_a_term_was_read_as_organisations_and_offers_the_text(
    client, customers
):
    response = client.get(URL, {"q": "acme", "view": "unassigned"})
    page = response.content.decode()

    assert "The tickets of the organisations named “acme”" in page
    text_search = response.context["console_text_search"]
    assert parse_qs(text_search[1:]) == {"q": ['"acme"'], "view": ["unassigned"]}
    # Followed, the same word is looked for in the text: the other customer's
    # ticket mentions Acme; and the list no longer says it read organisations.
    followed = client.get(URL + text_search)
    assert {t.reference for t in followed.context["cl"].result_list} == references(
        customers, "other"
    )
    assert "console_text_search" not in followed.context


def test_a_word_search_says_nothing_of_organisations(client, customers):
    response = client.get(URL, {"q": "dashboard"})

    assert "console_text_search" not in response.context
    assert "organisations named" not in response.content.decode()
