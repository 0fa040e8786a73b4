"""Subscribers' e-mails about a status update are written by a worker after the
agent's request commits: batch by batch, once per subscriber per update however
often the task runs, and picked up by the minutely sweep when the enqueue is lost
or the worker died midway."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from helpdesk.models import OutboundEmail
from helpdesk.trust import services, subscriptions, tasks
from helpdesk.trust.models import Incident, IncidentUpdate, StatusSubscriber
from tests.accounts.factories import AgentFactory
from tests.trust.factories import ComponentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def engineer():
    return AgentFactory(role=roles.SUPPORT_ENGINEER)


@pytest.fixture
def subscribers():
    """Five confirmed subscribers and one who never confirmed."""
    now = timezone.now()
    StatusSubscriber.objects.create(email="pending@acme.example")
    return [
        StatusSubscriber.objects.create(email=f"ops{n}@acme.example", confirmed_at=now)
        for n in range(5)
    ]


@pytest.fixture
def incident(engineer, django_capture_on_commit_callbacks) -> Incident:
    with django_capture_on_commit_callbacks():  # its first update is not under test
        opened = services.open_incident(
            title="Registration errors",
            impact=Incident.Impact.MAJOR,
            components=[ComponentFactory()],
            body="Some registrations fail.",
            acting_user=engineer,
        )
    IncidentUpdate.objects.update(subscribers_notified_at=timezone.now())
    return opened


def status_emails():
    return OutboundEmail.objects.filter(key__startswith=subscriptions.KEY_PREFIX)


def post_update(engineer, incident, django_capture_on_commit_callbacks):
    """Post an update as the request does, and return it with the callbacks that
    would run on commit (not run)."""
    with django_capture_on_commit_callbacks() as callbacks:
        update = services.post_incident_update(
            incident, status="identified", body="A cache node failed.",
            acting_user=engineer,
        )  # fmt: skip
    return update, callbacks


def test_the_request_writes_no_email_the_worker_writes_one_per_subscriber(
    client, engineer, incident, subscribers, django_capture_on_commit_callbacks
):
    client.force_login(engineer)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:trust_incident_change", args=[incident.pk]),
            {
                "title": incident.title,
                "impact": incident.impact,
                "components": [c.pk for c in incident.components.all()],
                "started_at_0": f"{incident.started_at:%Y-%m-%d}",
                "started_at_1": f"{incident.started_at:%H:%M:%S}",
                "update_status": "identified",
                "update_body": "A cache node failed.",
                "updates-TOTAL_FORMS": "0",
                "updates-INITIAL_FORMS": "0",
            },
        )
    assert response.status_code == 302
    update = incident.updates.get(status="identified")
    assert not status_emails().exists()  # nothing per subscriber in the request
    assert update.subscribers_notified_at is None
    for callback in callbacks:  # the commit: the worker runs (eagerly here)
        callback()
    assert sorted(status_emails().values_list("to", flat=True)) == sorted(
        s.email for s in subscribers
    )
    assert "[Identified] Registration errors" in status_emails().first().subject
    update.refresh_from_db()
    assert update.subscribers_notified_at is not None


def test_the_task_twice_writes_each_email_once_in_batches(
    engineer, incident, subscribers, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(subscriptions, "FAN_OUT_BATCH", 2)
    update, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    with CaptureQueriesContext(connection) as queries:
        assert tasks.fan_out_status_update(update.pk) == 5
    inserts = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].upper().startswith("INSERT") and "outboundemail" in q["sql"]
    ]
    assert len(inserts) == 3  # 5 subscribers, 2 a batch: one insert per batch
    assert tasks.fan_out_status_update(update.pk) == 0  # marked: nothing to do
    # A redelivered task that finds no mark (it died after the last batch):
    IncidentUpdate.objects.filter(pk=update.pk).update(subscribers_notified_at=None)
    assert tasks.fan_out_status_update(update.pk) == 0
    assert status_emails().count() == 5
    assert status_emails().values("to").distinct().count() == 5
    # Another update is other e-mails.
    other, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    assert tasks.fan_out_status_update(other.pk) == 5
    assert status_emails().count() == 10


def test_a_lost_enqueue_is_picked_up_by_the_sweep(
    engineer, incident, subscribers, django_capture_on_commit_callbacks
):
    update, callbacks = post_update(
        engineer, incident, django_capture_on_commit_callbacks
    )
    assert callbacks  # the hint that a broker outage loses: never run
    assert not status_emails().exists()
    assert tasks.fan_out_pending_status_updates() == 1
    assert status_emails().count() == 5
    update.refresh_from_db()
    assert update.subscribers_notified_at is not None
    assert tasks.fan_out_pending_status_updates() == 0  # nothing left
    assert status_emails().count() == 5


def test_a_worker_that_dies_midway_is_resumed_by_the_sweep(
    engineer, incident, subscribers, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(subscriptions, "FAN_OUT_BATCH", 2)
    update, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    render = subscriptions._status_email
    rendered = []

    def dies_on_the_third(*args, **kwargs):
        rendered.append(1)
        if len(rendered) == 3:
            raise SystemExit("worker killed")
        return render(*args, **kwargs)

    monkeypatch.setattr(subscriptions, "_status_email", dies_on_the_third)
    with pytest.raises(SystemExit):
        tasks.fan_out_status_update(update.pk)
    assert status_emails().count() == 2  # the first batch is committed
    update.refresh_from_db()
    assert update.subscribers_notified_at is None
    monkeypatch.setattr(subscriptions, "_status_email", render)
    assert tasks.fan_out_pending_status_updates() == 1
    assert status_emails().count() == 5
    assert status_emails().values("to").distinct().count() == 5


def test_a_failing_update_does_not_stop_the_sweep(
    engineer, incident, subscribers, monkeypatch, django_capture_on_commit_callbacks
):
    first, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    second, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    fan_out = subscriptions.fan_out

    def fails_for_the_first(update_id):
        if update_id == first.pk:
            raise RuntimeError("template broke")
        return fan_out(update_id)

    monkeypatch.setattr(subscriptions, "fan_out", fails_for_the_first)
    assert tasks.fan_out_pending_status_updates() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.subscribers_notified_at is None  # the next sweep tries again
    assert second.subscribers_notified_at is not None


def test_the_sweep_stops_when_its_time_is_up(
    engineer, incident, subscribers, monkeypatch, django_capture_on_commit_callbacks
):
    first, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    second, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)

    def out_of_time(update_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(subscriptions, "fan_out", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        tasks.fan_out_pending_status_updates()
    # Not marked: the next sweep fans both out.
    assert not IncidentUpdate.objects.filter(
        pk__in=[first.pk, second.pk], subscribers_notified_at__isnull=False
    ).exists()


def test_each_email_is_what_rendering_it_for_that_subscriber_gives(
    engineer, incident, subscribers, django_capture_on_commit_callbacks
):
    """The texts are rendered once per update; each subscriber's own unsubscribe
    link is put in afterwards, exactly as rendering it in would."""
    from django.conf import settings
    from django.template.loader import render_to_string

    update, _ = post_update(engineer, incident, django_capture_on_commit_callbacks)
    subscriptions.fan_out(update.pk)
    for subscriber in subscribers[:2]:
        context = {
            "base_url": settings.HELPDESK_BASE_URL,
            "ticket": None,
            "incident": incident,
            "update": update,
            "unsubscribe_path": subscriptions.unsubscribe_path(subscriber),
        }
        email = status_emails().get(to=subscriber.email)
        assert email.body_text == render_to_string("emails/status_update.txt", context)
        assert email.body_html == render_to_string("emails/status_update.html", context)
        assert subscriptions.unsubscribe_path(subscriber) in email.body_html
        assert email.message_id
