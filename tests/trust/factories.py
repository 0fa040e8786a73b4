"""Trust-site rows for tests: explicit values for what tests assert on."""

from __future__ import annotations

from datetime import datetime, timedelta

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from helpdesk.trust.models import (
    Article,
    Category,
    Component,
    Incident,
    IncidentUpdate,
    MaintenanceWindow,
    ReleaseNote,
)


class ComponentFactory(DjangoModelFactory[Component]):
    class Meta:
        model = Component

    name = factory.Sequence(lambda n: f"Component {n}")
    group = "Identity"


class CategoryFactory(DjangoModelFactory[Category]):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ArticleFactory(DjangoModelFactory[Article]):
    class Meta:
        model = Article

    category = factory.SubFactory(CategoryFactory)
    title = factory.Sequence(lambda n: f"Article number {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    body = "Some help text about the product."
    status = Article.Status.PUBLISHED


class ReleaseNoteFactory(DjangoModelFactory[ReleaseNote]):
    class Meta:
        model = ReleaseNote

    version = factory.Sequence(lambda n: f"1.{n}.0")
    released_on = factory.LazyFunction(lambda: timezone.localdate())
    category = ReleaseNote.Category.FUNCTIONALITY
    title = factory.Sequence(lambda n: f"Release {n}")
    body = "New things & fixes."


def incident(
    *components: Component,
    impact: str = Incident.Impact.MAJOR,
    started_at: datetime | None = None,
    resolved_at: datetime | None = None,
    title: str = "Errors on sign-in",
) -> Incident:
    """An incident as rows (services are tested on their own)."""
    started_at = started_at or timezone.now() - timedelta(hours=1)
    row = Incident.objects.create(
        title=title,
        impact=impact,
        started_at=started_at,
        resolved_at=resolved_at,
        status=Incident.Status.RESOLVED if resolved_at else Incident.Status.IDENTIFIED,
    )
    row.components.set(components)
    IncidentUpdate.objects.create(
        incident=row,
        status=Incident.Status.INVESTIGATING,
        body="We are looking into it.",
        posted_at=started_at,
    )
    return row


def maintenance(
    *components: Component, starts_at: datetime, hours: int = 2, title="Upgrade"
) -> MaintenanceWindow:
    window = MaintenanceWindow.objects.create(
        title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours)
    )
    window.components.set(components)
    return window
