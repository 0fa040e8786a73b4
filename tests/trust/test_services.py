"""Incident updates (timeline, status, resolution, replies on linked tickets),
status e-mail subscriptions through the outbox, and who may do what."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_string

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from helpdesk import emails
from helpdesk.models import Message, OutboundEmail, Ticket
from helpdesk.trust import services, subscriptions
from helpdesk.trust.models import Incident, StatusSubscriber
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import file_ticket
from tests.trust.factories import ComponentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer():
    return AgentFactory(role="Support Engineer", full_name="Sam Engineer")


@pytest.fixture
def component():
    return ComponentFactory(name="Registration API")


def open_one(engineer, component, **kwargs) -> Incident:
    return services.open_incident(
        title="Registration errors",
        impact=Incident.Impact.MAJOR,
        components=[component],
        body="Some registrations fail with a 503.",
        acting_user=engineer,
        **kwargs,
    )


def test_an_incident_keeps_a_timeline_and_takes_its_status_from_the_latest(
    engineer, component
):
    incident = open_one(engineer, component)
    services.post_incident_update(
        incident, status="identified", body="A cache node failed.", acting_user=engineer
    )
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert incident.resolved_at is None
    assert [u.status for u in incident.updates.all()] == ["identified", "investigating"]
    assert incident.history.first().history_user == engineer


def test_resolving_replies_on_open_linked_tickets_through_the_reply_service(
    engineer, component, django_capture_on_commit_callbacks
):
    incident = open_one(engineer, component)
    affected = file_ticket(summary="Registration fails with 503")
    done = file_ticket(summary="Old question")
    Ticket.objects.filter(pk=done.pk).update(status=Ticket.Status.RESOLVED)
    services.link_tickets(incident, [affected, done], acting_user=engineer)
    with django_capture_on_commit_callbacks(execute=True):
        services.post_incident_update(
            incident, status="resolved", body="Fixed.", acting_user=engineer
        )
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    reply = Message.objects.get(ticket=affected, author=engineer)
    assert reply.visibility == Message.Visibility.PUBLIC
    assert "Registration errors" in reply.body
    assert incident.get_absolute_url() in reply.body
    affected.refresh_from_db()
    assert affected.first_responded_at is not None  # as for any agent reply
    assert not Message.objects.filter(ticket=done, author=engineer).exists()
    # A correction to a resolved incident replies no second time.
    services.post_incident_update(
        incident, status="resolved", body="Root cause found.", acting_user=engineer
    )
    assert Message.objects.filter(ticket=affected, author=engineer).count() == 1
    with pytest.raises(ValidationError):
        services.post_incident_update(
            incident, status="monitoring", body="Again?", acting_user=engineer
        )


def test_who_may_not_author_is_refused_and_nothing_changes(component):
    customer = file_ticket().requester
    project_manager = AgentFactory(role="Project Manager")
    for user in (customer, project_manager, None):
        with pytest.raises(PermissionDenied):
            services.open_incident(
                title="x", impact="minor", components=[component], body="x",
                acting_user=user,
            )  # fmt: skip
    assert not Incident.objects.exists()


def test_an_update_needs_a_message(engineer, component):
    incident = open_one(engineer, component)
    with pytest.raises(ValidationError):
        services.post_incident_update(
            incident, status="identified", body="  ", acting_user=engineer
        )
    assert incident.updates.count() == 1


# --- subscriptions -------------------------------------------------------------


def test_double_opt_in_then_one_email_per_subscriber_per_update(
    client, engineer, component, django_capture_on_commit_callbacks
):
    response = client.post(reverse("trust:subscribe"), {"email": "Ops@Acme.example"})
    assert response.status_code == 200
    subscriber = StatusSubscriber.objects.get()
    assert (subscriber.email, subscriber.confirmed_at) == ("ops@acme.example", None)
    confirmation = OutboundEmail.objects.get(to="ops@acme.example")
    link = confirmation.body_text.split("/status/subscribe/confirm/")[1].split()[0]
    # Not confirmed yet: no updates.
    incident = open_one(engineer, component)
    assert OutboundEmail.objects.count() == 1
    assert client.get(f"/status/subscribe/confirm/{link}").status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None
    StatusSubscriber.objects.create(email="pending@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        update = services.post_incident_update(
            incident, status="identified", body="Cause found.", acting_user=engineer
        )
    sent = OutboundEmail.objects.filter(key__startswith="status-update:")
    assert list(sent.values_list("to", flat=True)) == ["ops@acme.example"]
    assert "[Identified] Registration errors" in sent.get().subject
    # Fanning it out again queues nothing new (idempotent by key).
    assert subscriptions.fan_out(update.pk) == 0
    assert sent.count() == 1


def test_the_unsubscribe_link_is_signed_and_one_click(client):
    subscriber = StatusSubscriber.objects.create(
        email="ops@acme.example", confirmed_at=timezone.now()
    )
    path = subscriptions.unsubscribe_path(subscriber)
    assert client.get(path).status_code == 200  # asks; a link scanner changes nothing
    assert StatusSubscriber.objects.exists()
    forged = path.replace(path.split("/")[-2][:5], "AAAAA")
    assert client.post(forged).status_code == 400
    assert StatusSubscriber.objects.exists()
    assert client.post(path).status_code == 200
    assert not StatusSubscriber.objects.exists()
    assert client.post(path).status_code == 400


def test_status_emails_carry_list_unsubscribe_headers(
    engineer, component, django_capture_on_commit_callbacks
):
    StatusSubscriber.objects.create(
        email="ops@acme.example", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        open_one(engineer, component)
    assert OutboundEmail.objects.filter(key__startswith="status-update:").count() == 1
    emails.drain()  # whatever the eager task did not send yet
    sent = [m for m in mail.outbox if m.to == ["ops@acme.example"]]
    assert len(sent) == 1
    parsed = message_from_string(sent[0].message().as_string())
    unsubscribe = "".join(parsed["List-Unsubscribe"].split())  # unfolded
    assert unsubscribe.startswith("<http://")
    assert unsubscribe.endswith(">")
    assert "/status/unsubscribe/" in unsubscribe
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_bad_address_is_a_field_error_and_stores_nothing(client):
    response = client.post(reverse("trust:subscribe"), {"email": "not-an-address"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert not StatusSubscriber.objects.exists()


def test_an_expired_confirmation_link_is_refused(client):
    subscriber = StatusSubscriber.objects.create(email="late@acme.example")
    token = subscriptions.confirm_token(subscriber)
    later = timezone.now() + timedelta(seconds=subscriptions.CONFIRM_MAX_AGE + 60)
    import time_machine

    with time_machine.travel(later):
        assert client.get(f"/status/subscribe/confirm/{token}/").status_code == 400
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
