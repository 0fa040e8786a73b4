"""Linking tickets to an incident: only through the service (who may, who did it and
when, unlinks kept in the history), from the incident's console page by reference
and from the ticket list's "Link to incident…" action; and the resolution reply,
once per linked ticket."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk.models import Message
from helpdesk.trust import links, services
from helpdesk.trust.models import Incident, IncidentTicketLink
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket
from tests.trust.factories import ComponentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer():
    return AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Sam Engineer")


@pytest.fixture
def viewer():
    """May read incidents, not change them."""
    return AgentFactory(role=roles.PROJECT_MANAGER)


@pytest.fixture
def incident(engineer) -> Incident:
    return services.open_incident(
        title="Registration errors",
        impact=Incident.Impact.MAJOR,
        components=[ComponentFactory()],
        body="Some registrations fail.",
        acting_user=engineer,
    )


@pytest.fixture
def tickets():
    admin = administrator()
    return [file_ticket(admin, summary=f"Registration fails {n}") for n in range(3)]


def change_form(incident: Incident, **extra) -> dict:
    """The incident's console form as the page posts it, unchanged but for
    ``extra``."""
    local = incident.started_at
    return {
        "title": incident.title,
        "impact": incident.impact,
        "components": [c.pk for c in incident.components.all()],
        "started_at_0": f"{local:%Y-%m-%d}",
        "started_at_1": f"{local:%H:%M:%S}",
        "postmortem": "",
        "update_status": "",
        "update_body": "",
        "link_references": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-MIN_NUM_FORMS": "0",
        "updates-MAX_NUM_FORMS": "1000",
        **extra,
    }


def change_url(incident: Incident) -> str:
    return reverse("admin:trust_incident_change", args=[incident.pk])


# --- the service ---------------------------------------------------------------


def test_linking_records_who_and_when_and_unlinking_is_kept_in_history(
    engineer, incident, tickets
):
    first, second, _ = tickets
    created = services.link_tickets(incident, [first, second], acting_user=engineer)
    assert [link.ticket for link in created] == [first, second]
    link = IncidentTicketLink.objects.get(incident=incident, ticket=first)
    assert link.linked_by == engineer
    assert link.linked_at is not None
    assert set(incident.linked_tickets.all()) == {first, second}
    # Linking again adds nothing and keeps the first linker.
    other = AgentFactory(role=roles.TAM)
    assert services.link_tickets(incident, [first], acting_user=other) == []
    assert IncidentTicketLink.objects.get(ticket=first).linked_by == engineer

    assert services.unlink_tickets(incident, [first], acting_user=other) == 1
    assert list(incident.linked_tickets.all()) == [second]
    history = IncidentTicketLink.history.filter(ticket_id=first.pk).order_by(
        "history_date", "history_id"
    )
    assert [(h.history_type, h.history_user) for h in history] == [
        ("+", engineer),
        ("-", other),
    ]


def test_a_view_only_agent_may_not_link_or_unlink(engineer, viewer, incident, tickets):
    services.link_tickets(incident, tickets[:1], acting_user=engineer)
    customer = tickets[0].requester
    for user in (viewer, customer, None):
        with pytest.raises(PermissionDenied):
            services.link_tickets(incident, tickets[1:], acting_user=user)
        with pytest.raises(PermissionDenied):
            services.unlink_tickets(incident, tickets[:1], acting_user=user)
    assert list(incident.linked_tickets.all()) == tickets[:1]


def test_a_resolved_incident_takes_no_links(engineer, incident, tickets):
    services.post_incident_update(
        incident, status="resolved", body="Fixed.", acting_user=engineer
    )
    with pytest.raises(ValidationError, match="is resolved"):
        services.link_tickets(incident, tickets, acting_user=engineer)
    assert not IncidentTicketLink.objects.exists()


def test_resolving_replies_once_per_linked_ticket_however_it_was_linked(
    client, engineer, incident, tickets, django_capture_on_commit_callbacks
):
    ticket = tickets[0]
    services.link_tickets(incident, [ticket, ticket], acting_user=engineer)
    client.force_login(engineer)
    # The same ticket from the ticket list: already linked, nothing new.
    client.post(
        reverse("admin:helpdesk_ticket_changelist"),
        {
            "action": "link_to_incident",
            "_selected_action": [ticket.pk],
            "apply": "1",
            "incident": incident.pk,
        },
    )
    assert IncidentTicketLink.objects.filter(ticket=ticket).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.post_incident_update(
            incident, status="resolved", body="Fixed.", acting_user=engineer
        )
        services.post_incident_update(
            incident, status="resolved", body="Root cause: a bad node.",
            acting_user=engineer,
        )  # fmt: skip
    replies = Message.objects.filter(ticket=ticket, author=engineer)
    assert replies.count() == 1
    assert replies.get().visibility == Message.Visibility.PUBLIC
    assert not Message.objects.filter(ticket=tickets[1], author=engineer).exists()


@pytest.mark.parametrize(
    ("text", "references", "bad"),
    [
        ("HD-000123", ["HD-000123"], []),
        ("hd-7, HD-000007 124", ["HD-000007", "HD-000124"], []),
        ("HD-1;HD-2\n HD-3,,", ["HD-000001", "HD-000002", "HD-000003"], []),
        ("HD-1 login", ["HD-000001"], ["login"]),
        ("   ", [], []),
    ],
)
def test_references_are_read_like_the_console_search_reads_them(text, references, bad):
    assert links.parse_references(text) == (references, bad)


# --- the incident's console page -------------------------------------------------


def test_an_engineer_links_by_reference_and_unlinks_on_the_incident_page(
    client, engineer, incident, tickets
):
    client.force_login(engineer)
    page = client.get(change_url(incident)).content.decode()
    assert 'name="link_references"' in page
    references = f"{tickets[0].reference}, {tickets[1].reference.lower()}"
    response = client.post(
        change_url(incident), change_form(incident, link_references=references)
    )
    assert response.status_code == 302
    assert set(incident.linked_tickets.all()) == set(tickets[:2])
    assert IncidentTicketLink.objects.get(ticket=tickets[0]).linked_by == engineer
    page = client.get(change_url(incident)).content.decode()
    assert tickets[0].reference in page
    assert "linked by Sam Engineer" in page

    first_link = IncidentTicketLink.objects.get(ticket=tickets[0])
    response = client.post(
        change_url(incident), change_form(incident, unlink=[first_link.pk])
    )
    assert response.status_code == 302
    assert list(incident.linked_tickets.all()) == [tickets[1]]
    assert IncidentTicketLink.history.filter(history_type="-").get().history_user == (
        engineer
    )


def test_unknown_references_are_field_errors_and_nothing_is_linked(
    client, engineer, incident, tickets
):
    client.force_login(engineer)
    response = client.post(
        change_url(incident),
        change_form(
            incident,
            link_references=f"{tickets[0].reference} HD-999999 login-page",
            title="Renamed meanwhile",
        ),
    )
    assert response.status_code == 200  # the form again, with the reasons
    errors = response.context["adminform"].form.errors["link_references"]
    assert errors == [
        "“login-page” is not a ticket reference.",
        "There is no ticket HD-999999.",
    ]
    assert "There is no ticket HD-999999." in response.content.decode()
    assert not IncidentTicketLink.objects.exists()
    incident.refresh_from_db()
    assert incident.title == "Registration errors"  # nothing else saved either


def test_a_view_only_agent_sees_the_links_but_no_form_and_is_refused(
    client, engineer, viewer, incident, tickets
):
    services.link_tickets(incident, tickets[:1], acting_user=engineer)
    client.force_login(viewer)
    response = client.get(change_url(incident))
    assert response.status_code == 200
    page = response.content.decode()
    assert tickets[0].reference in page  # the links, read-only
    assert 'name="link_references"' not in page
    assert 'name="unlink"' not in page
    refused = client.post(
        change_url(incident),
        change_form(incident, link_references=tickets[1].reference),
    )
    assert refused.status_code == 403
    assert list(incident.linked_tickets.all()) == tickets[:1]


# --- the ticket list's action ----------------------------------------------------


def test_link_to_incident_from_the_ticket_list(client, engineer, incident, tickets):
    closed = services.open_incident(
        title="Old outage", impact="minor", components=[ComponentFactory()],
        body="x", acting_user=engineer,
    )  # fmt: skip
    services.post_incident_update(
        closed, status="resolved", body="Fixed.", acting_user=engineer
    )
    client.force_login(engineer)
    changelist = reverse("admin:helpdesk_ticket_changelist")
    assert 'value="link_to_incident"' in client.get(changelist).content.decode()
    selected = [t.pk for t in tickets[:2]]
    chooser = client.post(
        changelist, {"action": "link_to_incident", "_selected_action": selected}
    )
    assert chooser.status_code == 200
    page = chooser.content.decode()
    assert "Registration errors" in page  # the open incident is offered
    assert "Old outage" not in page  # a resolved one is not
    assert tickets[0].reference in page
    assert not IncidentTicketLink.objects.exists()

    unchosen = client.post(
        changelist,
        {"action": "link_to_incident", "_selected_action": selected, "apply": "1"},
    )
    assert "Choose the incident." in unchosen.content.decode()
    done = client.post(
        changelist,
        {
            "action": "link_to_incident",
            "_selected_action": selected,
            "apply": "1",
            "incident": incident.pk,
        },
        follow=True,
    )
    assert "2 ticket(s) linked to “Registration errors”." in done.content.decode()
    assert set(incident.linked_tickets.all()) == set(tickets[:2])
    assert {link.linked_by for link in IncidentTicketLink.objects.all()} == {engineer}
    stale = client.post(
        changelist,
        {
            "action": "link_to_incident",
            "_selected_action": [tickets[2].pk],
            "apply": "1",
            "incident": closed.pk,
        },
    )
    assert "no longer open" in stale.content.decode()
    assert not closed.linked_tickets.exists()


def test_the_action_is_not_offered_to_who_may_not_link(client, incident, tickets):
    reader = AgentFactory(role=roles.PROJECT_MANAGER)  # reads tickets and incidents
    client.force_login(reader)
    changelist = reverse("admin:helpdesk_ticket_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert "link_to_incident" not in page.content.decode()
    client.post(
        changelist,
        {
            "action": "link_to_incident",
            "_selected_action": [tickets[0].pk],
            "apply": "1",
            "incident": incident.pk,
        },
    )
    assert not IncidentTicketLink.objects.exists()
