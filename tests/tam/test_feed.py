"""The calendar feed's secret link: the customer and the agents who may change the
contract replace it, and the old link stops working at once."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from accounts import roles
from tam import services
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator
from tests.tam.factories import contract, reload

pytestmark = pytest.mark.django_db

DURING_TERM = datetime(2027, 3, 10, 18, tzinfo=UTC)


@pytest.fixture
def world():
    ours = administrator()
    theirs = administrator()
    signed = contract(ours.organization)
    other = contract(theirs.organization)
    with time_machine.travel(DURING_TERM, tick=False):
        yield {"ours": ours, "theirs": theirs, "contract": signed, "other": other}


def _feed(contract):
    return reverse("portal:tam_feed", args=[contract.feed_token])


def _rotate(client, signed, **overrides):
    data = {"action": "rotate-feed", "contract": signed.pk} | overrides
    return client.post(reverse("portal:tam"), data)


def test_a_support_administrator_replaces_the_link_and_the_old_one_dies(client, world):
    signed = world["contract"]
    old = _feed(signed)
    client.force_login(world["ours"].user)

    page = client.get(reverse("portal:tam"))
    response = _rotate(client, signed)
    after = client.get(response["Location"])

    signed = reload(signed)
    text = after.content.decode()
    assert 'id="rotate-feed"' in page.content.decode()
    assert "the current one stops working" in page.content.decode()
    assert response.status_code == 302
    assert "The calendar link was replaced" in text
    assert _feed(signed) in text
    assert old not in text
    assert client.get(old).status_code == 404
    assert client.get(_feed(signed)).status_code == 200
    record = signed.history.first()
    assert record.history_user == world["ours"].user
    assert record.history_change_reason == "Calendar feed link replaced"
    assert reload(world["other"]).feed_token == world["other"].feed_token


def test_another_organisations_administrator_cannot_replace_our_link(client, world):
    signed = world["contract"]
    client.force_login(world["theirs"].user)

    response = _rotate(client, signed)

    assert response.status_code == 404
    with pytest.raises(PermissionDenied):
        services.rotate_feed_token(signed, acting_user=world["theirs"].user)
    assert reload(signed).feed_token == signed.feed_token
    assert reload(world["other"]).feed_token == world["other"].feed_token
    assert client.get(_feed(signed)).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "status"),
    [
        ({"action": "delete-everything"}, 400),
        ({"contract": "not-a-number"}, 400),
        ({"contract": ""}, 400),
        ({"contract": "999999"}, 404),
        ({"contract": "9" * 30}, 404),
    ],
)
def test_bad_requests_change_nothing(client, world, overrides, status):
    signed = world["contract"]
    client.force_login(world["ours"].user)

    response = _rotate(client, signed, **overrides)

    assert response.status_code == status
    assert reload(signed).feed_token == signed.feed_token


def test_replacing_the_link_needs_a_login_and_the_csrf_token(client, world):
    signed = world["contract"]
    without_token = Client(enforce_csrf_checks=True)
    without_token.force_login(world["ours"].user)

    anonymous = _rotate(client, signed)

    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("portal:login"))
    assert _rotate(without_token, signed).status_code == 403
    assert reload(signed).feed_token == signed.feed_token


# --- agents, from the contract's page in the console ------------------------------


def _console_urls(contract):
    return (
        reverse("admin:tam_tamcontract_change", args=[contract.pk]),
        reverse("admin:tam_tamcontract_rotate_feed", args=[contract.pk]),
    )


@pytest.mark.parametrize(
    "role", [roles.TAM, roles.PROJECT_MANAGER, roles.SUPPORT_ENGINEER]
)
def test_agents_who_may_not_change_the_contract_get_403(client, world, role):
    signed = world["contract"]
    agent = AgentFactory(role=role)
    change, rotate = _console_urls(signed)
    client.force_login(agent)

    page = client.get(change)
    asked = client.get(rotate)
    posted = client.post(rotate)

    if role == roles.SUPPORT_ENGINEER:
        assert page.status_code == 403  # cannot even read contracts
    else:
        assert page.status_code == 200
        assert "rotate-feed-link" not in page.content.decode()
    assert (asked.status_code, posted.status_code) == (403, 403)
    with pytest.raises(PermissionDenied):
        services.rotate_feed_token(signed, acting_user=agent)
    assert reload(signed).feed_token == signed.feed_token


def test_a_support_manager_replaces_the_link_from_the_contract_page(client, world):
    signed = world["contract"]
    old = _feed(signed)
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    change, rotate = _console_urls(signed)
    client.force_login(manager)

    page = client.get(change)
    confirm = client.get(rotate)
    unchanged = reload(signed).feed_token
    response = client.post(rotate, follow=True)

    signed = reload(signed)
    assert 'id="rotate-feed-link"' in page.content.decode()
    assert confirm.status_code == 200
    assert "the current one stops working" in confirm.content.decode()
    assert unchanged == world["contract"].feed_token
    assert response.redirect_chain == [(change, 302)]
    assert "The calendar feed link was replaced" in response.content.decode()
    assert signed.feed_token != unchanged
    assert client.get(old).status_code == 404
    assert client.get(_feed(signed)).status_code == 200
    assert signed.history.first().history_user == manager
