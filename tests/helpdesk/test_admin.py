"""The agent console for tickets: list, page, reply, status, filing on behalf."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from helpdesk import services
from helpdesk.models import Message, Ticket
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory
from tests.admin_forms import change_form_data
from tests.helpdesk.factories import administrator, file_ticket, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(client):
    user = AgentFactory(role="Support Engineer")
    client.force_login(user)
    return user


def test_the_ticket_list_costs_the_same_for_3_and_30_tickets(
    client, agent, django_assert_num_queries
):
    admin = administrator()
    for _ in range(3):
        file_ticket(admin)
    url = reverse("admin:helpdesk_ticket_changelist")
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(27):
        file_ticket(admin)

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert response.status_code == 200
    assert b"HD-000030" in response.content


def test_search_by_reference_summary_and_organisation(client, agent):
    first = file_ticket(summary="SSO loop on checkout")
    other = file_ticket(summary="Slow exports")
    url = reverse("admin:helpdesk_ticket_changelist")

    by_reference = client.get(url, {"q": first.reference})
    by_summary = client.get(url, {"q": "exports"})
    by_org = client.get(url, {"q": other.organization.name})

    assert first.reference.encode() in by_reference.content
    assert other.reference.encode() not in by_reference.content
    assert other.reference.encode() in by_summary.content
    assert other.reference.encode() in by_org.content


def test_the_ticket_page_shows_conversation_attachments_and_history(client, agent):
    ticket = file_ticket(uploads=[png()])
    client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": "Internal: check SSO config", "internal": "on"},
    )

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))
    history = client.get(reverse("admin:helpdesk_ticket_history", args=[ticket.pk]))
    download = client.get(
        reverse(
            "admin:helpdesk_attachment_download", args=[ticket.attachments.get().pk]
        )
    )

    assert b"check SSO config" in page.content
    assert b"screenshot.png" in page.content
    assert history.status_code == 200
    assert download.status_code == 200


def test_agents_reply_and_change_status_through_the_services(client, agent):
    ticket = file_ticket()

    client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": "We are on it."},
    )
    client.post(
        reverse("admin:helpdesk_ticket_status", args=[ticket.pk]),
        {"status": "resolved"},
    )
    bad = client.post(
        reverse("admin:helpdesk_ticket_status", args=[ticket.pk]),
        {"status": "waiting"},
        follow=True,
    )

    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert ticket.status == "resolved"
    assert Message.objects.get().visibility == "public"
    assert "cannot become waiting on customer" in bad.content.decode()


def test_tickets_cannot_be_deleted_from_the_console(client):
    ticket = file_ticket()
    client.force_login(AgentFactory(is_superuser=True))

    response = client.post(
        reverse("admin:helpdesk_ticket_delete", args=[ticket.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Ticket.objects.filter(pk=ticket.pk).exists()


def test_an_agent_files_on_a_customers_behalf_with_the_portal_rules(client, agent):
    admin = administrator()
    plan = admin.organization.support_plan
    data = {
        "organization": admin.organization.pk,
        "requester": admin.user.pk,
        "summary": "Phoned in: widget down",
        "severity": plan.severities.get(level=1).pk,
        "environment": "production",
        "description": "Customer called the support line.",
    }

    refused = client.post(reverse("admin:helpdesk_ticket_add"), data)
    filed = client.post(
        reverse("admin:helpdesk_ticket_add"), data | {"customer_contact": "Ada"}
    )

    assert "customer_contact" in refused.context["adminform"].form.errors
    assert filed.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.filed_by == agent
    assert ticket.requester == admin.user
    assert ticket.reference == "HD-000001"


def test_filing_for_someone_who_is_not_an_administrator_there_is_refused(client, agent):
    admin = administrator()
    other = SupportAdministratorFactory()

    response = client.post(
        reverse("admin:helpdesk_ticket_add"),
        {
            "organization": admin.organization.pk,
            "requester": other.user.pk,
            "summary": "x",
            "environment": "production",
            "description": "y",
        },
    )

    assert "requester" in response.context["adminform"].form.errors
    assert not Ticket.objects.exists()


def test_an_edit_of_the_ticket_details_is_stored_with_history(client, agent):
    ticket = file_ticket()
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    data = change_form_data(
        client.get(url),
        component="Login widget",
        steps_to_reproduce="1. Open /login\n2. Press Sign in",
    )

    response = client.post(url, data, follow=True)

    ticket.refresh_from_db()
    assert ticket.component == "Login widget"
    assert ticket.steps_to_reproduce.startswith("1. Open /login")
    assert "changed successfully" in response.content.decode()
    assert ticket.history.first().history_user == agent
    event = ticket.messages.get(visibility=Message.Visibility.EVENT)
    assert "product / component, steps to reproduce" in event.body


def test_an_edit_with_a_secret_is_refused_at_its_field_and_nothing_changes(
    client, agent
):
    ticket = file_ticket()
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    data = change_form_data(
        client.get(url),
        component="Login widget",
        steps_to_reproduce="client_secret=9f8e7d6c5b4a39281706f5e4d3c2b1a0ffeeddcc",
    )

    response = client.post(url, data)

    assert response.status_code == 200  # the form again, with its errors
    form = response.context["adminform"].form
    assert "steps_to_reproduce" in form.errors
    assert "changed successfully" not in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.component == ""
    assert ticket.steps_to_reproduce == ""


def test_a_ticket_detail_edit_needs_the_change_permission():
    ticket = file_ticket()
    viewer = AgentFactory(role="Project Manager")

    with pytest.raises(PermissionDenied):
        services.update_ticket_details(ticket, {"component": "API"}, actor=viewer)

    ticket.refresh_from_db()
    assert ticket.component == ""


def test_assigning_a_customer_is_refused_at_the_field(client, agent):
    ticket = file_ticket()
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    data = change_form_data(client.get(url), assignee=str(ticket.requester.pk))

    response = client.post(url, data)

    assert "assignee" in response.context["adminform"].form.errors
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_every_editable_field_of_the_ticket_page_is_stored(client, agent):
    """No field on the change form is silently dropped: each is saved or refused."""
    ticket = file_ticket()
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    new_values = {
        "assignee": agent.pk,
        "is_tam_routed": True,
        "component": "Registration API",
        "steps_to_reproduce": "1. POST /register",
        "urls": "https://acme.example/register",
        "app_ids": "app-123",
        "client_ids": "client-456",
        "customer_contact": "Ada, +1 555 0100",
    }
    assert set(form.fields) == set(new_values), "a new field needs a value here"
    data = change_form_data(
        page,
        **{k: ("on" if v is True else str(v)) for k, v in new_values.items()},
    )

    response = client.post(url, data, follow=True)

    assert response.status_code == 200
    ticket.refresh_from_db()
    stored = {name: getattr(ticket, name) for name in new_values}
    stored["assignee"] = ticket.assignee_id
    assert stored == new_values


def test_the_timeline_tells_notes_replies_and_changes_apart(client, agent):
    ticket = file_ticket()
    services.post_reply(ticket, author=agent, body="Looking at the SSO logs.")
    services.post_reply(
        ticket, author=agent, body="Likely the IdP cert.", internal=True
    )
    services.change_status(ticket, "waiting", actor=agent)

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    entries = page.context["timeline"]
    kinds = [entry.kind for entry in entries]
    assert kinds[0] == "public"
    assert entries[0].label == "Filed"
    assert "internal" in kinds
    assert "status" in kinds
    note = next(e for e in entries if e.kind == "internal")
    assert note.role == "Support Engineer"
    html = page.content.decode()
    assert 'class="entry entry-internal"' in html
    assert "Internal note (agents only)" in html
    assert any(
        e.kind == "status" and e.body.endswith("→ Waiting on customer") for e in entries
    )


def test_send_and_wait_on_the_customer_is_one_action(client, agent):
    ticket = file_ticket()

    client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": "Please send the HAR file.", "then_status": "waiting"},
    )

    ticket.refresh_from_db()
    assert ticket.status == "waiting"
    assert ticket.messages.filter(body="Please send the HAR file.").exists()


def test_a_reply_with_an_impossible_status_stores_neither(client, agent):
    ticket = file_ticket()
    services.change_status(ticket, "resolved", actor=agent)
    services.change_status(ticket, "closed", actor=agent)

    response = client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {"body": "One more thing", "then_status": "waiting"},
        follow=True,
    )

    assert "Not sent" in response.content.decode()
    assert not ticket.messages.filter(body="One more thing").exists()


def test_the_ticket_page_costs_the_same_for_3_and_30_messages(
    client, agent, django_assert_num_queries
):
    ticket = file_ticket(uploads=[png()])
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    for i in range(3):
        services.post_reply(ticket, author=agent, body=f"Reply {i}")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(27):
        services.post_reply(
            ticket, author=agent, body=f"Note {i}", internal=bool(i % 2)
        )

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert b"Note 26" in response.content
