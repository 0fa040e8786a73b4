"""Deflection on the portal's new-ticket form: known issues and matching articles as
the summary is typed (GET /portal/tickets/new/suggestions/), what was shown recorded
per filed ticket, "opened an article and did not file" counted per month for staff."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Ticket
from helpdesk.trust import deflection
from helpdesk.trust.models import DeflectionSession
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator
from tests.trust.factories import (
    ArticleFactory,
    ComponentFactory,
    incident,
    maintenance,
)

pytestmark = pytest.mark.django_db

SUGGESTIONS = reverse("portal:new_ticket_suggestions")


@pytest.fixture
def site():
    now = timezone.now()
    widget = ComponentFactory(name="Login widget")
    capture = ComponentFactory(name="Capture API")
    return {
        "article": ArticleFactory(
            title="The login widget times out", body="Check allowed domains."
        ),
        "other": ArticleFactory(title="Rotate a client secret", body="Rotate it."),
        "incident": incident(widget, title="Slow sign-in on the login widget"),
        "resolved": incident(
            widget,
            started_at=now - timedelta(days=2),
            resolved_at=now - timedelta(days=1),
            title="Old resolved incident",
        ),
        "soon": maintenance(capture, starts_at=now + timedelta(hours=5), title="Soon"),
        "later": maintenance(capture, starts_at=now + timedelta(days=3), title="Later"),
    }


def test_the_fragment_shows_matching_articles_and_current_issues(client, site):
    admin = administrator()
    client.force_login(admin.user)
    token = uuid.uuid4()
    response = client.get(
        SUGGESTIONS, {"summary": "login widget times out", "token": str(token)}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # a fragment
    assert "The login widget times out" in html
    assert f"?suggested={token}" in html
    assert "Rotate a client secret" not in html
    assert "Slow sign-in on the login widget" in html
    assert "Old resolved incident" not in html
    assert "Maintenance: Soon" in html
    assert "Later" not in html
    session = DeflectionSession.objects.get(token=token)
    assert session.user == admin.user
    assert session.organization == admin.organization
    assert list(session.shown_articles.all()) == [site["article"]]


def test_the_endpoint_is_for_support_administrators_only(client, site):
    response = client.get(SUGGESTIONS, {"summary": "login"})
    assert response.status_code == 302
    assert reverse("portal:login") in response["Location"]
    client.force_login(AgentFactory(role="Support Engineer"))
    refused = client.get(SUGGESTIONS, {"summary": "login"})
    assert refused.status_code == 403
    assert not DeflectionSession.objects.exists()


def test_the_new_ticket_page_works_without_javascript(client, site):
    client.force_login(administrator().user)
    page = client.get(reverse("portal:new_ticket")).content.decode()
    assert 'id="check-answers"' in page
    assert 'name="deflection_token"' in page
    assert "Slow sign-in on the login widget" in page  # known issues at once
    assert not DeflectionSession.objects.exists()  # nothing shown, nothing recorded
    page = client.get(
        reverse("portal:new_ticket"), {"summary": "widget times out"}
    ).content.decode()
    assert 'value="widget times out"' in page  # the summary is kept
    assert "The login widget times out" in page
    assert DeflectionSession.objects.count() == 1


def file(client, admin, token, summary="Login widget times out for all users"):
    severity = admin.organization.support_plan.severities.get(level=3)
    return client.post(
        reverse("portal:new_ticket"),
        {
            "summary": summary,
            "severity": severity.pk,
            "environment": "production",
            "description": "Since 09:00 the widget spins.",
            "deflection_token": str(token),
        },
    )


def test_what_was_shown_is_recorded_for_the_filed_ticket(client, site):
    admin = administrator()
    client.force_login(admin.user)
    token = uuid.uuid4()
    client.get(SUGGESTIONS, {"summary": "widget", "token": str(token)})
    client.get(SUGGESTIONS, {"summary": "rotate secret", "token": str(token)})
    response = file(client, admin, token)
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert deflection.recorded_for(ticket) == [site["other"], site["article"]]
    session = DeflectionSession.objects.get()
    assert session.filed_at is not None


def test_opening_a_suggestion_and_not_filing_is_a_deflection(client, site):
    admin = administrator()
    client.force_login(admin.user)
    token = uuid.uuid4()
    client.get(SUGGESTIONS, {"summary": "widget", "token": str(token)})
    opened = client.get(site["article"].get_absolute_url(), {"suggested": str(token)})
    assert opened.status_code == 200
    session = DeflectionSession.objects.get()
    assert session.viewed_article == site["article"]
    # Someone who opened one and filed anyway is no deflection.
    second = uuid.uuid4()
    client.get(SUGGESTIONS, {"summary": "widget", "token": str(second)})
    client.get(site["article"].get_absolute_url(), {"suggested": str(second)})
    file(client, admin, second)
    (month,) = deflection.monthly_figures(now=timezone.now())
    assert (month.visits, month.viewed, month.deflected, month.filed) == (2, 2, 1, 1)
    assert month.deflection_rate == "50%"


def test_someone_elses_token_records_nothing(client, site):
    ours, theirs = administrator(), administrator()
    token = uuid.uuid4()
    client.force_login(ours.user)
    client.get(SUGGESTIONS, {"summary": "widget", "token": str(token)})
    client.force_login(theirs.user)
    client.get(site["article"].get_absolute_url(), {"suggested": str(token)})
    client.get(SUGGESTIONS, {"summary": "rotate", "token": str(token)})
    file(client, theirs, token)
    session = DeflectionSession.objects.get(token=token)
    assert session.user == ours.user
    assert session.viewed_at is None
    assert session.ticket is None
    assert list(session.shown_articles.all()) == [site["article"]]


def test_the_staff_report_is_the_support_managers(client, site):
    url = reverse("trust:deflection_report")
    admin = administrator()
    client.force_login(admin.user)
    token = uuid.uuid4()
    client.get(SUGGESTIONS, {"summary": "widget", "token": str(token)})
    client.get(site["article"].get_absolute_url(), {"suggested": str(token)})
    assert client.get(url).status_code == 302  # not staff: to the console login
    client.force_login(AgentFactory(role="Support Engineer"))
    assert client.get(url).status_code == 403
    client.force_login(AgentFactory(role="Support Manager"))
    page = client.get(url).content.decode()
    month = timezone.now().strftime("%B %Y")
    assert f"<td>{month}</td><td>1</td><td>1</td><td>1</td><td>0</td><td>100%</td>" in (
        page
    )
