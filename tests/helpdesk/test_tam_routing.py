"""TAM-routed deployment tickets: to the TAM (or the backup), on the TAM SLO while
the month's hours last, best effort after."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from helpdesk import services
from helpdesk.models import SLOClock
from tam import services as tam_services
from tam.models import Activity, RoutingPreference
from tests.helpdesk.factories import administrator, draft
from tests.tam import factories as tam_factories

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
FRIDAY = datetime(2027, 2, 5, 15, tzinfo=PT)


@pytest.fixture
def customer():
    admin = administrator("janrain-platinum")
    admin.organization.time_zone = "America/Los_Angeles"
    admin.organization.save()
    contract = tam_factories.contract(admin.organization)
    return admin, contract


def file(admin, when=FRIDAY, **overrides):
    with time_machine.travel(when, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(**({"environment": "deployment"} | overrides)),
            requester=admin.user,
            filed_by=admin.user,
        )


def response(ticket) -> SLOClock:
    return SLOClock.objects.get(ticket=ticket, metric="first_response")


def test_a_ticket_sent_to_the_tam_gets_the_tam_slo(customer):
    admin, contract = customer

    ticket = file(admin, route_to_tam=True)

    assert ticket.is_tam_routed
    assert ticket.assignee == contract.tam
    clock = response(ticket)
    assert clock.assignee == contract.tam  # the sweep warns the TAM
    assert clock.target_label == "4 business hours (TAM SLO)"
    assert clock.calendar.slug == "tam-us-pacific"
    # 2 h on Friday (15:00-17:00), 2 h on Monday from 08:00.
    assert clock.due_at == datetime(2027, 2, 8, 10, tzinfo=PT)
    assert ticket.first_response_due_at == clock.due_at


def test_production_tickets_and_unrequested_ones_stay_with_support(customer):
    admin, _ = customer

    production = file(admin, environment="production", route_to_tam=True)
    unrequested = file(admin)

    assert not production.is_tam_routed
    assert not unrequested.is_tam_routed
    assert response(unrequested).target_label == "1 business day"


def test_all_deployment_tickets_route_when_the_customer_chose_so(customer):
    admin, _ = customer
    RoutingPreference.objects.create(
        organization=admin.organization, mode=RoutingPreference.Mode.ALL_DEPLOYMENT
    )

    assert file(admin).is_tam_routed


def test_the_backup_receives_the_work_while_the_tam_is_away(customer):
    admin, contract = customer
    profile = contract.tam.tam_profile
    profile.away_from, profile.away_until = date(2027, 2, 1), date(2027, 2, 12)
    profile.save()

    ticket = file(admin, route_to_tam=True)

    assert ticket.assignee == contract.backup_tam


def test_when_the_months_hours_run_out_tam_tickets_become_best_effort(customer):
    admin, contract = customer
    ticket = file(admin, route_to_tam=True)

    with time_machine.travel(FRIDAY, tick=False):
        tam_services.record_time_entry(
            contract,
            agent=contract.tam,
            worked_on=date(2027, 2, 5),
            minutes=20 * 60,
            activity=Activity.CONFIGURATION,
        )
    later = file(admin, route_to_tam=True)

    assert response(ticket).status == "best_effort"
    assert response(ticket).events.last().note == "TAM hours for the month are used up"
    assert response(later).status == "best_effort"
    assert response(later).outcome == "best effort"


def test_the_portal_asks_whether_to_send_it_to_the_tam(client, customer):
    admin, _ = customer

    with time_machine.travel(FRIDAY, tick=False):
        client.force_login(admin.user)
        page = client.get(reverse("portal:new_ticket")).content.decode()

    assert "Send this deployment ticket to our Technical Account Manager" in page


def test_customers_without_a_contract_are_not_asked(client):
    admin = administrator("janrain-platinum")
    client.force_login(admin.user)

    page = client.get(reverse("portal:new_ticket")).content.decode()

    assert "Technical Account Manager" not in page
