"""The hooks the ticket core calls: routing, who works a ticket, the TAM SLO."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tam import routing, services
from tam.models import RoutingPreference, TAMProfile
from tests.accounts.factories import OrganizationFactory
from tests.tam.factories import contract, tam

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")
DURING_TERM = datetime(2027, 3, 10, 18, tzinfo=UTC)


@pytest.fixture
def signed():
    return contract()


@pytest.mark.parametrize(
    ("mode", "environment", "requested", "routed"),
    [
        (None, "deployment", True, True),
        (None, "deployment", False, False),
        ("per-ticket", "deployment", True, True),
        ("per-ticket", "deployment", False, False),
        ("all", "deployment", False, True),
        ("all", "deployment", True, True),
        ("all", "production", True, False),
        (None, "production", True, False),
    ],
)
def test_deployment_tickets_route_by_the_organisations_choice(
    signed, mode, environment, requested, routed
):
    if mode:
        services.set_routing(signed.organization, mode, acting_user=None)

    with time_machine.travel(DURING_TERM, tick=False):
        assert (
            routing.should_route_to_tam(signed.organization, environment, requested)
            is routed
        )


def test_nothing_routes_without_a_contract_covering_today(signed):
    services.set_routing(signed.organization, "all", acting_user=None)

    with time_machine.travel(datetime(2027, 1, 20, 18, tzinfo=UTC), tick=False):
        assert not routing.should_route_to_tam(signed.organization, "deployment", True)
    with time_machine.travel(DURING_TERM, tick=False):
        assert not routing.should_route_to_tam(
            OrganizationFactory(), "deployment", True
        )


def test_the_routing_choice_keeps_its_history(signed):
    services.set_routing(signed.organization, "all", acting_user=signed.tam)
    preference = services.set_routing(
        signed.organization, "per-ticket", acting_user=None
    )

    assert preference.mode == RoutingPreference.Mode.PER_TICKET
    assert preference.history.count() == 2


def test_the_backup_tam_receives_the_work_while_the_named_tam_is_away(signed):
    profile = signed.tam.tam_profile
    profile.away_from, profile.away_until = date(2027, 3, 8), date(2027, 3, 12)
    profile.save()

    assert routing.tam_for(signed.organization, date(2027, 3, 7)) == signed.tam
    assert routing.tam_for(signed.organization, date(2027, 3, 8)) == signed.backup_tam
    assert routing.tam_for(signed.organization, date(2027, 3, 12)) == signed.backup_tam
    assert routing.tam_for(signed.organization, date(2027, 3, 13)) == signed.tam
    assert routing.tam_for(signed.organization, date(2026, 3, 13)) is None


def test_tam_schedules_follow_the_location():
    pacific = routing.tam_schedule(tam(TAMProfile.Location.US_PACIFIC))
    london = routing.tam_schedule(tam(TAMProfile.Location.UK_LONDON))

    assert pacific.tz == "America/Los_Angeles"
    assert london.tz == "Europe/London"
    assert pacific.is_open(datetime(2027, 3, 10, 8, tzinfo=PT))
    assert not pacific.is_open(datetime(2027, 3, 10, 17, tzinfo=PT))
    assert not pacific.is_open(datetime(2027, 7, 5, 10, tzinfo=PT))  # 4 July observed
    assert london.is_open(datetime(2027, 7, 5, 10, tzinfo=LONDON))
    assert not london.is_open(datetime(2027, 12, 28, 10, tzinfo=LONDON))  # Boxing Day


def pt(month: int, day: int, hour: int) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=PT)


def uk(month: int, day: int, hour: int) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=LONDON)


@pytest.mark.parametrize(
    ("location", "opened_at", "due_at"),
    [
        # A Pacific TAM works 08:00-17:00 PT.
        pytest.param("us-pacific", pt(3, 10, 9), pt(3, 10, 13), id="open"),
        pytest.param("us-pacific", pt(3, 10, 6), pt(3, 10, 12), id="before-hours"),
        pytest.param("us-pacific", pt(3, 10, 15), pt(3, 11, 10), id="overnight"),
        pytest.param("us-pacific", pt(3, 10, 13), pt(3, 10, 17), id="at-closing"),
        pytest.param("us-pacific", pt(3, 12, 16), pt(3, 15, 11), id="dst-weekend"),
        pytest.param("us-pacific", pt(3, 13, 10), pt(3, 15, 12), id="saturday"),
        pytest.param("us-pacific", pt(5, 28, 16), pt(6, 1, 11), id="memorial-day"),
        # A London TAM works 08:00-17:00 UK time, whatever the customer's zone.
        pytest.param(
            "uk-london", datetime(2027, 3, 10, 9, tzinfo=UTC), uk(3, 10, 13), id="uk"
        ),
        pytest.param("uk-london", pt(3, 10, 9), uk(3, 11, 12), id="uk-from-pacific"),
        pytest.param("uk-london", uk(3, 25, 15), uk(3, 30, 10), id="uk-easter-bst"),
    ],
)
def test_the_tam_slo_is_four_business_hours_on_the_tams_calendar(
    location, opened_at, due_at
):
    signed = contract(tam=tam(location))

    due = routing.tam_due_for(signed.organization, opened_at)

    assert due == due_at
    assert due.tzinfo.key == ("Europe/London" if location == "uk-london" else PT.key)


def test_the_slo_is_counted_on_the_backups_calendar_while_the_tam_is_away():
    signed = contract(
        tam=tam("us-pacific", away_from=date(2027, 3, 8), away_until=date(2027, 3, 12)),
        backup_tam=tam("uk-london"),
    )

    due = routing.tam_due_for(signed.organization, datetime(2027, 3, 10, 9, tzinfo=UTC))

    assert due == datetime(2027, 3, 10, 13, tzinfo=LONDON)


def test_no_tam_slo_without_a_contract():
    assert routing.tam_due_for(OrganizationFactory(), DURING_TERM) is None
