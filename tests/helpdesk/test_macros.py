"""Canned replies: plain substitution, who writes shared and personal ones, and the
composer that fills a reply from one (with and without JavaScript)."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk import macros, services
from helpdesk.models import Macro, Ticket
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer():
    return AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Sam Engineer")


@pytest.fixture
def manager():
    return AgentFactory(role=roles.SUPPORT_MANAGER, full_name="Morgan Lead")


def shared(manager, name="Ask for a HAR file", body="Hi {requester_first_name}", **kw):
    return macros.save_macro(
        Macro(name=name, body=body, **kw), shared=True, actor=manager
    )


# --- substitution --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "filled"),
    [
        ("Hello {reference}", {"reference": "HD-000001"}, "Hello HD-000001"),
        ("{a}{a}", {"a": "x"}, "xx"),
        ("left {unknown} alone", {}, "left {unknown} alone"),
        ("{{reference}}", {"reference": "R"}, "{R}"),
        (
            "{Reference} {re ference} {0}",
            {"reference": "R"},
            "{Reference} {re ference} {0}",
        ),
        # One pass: a value holding a placeholder is not filled again.
        (
            "{summary}",
            {"summary": "see {reference}", "reference": "R"},
            "see {reference}",
        ),
        # Nothing is executed or looked up: no attribute access, no format spec.
        (
            "{reference.__class__} {reference!r} {reference:>9}",
            {"reference": "R"},
            "{reference.__class__} {reference!r} {reference:>9}",
        ),
    ],
)
def test_fill_is_plain_substitution(text, values, filled):
    assert macros.fill(text, values) == filled


def test_a_macro_is_filled_from_the_ticket_in_the_customers_zone(engineer, manager):
    admin = administrator(user__full_name="Ada Lovelace")
    admin.organization.time_zone = "America/Los_Angeles"
    admin.organization.save()
    ticket = file_ticket(admin)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_due_at=datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    )
    ticket.refresh_from_db()
    macro = shared(
        manager,
        body="Hi {requester_first_name}, {reference} is due {first_response_due_at}."
        " — {agent_name}",
        then_status="waiting",
    )

    prepared = macros.prepare(macro, ticket, agent=engineer)

    assert prepared.body == (
        f"Hi Ada, {ticket.reference} is due Mon 30 Nov 2026, 09:00 PST. — Sam Engineer"
    )
    assert prepared.then_status == "waiting"
    assert prepared.note == ""


def test_a_status_the_ticket_cannot_move_to_is_not_offered(engineer, manager):
    ticket = file_ticket()
    ticket = services.change_status(ticket, "resolved", actor=engineer)
    macro = shared(manager, then_status="waiting")

    prepared = macros.prepare(macro, ticket, agent=engineer)

    assert prepared.then_status == ""
    assert "cannot move to" in prepared.note


# --- who writes what -----------------------------------------------------------


def test_an_unknown_placeholder_is_refused_at_save_with_the_known_ones(manager):
    with pytest.raises(ValidationError) as refused:
        shared(manager, body="Hello {requester_firstname}")

    message = " ".join(refused.value.message_dict["body"])
    assert "{requester_firstname}" in message
    assert "{requester_first_name}" in message
    assert not Macro.objects.exists()


def test_a_secret_in_a_macro_is_refused(manager):
    with pytest.raises(ValidationError) as refused:
        shared(manager, body="Use client_secret=8f14e45fceea167a5a36dedd4bea2543 here")

    assert "body" in refused.value.message_dict
    assert not Macro.objects.exists()


def test_an_engineer_keeps_personal_macros_but_may_not_share(engineer, manager):
    mine = macros.save_macro(
        Macro(name="My greeting", body="Hi {requester_first_name}"),
        shared=False,
        actor=engineer,
    )
    house = shared(manager)

    with pytest.raises(PermissionDenied):
        macros.save_macro(Macro(name="x", body="y"), shared=True, actor=engineer)
    house.body = "Changed by an engineer"
    with pytest.raises(PermissionDenied):
        macros.save_macro(house, shared=True, actor=engineer)
    with pytest.raises(PermissionDenied):
        macros.delete_macro(house, actor=engineer)

    assert mine.owner == engineer
    assert Macro.objects.get(pk=house.pk).body == "Hi {requester_first_name}"
    assert list(macros.search(engineer)) == [mine, house]  # their own first
    assert list(macros.search(manager)) == [house]  # not others' personal ones
    assert list(macros.search(engineer, "greeting")) == [mine]


def test_project_managers_have_no_macros(manager):
    shared(manager)
    pm = AgentFactory(role=roles.PROJECT_MANAGER)

    assert list(macros.search(pm)) == []
    with pytest.raises(PermissionDenied):
        macros.save_macro(Macro(name="x", body="y"), shared=False, actor=pm)


def test_saving_records_history_with_the_author(manager):
    macro = shared(manager)

    assert macro.history.get().history_user == manager


# --- the console ---------------------------------------------------------------


def test_an_engineer_adds_a_personal_macro_in_the_console(client, engineer):
    client.force_login(engineer)
    url = reverse("admin:helpdesk_macro_add")

    page = client.get(url)
    refused = client.post(url, {"name": "Bad", "body": "Hi {nobody}"})
    saved = client.post(
        url, {"name": "Mine", "body": "Hi {requester_first_name}", "is_shared": "on"}
    )

    assert b'name="is_shared"' not in page.content  # not offered
    assert "Unknown placeholder {nobody}" in refused.content.decode()
    assert saved.status_code == 302
    assert Macro.objects.get().owner == engineer  # "is_shared" was ignored


def test_a_manager_shares_a_macro_in_the_console(client, manager):
    client.force_login(manager)
    url = reverse("admin:helpdesk_macro_add")

    page = client.get(url)
    saved = client.post(
        url, {"name": "House", "body": "Hello {reference}", "is_shared": "on"}
    )
    twice = client.post(url, {"name": "House", "body": "Again", "is_shared": "on"})

    assert b'name="is_shared"' in page.content
    assert saved.status_code == 302
    assert Macro.objects.get().is_shared
    assert twice.status_code == 200  # refused at the form, not a 500
    assert Macro.objects.count() == 1


def test_an_engineer_cannot_change_a_shared_macro_in_the_console(
    client, engineer, manager
):
    house = shared(manager)
    client.force_login(engineer)

    response = client.post(
        reverse("admin:helpdesk_macro_change", args=[house.pk]),
        {"name": house.name, "body": "Hijacked"},
    )

    assert response.status_code == 403
    assert Macro.objects.get(pk=house.pk).body == house.body


def test_the_composer_is_filled_without_javascript(client, engineer, manager):
    ticket = file_ticket(administrator(user__full_name="Ada Lovelace"))
    macro = shared(manager, body="Hi {requester_first_name}", then_status="waiting")
    client.force_login(engineer)
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])

    plain = client.get(url).content.decode()
    filled = client.get(url, {"macro": macro.pk}).content.decode()

    assert f'<option value="{macro.pk}"' in plain
    assert ">Hi Ada</textarea>" in filled
    # The canned reply's status comes first, as the primary button.
    first = filled.index('id="composer-actions"')
    assert filled.index('value="waiting"', first) < filled.index(">Send<", first)
    assert 'class="default">Send and set waiting on customer' in filled


def test_the_composer_fill_url_answers_json_for_the_agent_only(
    client, engineer, manager
):
    ticket = file_ticket(administrator(user__full_name="Ada Lovelace"))
    house = shared(manager, body="Hi {requester_first_name}", then_status="waiting")
    other = AgentFactory(role=roles.SUPPORT_ENGINEER)
    private = macros.save_macro(
        Macro(name="Theirs", body="secret sauce"), shared=False, actor=other
    )
    url = reverse("admin:helpdesk_macro_fill", args=[ticket.pk])
    client.force_login(engineer)

    filled = client.get(url, {"macro": house.pk})
    theirs = client.get(url, {"macro": private.pk})
    junk = client.get(url, {"macro": "9" * 40})
    client.force_login(AgentFactory(role=roles.PROJECT_MANAGER))
    pm = client.get(url, {"macro": house.pk})

    assert filled.json() | {"id": 0} == {
        "id": 0,
        "name": house.name,
        "shared": True,
        "body": "Hi Ada",
        "then_status": "waiting",
        "then_label": "Waiting on customer",
        "note": "",
    }
    assert theirs.status_code == 404
    assert junk.status_code == 404
    assert pm.status_code == 403


def test_sending_a_canned_reply_sets_its_status(client, engineer, manager):
    ticket = file_ticket(administrator(user__full_name="Ada Lovelace"))
    macro = shared(manager, body="Hi {requester_first_name}", then_status="waiting")
    prepared = macros.prepare(macro, ticket, agent=engineer)
    client.force_login(engineer)

    client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": prepared.body, "then_status": prepared.then_status},
    )

    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert ticket.messages.get().body == "Hi Ada"
    assert ticket.first_responded_at is not None
