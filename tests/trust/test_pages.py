"""The public pages: status with derived component states, incidents, maintenance,
the front page, the knowledge base and release notes, in a constant number of
queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.trust.models import Article
from tests.trust.factories import (
    ArticleFactory,
    CategoryFactory,
    ComponentFactory,
    ReleaseNoteFactory,
    incident,
    maintenance,
)

pytestmark = pytest.mark.django_db


def _world(size: int) -> None:
    """``size`` components, each with an open and a resolved incident, a window in
    progress and an upcoming one; ``size`` categories of ``size`` articles."""
    now = timezone.now()
    for n in range(size):
        component = ComponentFactory(group=f"Group {n % 2}")
        incident(component, title=f"Open {n}")
        incident(
            component,
            started_at=now - timedelta(days=5),
            resolved_at=now - timedelta(days=4),
            title=f"Resolved {n}",
        )
        maintenance(component, starts_at=now - timedelta(hours=1))
        maintenance(component, starts_at=now + timedelta(days=2))
        category = CategoryFactory()
        for _ in range(size):
            ArticleFactory(category=category)
        ReleaseNoteFactory()


def test_the_status_page_derives_each_component_state(client):
    now = timezone.now()
    login, api, console, webhooks = (
        ComponentFactory(name=n)
        for n in ("Login widget", "Registration API", "Admin console", "Webhooks")
    )
    incident(login, impact="minor", title="Slow sign-in")
    incident(api, impact="critical", title="API down")
    incident(
        webhooks,
        impact="critical",
        started_at=now - timedelta(days=2),
        resolved_at=now - timedelta(days=1),
        title="Webhooks delayed",
    )
    maintenance(console, starts_at=now - timedelta(minutes=30), title="DB upgrade")
    response = client.get(reverse("trust:status"))
    assert response.status_code == 200
    rows = {
        row.component.name: row.state.value
        for _, rows in response.context["board"].groups
        for row in rows
    }
    assert rows == {
        "Login widget": "degraded",
        "Registration API": "major-outage",
        "Admin console": "maintenance",
        "Webhooks": "operational",
    }
    page = response.content.decode()
    assert "Major outage" in page
    assert "API down" in page
    assert "Webhooks delayed" in page  # past incidents
    assert "UTC</time>" in page  # instants with the zone named
    assert 'href="/status/rss/"' in page


def test_status_and_kb_pages_run_a_constant_number_of_queries(
    client, django_assert_num_queries
):
    _world(2)
    counts = {}
    for name in ("trust:status", "trust:kb", "home", "trust:releases"):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as small:
            assert client.get(reverse(name)).status_code == 200
        counts[name] = len(small.captured_queries)
    _world(6)
    for name, count in counts.items():
        with django_assert_num_queries(count):
            assert client.get(reverse(name)).status_code == 200
    assert counts["trust:status"] <= 6
    assert counts["trust:kb"] <= 3


def test_an_incident_page_shows_its_timeline_and_post_incident_report(client):
    component = ComponentFactory(name="Login widget")
    now = timezone.now()
    resolved = incident(
        component,
        started_at=now - timedelta(hours=5),
        resolved_at=now - timedelta(hours=1),
        title="Slow sign-in",
    )
    resolved.postmortem = "**Cause**: a smaller connection pool."
    resolved.save()
    page = client.get(resolved.get_absolute_url()).content.decode()
    assert "Timeline" in page
    assert "We are looking into it." in page
    assert "Post-incident report" in page
    assert "<strong>Cause</strong>" in page
    assert client.get(reverse("trust:incident", args=[999999])).status_code == 404


def test_maintenance_is_shown_in_utc_with_the_zone_named(client):
    component = ComponentFactory()
    starts = timezone.now().replace(microsecond=0) + timedelta(days=1)
    window = maintenance(component, starts_at=starts, title="Database upgrade")
    page = client.get(window.get_absolute_url()).content.decode()
    assert f'datetime="{starts.isoformat()}"' in page
    assert f"{starts:%H:%M} UTC" in page
    assert "Upcoming" in page or "upcoming" in page.lower()
    status = client.get(reverse("trust:status")).content.decode()
    assert "Database upgrade" in status


def test_the_front_page_summarises_status_search_and_releases(client):
    ComponentFactory(name="Login widget")
    ReleaseNoteFactory(version="3.14.0", title="Passkeys")
    page = client.get("/").content.decode()
    assert "All systems operational" in page
    assert 'action="/kb/"' in page
    assert "3.14.0 · Passkeys" in page
    assert reverse("portal:tickets") in page
    assert reverse("admin:index") in page


def test_only_published_articles_are_public(client):
    draft = ArticleFactory(status=Article.Status.DRAFT, title="Secret draft")
    archived = ArticleFactory(status=Article.Status.ARCHIVED, title="Old article")
    live = ArticleFactory(title="Live article", body="# Heading\n\nText.")
    assert client.get(draft.get_absolute_url()).status_code == 404
    assert client.get(archived.get_absolute_url()).status_code == 404
    page = client.get(live.get_absolute_url()).content.decode()
    assert "<h1>Heading</h1>" in page
    assert "Report a documentation error" in page
    index = client.get(reverse("trust:kb")).content.decode()
    assert "Live article" in index
    assert "Secret draft" not in index
    assert "Old article" not in index


def test_related_articles_are_the_chosen_ones_else_the_category(client):
    category = CategoryFactory()
    article = ArticleFactory(category=category, title="Rotate a client secret")
    sibling = ArticleFactory(category=category, title="API rate limits")
    chosen = ArticleFactory(title="Verify webhook signatures")
    page = client.get(article.get_absolute_url()).content.decode()
    assert sibling.title in page
    article.related.add(chosen)
    page = client.get(article.get_absolute_url()).content.decode()
    assert chosen.title in page
    assert sibling.title not in page


def test_release_notes_filter_by_category(client):
    ReleaseNoteFactory(title="Stricter redirects", category="security")
    ReleaseNoteFactory(title="Passkeys", category="functionality")
    page = client.get(reverse("trust:releases") + "?category=security").content
    assert b"Stricter redirects" in page
    assert b"Passkeys" not in page
    everything = client.get(reverse("trust:releases") + "?category=<script>").content
    assert b"Stricter redirects" in everything
    assert b"Passkeys" in everything


def test_error_pages_carry_the_site_header(client):
    response = client.get("/kb/no-such-article/")
    assert response.status_code == 404
    assert b'href="/status/"' in response.content
