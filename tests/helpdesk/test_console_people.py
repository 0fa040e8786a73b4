"""People and time in the console: each agent's zone on every page, the portal in
the organisation's zone, filing on a customer's behalf step by step, and the staff
report pages inside the console's frame."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from accounts.models import User
from helpdesk import services
from helpdesk.models import Ticket
from tests.accounts.factories import (
    PASSWORD,
    AgentFactory,
    OrganizationFactory,
    SupportAdministratorFactory,
)
from tests.helpdesk.factories import administrator, draft, file_ticket, plan

pytestmark = pytest.mark.django_db

# 06:10 UTC on 28 Nov 2026: 22:10 the day before in Los Angeles, 06:10 in London.
FILED_AT = datetime(2026, 11, 28, 6, 10, 29, 84679, tzinfo=UTC)


@pytest.fixture
def filed():
    with time_machine.travel(FILED_AT, tick=False):
        admin = administrator(user__full_name="Ada Lovelace")
        return file_ticket(admin, summary="Checkout broken")


def agent_in(zone: str, role: str = roles.SUPPORT_MANAGER) -> User:
    return AgentFactory(role=role, time_zone=zone)


# --- the agent's zone ------------------------------------------------------------


def test_a_time_zone_that_is_not_one_is_refused():
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    agent.time_zone = "Mars/Olympus_Mons"

    with pytest.raises(ValidationError) as refused:
        agent.full_clean()

    assert "time_zone" in refused.value.message_dict


def test_an_agent_without_a_zone_reads_the_settings_default(settings):
    settings.HELPDESK_AGENT_TIME_ZONE = "Europe/Paris"

    assert AgentFactory().zone == "Europe/Paris"
    assert AgentFactory(time_zone="Asia/Tokyo").zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/Los_Angeles", "27 Nov 2026, 22:10 PST"),
        ("Europe/London", "28 Nov 2026, 06:10 GMT"),
        ("Asia/Kolkata", "28 Nov 2026, 11:40 IST"),
    ],
)
def test_the_ticket_page_shows_instants_in_the_agents_zone(client, filed, zone, shown):
    client.force_login(agent_in(zone))

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[filed.pk]))

    assert f">{shown}</time>" in page.content.decode()  # the "filed" entry


def test_the_list_names_the_agents_zone(client, filed):
    client.force_login(agent_in("America/Los_Angeles"))

    page = client.get(reverse("admin:helpdesk_ticket_changelist"))

    assert "27 Nov 2026, 22:10 PST" in page.content.decode()  # the "opened" tooltip


def test_the_history_shows_labels_and_values_in_the_agents_zone(client, filed):
    agent = agent_in("America/Los_Angeles")
    with time_machine.travel(FILED_AT, tick=False):
        services.change_status(filed, "resolved", actor=agent)
    client.force_login(agent)

    page = client.get(reverse("admin:helpdesk_ticket_history", args=[filed.pk]))

    text = page.content.decode()
    assert "<strong>Resolved at:</strong> — &rarr; 27 Nov 2026, 22:10 PST" in text
    assert "<strong>Status:</strong> New &rarr; Resolved" in text
    assert "None" not in text
    assert "+00:00" not in text


def test_the_zone_is_only_the_requests(client, filed):
    """One agent's zone never leaks into the next request of another."""
    client.force_login(agent_in("Asia/Kolkata"))
    client.get(reverse("admin:helpdesk_ticket_change", args=[filed.pk]))
    client.force_login(agent_in("", role=roles.SUPPORT_ENGINEER))

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[filed.pk]))

    assert "28 Nov 2026, 06:10 UTC" in page.content.decode()


# --- the portal: the organisation's zone ------------------------------------------


def test_the_portal_shows_every_instant_in_the_organisations_zone(client, filed):
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER, time_zone="Asia/Tokyo")
    with time_machine.travel(datetime(2026, 11, 28, 7, 0, tzinfo=UTC), tick=False):
        services.post_reply(filed, author=engineer, body="Looking into it.")
    client.force_login(filed.requester)

    page = client.get(reverse("portal:ticket", args=[filed.reference]))

    text = page.content.decode()
    assert "on 27 Nov 2026 22:10 PST" in text  # filed at
    assert "27 Nov 2026 23:00 PST" in text  # the agent's reply
    assert "Mon 30 Nov 22:10 PST" in text  # first response due
    assert "UTC" not in text
    assert "Asia/Tokyo" not in text


def test_the_portal_says_who_filed_a_ticket_on_the_customers_behalf(client):
    admin = administrator(user__full_name="Ada Lovelace")
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Sam Engineer")
    ticket = services.open_ticket(
        admin.organization,
        draft(summary="Phoned in"),
        requester=admin.user,
        filed_by=agent,
    )
    client.force_login(admin.user)

    text = client.get(reverse("portal:ticket", args=[ticket.reference])).content
    own = file_ticket(admin, summary="Filed myself")
    own_text = client.get(reverse("portal:ticket", args=[own.reference])).content

    assert "Sam Engineer (support) for Ada Lovelace on" in text.decode()
    assert "<dd>Ada Lovelace on" in own_text.decode()


# --- filing on a customer's behalf ----------------------------------------------


def test_filing_on_behalf_starts_with_the_organisation(client):
    admin = administrator()
    bare = OrganizationFactory(name="No plan yet")  # no plan, no administrators
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    page = client.get(reverse("admin:helpdesk_ticket_add"))

    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="choose-organization"' in text
    assert f'<option value="{admin.organization.pk}">' in text
    assert bare.name not in text


def test_the_second_step_offers_only_the_organisations_plan_and_people(client):
    admin = administrator("janrain-platinum", user__full_name="Ada Lovelace")
    colleague = SupportAdministratorFactory(organization=admin.organization)
    outsider = administrator("jelastic", user__full_name="Olaf Outsider")
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    page = client.get(
        reverse("admin:helpdesk_ticket_add"), {"organization": admin.organization.pk}
    )

    form = page.context["adminform"].form
    assert set(form.fields["requester"].queryset) == {admin.user, colleague.user}
    levels = list(form.fields["severity"].queryset)
    assert levels == list(plan("janrain-platinum").severities.order_by("level"))
    text = page.content.decode()
    assert "Olaf Outsider" not in text
    assert outsider.organization.support_plan.severities.first().name not in text
    assert "Initial response" in text  # each severity with its targets
    assert 'name="attachments"' in text
    assert 'enctype="multipart/form-data"' in text


def test_filing_on_behalf_stores_the_attachments_through_open_ticket(client):
    from tests.helpdesk.factories import png

    admin = administrator()
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    client.force_login(agent)
    severity = admin.organization.support_plan.severities.get(level=3)

    response = client.post(
        reverse("admin:helpdesk_ticket_add"),
        {
            "organization": admin.organization.pk,
            "requester": admin.user.pk,
            "summary": "Phoned in: exports slow",
            "severity": severity.pk,
            "environment": "production",
            "description": "Customer called.",
            "attachments": png("phone-notes.png"),
        },
    )

    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.filed_by == agent
    assert ticket.severity == severity
    assert ticket.attachments.get().original_name == "phone-notes.png"


def test_a_severity_of_another_plan_is_refused_and_nothing_is_filed(client):
    admin = administrator("janrain-platinum")
    other = plan("jelastic").severities.first()
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    response = client.post(
        reverse("admin:helpdesk_ticket_add"),
        {
            "organization": admin.organization.pk,
            "requester": admin.user.pk,
            "summary": "x",
            "severity": other.pk,
            "environment": "production",
            "description": "y",
        },
    )

    assert "severity" in response.context["adminform"].form.errors
    assert not Ticket.objects.exists()


def test_a_project_manager_may_not_file(client):
    administrator()
    client.force_login(AgentFactory(role=roles.PROJECT_MANAGER))

    assert client.get(reverse("admin:helpdesk_ticket_add")).status_code == 403


# --- the staff report pages sit in the console's frame ---------------------------


@pytest.mark.parametrize(
    "url",
    [
        reverse("slo_attainment"),
        reverse("tam:month", args=[2026, 10]),
    ],
)
def test_staff_report_pages_have_the_console_header_and_log_out(client, url):
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    client.force_login(manager)

    page = client.get(url)

    text = page.content.decode()
    assert page.status_code == 200
    assert 'id="user-tools"' in text
    assert reverse("admin:logout") in text
    assert 'class="breadcrumbs"' in text
    assert 'id="nav-sidebar"' in text  # the console's navigation


def test_a_staff_page_login_redirect_has_no_frame(client):
    response = client.get(reverse("slo_attainment"))

    assert response.status_code == 302


def test_portal_pages_get_no_console_frame(client):
    admin = administrator()
    admin.user.set_password(PASSWORD)
    admin.user.save()
    client.force_login(admin.user)

    page = client.get(reverse("portal:tickets"))

    assert page.status_code == 200
    assert "available_apps" not in page.context


def test_the_ticket_pages_own_instants_name_the_zone(client, filed):
    client.force_login(agent_in("America/Los_Angeles"))

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[filed.pk]))

    text = page.content.decode()
    assert "Created at:" in text
    # The read-only "created at" and the first response due, both in Pacific.
    assert '<div class="readonly">27 Nov 2026, 22:10 PST</div>' in text
    due = filed.first_response_due_at.astimezone(ZoneInfo("America/Los_Angeles"))
    assert f"{due:%H:%M} PST" in text
    # The side panel's clocks too, zone named.
    clocks = text[text.index('id="clocks"') :]
    assert ">due <time datetime=" in clocks
    assert f"{due.day} {due:%b %Y, %H:%M} PST</time>" in clocks


def test_an_agent_chooses_their_own_zone_and_bad_input_changes_nothing(client):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    client.force_login(agent)
    url = reverse("my_time_zone")

    page = client.get(url)
    refused = client.post(url, {"time_zone": "Mars/Olympus_Mons"})
    saved = client.post(url, {"time_zone": "Europe/Berlin"}, follow=True)

    assert page.status_code == 200
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    assert "Times are now shown in Europe/Berlin." in saved.content.decode()
    agent.refresh_from_db()
    assert agent.time_zone == "Europe/Berlin"
    assert "Europe/Berlin" in saved.content.decode()  # named in the user links


def test_only_user_administrators_set_another_agents_zone():
    from accounts.timezones import set_time_zone

    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)
    other = AgentFactory(role=roles.SUPPORT_ENGINEER)

    with pytest.raises(PermissionDenied):
        set_time_zone(other, "Asia/Tokyo", actor=engineer)

    other.refresh_from_db()
    assert other.time_zone == ""


def test_customers_have_no_time_zone_page(client):
    admin = administrator()
    client.force_login(admin.user)

    response = client.get(reverse("my_time_zone"))

    assert response.status_code == 302  # to the console's log-in
