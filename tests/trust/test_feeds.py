"""RSS 2.0 and Atom feeds of the status page and the release notes, read with
feedparser: well-formed (no bozo), with their items."""

from __future__ import annotations

from datetime import timedelta

import feedparser
import pytest
from django.urls import reverse
from django.utils import timezone

from tests.trust.factories import (
    ComponentFactory,
    ReleaseNoteFactory,
    incident,
    maintenance,
)

pytestmark = pytest.mark.django_db


def parse(client, name: str):
    response = client.get(reverse(name))
    assert response.status_code == 200
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return response, feed


@pytest.mark.parametrize(
    ("name", "version", "content_type"),
    [
        ("trust:status_rss", "rss20", "application/rss+xml"),
        ("trust:status_atom", "atom10", "application/atom+xml"),
    ],
)
def test_status_feeds_carry_incidents_and_maintenance(
    client, name, version, content_type
):
    component = ComponentFactory(name="Login <widget> & co")
    incident(component, title="Errors & timeouts on sign-in")
    maintenance(
        component, starts_at=timezone.now() + timedelta(days=1), title="DB upgrade"
    )
    response, feed = parse(client, name)
    assert response["Content-Type"].startswith(content_type)
    assert feed.version == version
    titles = [entry.title for entry in feed.entries]
    assert "[Identified] Errors & timeouts on sign-in" in titles
    assert "[Maintenance] DB upgrade" in titles
    links = {entry.link for entry in feed.entries}
    assert any("/status/incidents/" in link for link in links)
    assert any("/status/maintenance/" in link for link in links)


@pytest.mark.parametrize(
    ("name", "version"),
    [("trust:releases_rss", "rss20"), ("trust:releases_atom", "atom10")],
)
def test_release_feeds_validate_and_list_the_notes(client, name, version):
    component = ComponentFactory(name="Capture API")
    ReleaseNoteFactory(
        version="3.13.1",
        title="Paging fix",
        category="critical-patch",
        component=component,
        body="`entity.find` <b>no longer</b> repeats results.",
    )
    ReleaseNoteFactory(version="3.14.0", title="Passkeys", is_published=False)
    _, feed = parse(client, name)
    assert feed.version == version
    assert [entry.title for entry in feed.entries] == ["3.13.1: Paging fix"]
    entry = feed.entries[0]
    assert {t.term for t in entry.tags} == {"Critical patch updates", "Capture API"}
    assert "<b>no longer</b>" in entry.summary


def test_the_release_rss_lives_at_releases_rss(client):
    assert reverse("trust:releases_rss") == "/releases/rss/"
    assert client.get("/releases/rss/").status_code == 200
