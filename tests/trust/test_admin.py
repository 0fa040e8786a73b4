"""Authoring in the console: an incident is opened and updated through the service
(timeline, subscribers, linked tickets); the documentation-error queue; votes shown
to authors; and what each role may author."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from accounts import roles
from helpdesk.trust.models import (
    ArticleVote,
    DocumentationReport,
    Incident,
    IncidentUpdate,
)
from tests.accounts.factories import AgentFactory
from tests.trust.factories import ArticleFactory, ComponentFactory

pytestmark = pytest.mark.django_db


def incident_form(component, **extra) -> dict:
    return {
        "title": "Registration errors",
        "impact": "major",
        "components": [component.pk],
        "started_at_0": "2026-11-28",
        "started_at_1": "09:00:00",
        "postmortem": "",
        "linked_tickets": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-MIN_NUM_FORMS": "0",
        "updates-MAX_NUM_FORMS": "1000",
        **extra,
    }


def test_an_engineer_opens_an_incident_with_its_first_update(client):
    component = ComponentFactory()
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)
    client.force_login(engineer)
    url = reverse("admin:trust_incident_add")
    refused = client.post(url, incident_form(component))
    assert refused.status_code == 200  # the form again, with the reason
    assert "needs its first update" in refused.content.decode()
    assert not Incident.objects.exists()
    response = client.post(
        url,
        incident_form(
            component, update_status="investigating", update_body="Some fail."
        ),
    )
    assert response.status_code == 302
    incident = Incident.objects.get()
    update = IncidentUpdate.objects.get()
    assert (update.status, update.author, update.body) == (
        "investigating",
        engineer,
        "Some fail.",
    )
    change = reverse("admin:trust_incident_change", args=[incident.pk])
    client.post(
        change,
        incident_form(component, update_status="resolved", update_body="Fixed."),
    )
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert incident.resolved_at is not None
    page = client.get(change).content.decode()
    assert "Fixed." in page


def test_a_project_manager_may_not_post_incident_updates(client):
    component = ComponentFactory()
    client.force_login(AgentFactory(role=roles.PROJECT_MANAGER))
    response = client.post(
        reverse("admin:trust_incident_add"),
        incident_form(component, update_status="investigating", update_body="x"),
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


def test_the_documentation_queue_is_worked_by_authors(client):
    article = ArticleFactory()
    report = DocumentationReport.objects.create(
        article=article, body="Step 3 is wrong."
    )
    ArticleVote.objects.create(article=article, reader="user:1", is_helpful=True)
    ArticleVote.objects.create(article=article, reader="user:2", is_helpful=False)
    ArticleVote.objects.create(article=article, reader="user:3", is_helpful=True)
    client.force_login(AgentFactory(role=roles.TAM))
    changelist = client.get(reverse("admin:trust_article_changelist"))
    row = changelist.context["cl"].result_list.get(pk=article.pk)
    assert (row.helpful, row.unhelpful, row.reports) == (2, 1, 1)
    response = client.post(
        reverse("admin:trust_documentationreport_changelist"),
        {"action": "mark_resolved", "_selected_action": [report.pk]},
    )
    assert response.status_code == 302
    report.refresh_from_db()
    assert report.resolved_at is not None
    client.force_login(AgentFactory(role=roles.PROJECT_MANAGER))
    other = DocumentationReport.objects.create(article=article, body="Typo here.")
    client.post(
        reverse("admin:trust_documentationreport_changelist"),
        {"action": "mark_resolved", "_selected_action": [other.pk]},
    )
    other.refresh_from_db()
    assert other.resolved_at is None


@pytest.mark.parametrize(
    ("role", "may"),
    [
        (roles.SUPPORT_ENGINEER, {"add_incident", "add_article"}),
        (roles.ESCALATION_ENGINEER, {"add_incident", "add_article"}),
        (roles.TAM, {"add_incident", "add_article"}),
        (roles.PROJECT_MANAGER, {"add_maintenancewindow", "add_releasenote"}),
        (
            roles.SUPPORT_MANAGER,
            {
                "add_incident",
                "add_component",
                "add_releasenote",
                "view_deflection_report",
            },
        ),
    ],
)
def test_each_role_authors_what_it_should(role, may):
    held = {
        p.codename
        for p in Group.objects.get(name=role).permissions.filter(
            content_type__app_label="trust"
        )
    }
    assert may <= held
    if role != roles.SUPPORT_MANAGER:
        assert "view_deflection_report" not in held
        assert "view_statussubscriber" not in held
        assert "add_component" not in held
