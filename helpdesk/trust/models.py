"""The trust site's rows: status (components, incidents, maintenance, subscribers),
the knowledge base (categories, articles, votes, documentation reports), release
notes, and the deflection record of the portal's new-ticket form.

A component's state is never stored: it is derived from its open incidents and the
maintenance in progress (``helpdesk.trust.status``).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

SEARCH_CONFIG = "english"  # the PostgreSQL text search configuration of the index


def article_search_vector() -> SearchVector:
    """The article's search document: the title weighted A over the body (B).

    PostgreSQL keeps it in ``Article.search_document`` (a trigger of migration 0001
    computes exactly this), so ranking reads the stored vector instead of parsing
    every matching article again."""
    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "body", weight="B", config=SEARCH_CONFIG
    )


# --- status -----------------------------------------------------------------------


class Component(models.Model):
    """A part of the product whose state the status page shows."""

    name = models.CharField(max_length=120, unique=True)
    group = models.CharField(
        max_length=80, blank=True, help_text="Components are listed by group."
    )
    description = models.CharField(max_length=250, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Whose component it is (issue 14 §4): the customers whose plan's catalogue has
    # one of these entries. Mapped to none, it is platform-wide and concerns
    # everyone (helpdesk.trust.deflection).
    catalogue_entries = models.ManyToManyField(
        "policies.CatalogueEntry",
        blank=True,
        related_name="status_components",
        help_text="The products of the plans' catalogues this component serves; "
        "none: platform-wide, shown to every customer.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["group", "position", "name"]

    def __str__(self) -> str:
        return self.name


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> IncidentQuerySet:
        return self.filter(resolved_at__isnull=True)


class Incident(models.Model):
    class Impact(models.TextChoices):
        MINOR = "minor", "Minor (degraded performance)"
        MAJOR = "major", "Major (partial outage)"
        CRITICAL = "critical", "Critical (major outage)"

    class Status(models.TextChoices):
        INVESTIGATING = "investigating", "Investigating"
        IDENTIFIED = "identified", "Identified"
        MONITORING = "monitoring", "Monitoring"
        RESOLVED = "resolved", "Resolved"

    title = models.CharField(max_length=200)
    impact = models.CharField(max_length=10, choices=Impact.choices)
    components = models.ManyToManyField(Component, related_name="incidents")
    # Written only by helpdesk.trust.services.post_incident_update: the status of
    # the latest update, and when the "resolved" one was posted.
    status = models.CharField(
        max_length=15, choices=Status.choices, default=Status.INVESTIGATING
    )
    started_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    postmortem = models.TextField(
        "post-incident report",
        blank=True,
        help_text="Markdown. Shown on the incident's page once it is resolved.",
    )
    linked_tickets = models.ManyToManyField(
        "helpdesk.Ticket",
        through="IncidentTicketLink",
        blank=True,
        related_name="incidents",
        help_text="Tickets filed about this incident: each gets a public reply when "
        "the incident is resolved.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(
                fields=["started_at"],
                condition=Q(resolved_at__isnull=True),
                name="trust_incident_open",
            ),
            models.Index(fields=["resolved_at"], name="trust_incident_resolved"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True)
                | Q(resolved_at__gte=models.F("started_at")),
                name="trust_incident_resolved_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("trust:incident", args=[self.pk])

    @property
    def is_resolved(self) -> bool:
        return self.resolved_at is not None


class IncidentUpdate(models.Model):
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="updates"
    )
    status = models.CharField(max_length=15, choices=Incident.Status.choices)
    body = models.TextField(help_text="Markdown.")
    posted_at = models.DateTimeField(default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    # Set once every confirmed subscriber's e-mail about this update is in the
    # outbox (helpdesk.trust.subscriptions.fan_out); the minutely sweep fans out the
    # updates still without it.
    subscribers_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-pk"]
        indexes = [
            models.Index(
                fields=["posted_at"],
                condition=Q(subscribers_notified_at__isnull=True),
                name="trust_update_unnotified",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} · {self.incident}"


class IncidentTicketLink(models.Model):
    """A ticket linked to an incident: who linked it and when. Written only by
    ``helpdesk.trust.services.link_tickets`` and ``unlink_tickets``; the history
    keeps the unlinks (who, when) too."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="ticket_links"
    )
    ticket = models.ForeignKey(
        "helpdesk.Ticket", on_delete=models.CASCADE, related_name="incident_links"
    )
    linked_at = models.DateTimeField(default=timezone.now)
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    history = HistoricalRecords()

    class Meta:
        # The table and its unique pair are those of the plain many-to-many field
        # this model replaced (migration 0003): the rows were kept as they were.
        db_table = "trust_incident_linked_tickets"
        unique_together = [("incident", "ticket")]
        ordering = ["linked_at", "pk"]

    def __str__(self) -> str:
        return f"{self.ticket.reference} linked to {self.incident}"


class MaintenanceWindowQuerySet(models.QuerySet["MaintenanceWindow"]):
    def scheduled(self) -> MaintenanceWindowQuerySet:
        return self.filter(is_cancelled=False)

    def in_progress(self, now: datetime) -> MaintenanceWindowQuerySet:
        return self.scheduled().filter(starts_at__lte=now, ends_at__gt=now)


class MaintenanceWindow(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, help_text="Markdown.")
    components = models.ManyToManyField(Component, related_name="maintenance_windows")
    starts_at = models.DateTimeField(help_text="Stored in UTC.")
    ends_at = models.DateTimeField(help_text="Stored in UTC.")
    is_cancelled = models.BooleanField("cancelled", default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = MaintenanceWindowQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["ends_at"], name="trust_maint_ends")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="trust_maintenance_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("trust:maintenance", args=[self.pk])

    def phase(self, now: datetime) -> str:
        """ "upcoming", "in progress", "completed" or "cancelled" at ``now``."""
        if self.is_cancelled:
            return "cancelled"
        if now < self.starts_at:
            return "upcoming"
        return "in progress" if now < self.ends_at else "completed"


class StatusSubscriber(models.Model):
    """Someone who asked for status updates by e-mail (double opt-in)."""

    email = models.EmailField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email


# --- knowledge base ---------------------------------------------------------------


class Category(models.Model):
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.CharField(max_length=250, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("trust:kb_category", args=[self.slug])


class ArticleQuerySet(models.QuerySet["Article"]):
    def published(self) -> ArticleQuerySet:
        return self.filter(status=Article.Status.PUBLISHED)


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="articles"
    )
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    summary = models.CharField(max_length=300, blank=True)
    body = models.TextField(help_text="Markdown; HTML is sanitised when shown.")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    related = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # PostgreSQL: the title (weight A) and body (B) as a tsvector, kept by a trigger
    # (migration 0001) and indexed with GIN. Always empty on SQLite, which searches
    # its FTS5 table instead.
    search_document = SearchVectorField(null=True, editable=False)
    # PostgreSQL: the title alone, kept by the same trigger (migration 0002) and
    # GIN-indexed, so that the new-ticket form's suggestions find the articles whose
    # title matches through an index and rank only those (helpdesk.trust.search).
    search_title = SearchVectorField(null=True, editable=False)

    history = HistoricalRecords(
        excluded_fields=["updated_at", "search_document", "search_title"]
    )
    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [
            # PostgreSQL only (migration 0001 adds it there). SQLite searches an
            # FTS5 table.
            GinIndex(fields=["search_document"], name="trust_article_search"),
            GinIndex(fields=["search_title"], name="trust_article_title_search"),
            models.Index(fields=["category", "status"], name="trust_article_cat"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("trust:kb_article", args=[self.slug])


class ArticleVote(models.Model):
    """One reader's "was this helpful?" answer; a second answer replaces the first."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    reader = models.CharField(
        max_length=80, help_text="user:<id>, or a digest of an anonymous session."
    )
    is_helpful = models.BooleanField()
    voted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["article", "reader"], name="trust_one_vote_per_reader"
            )
        ]

    def __str__(self) -> str:
        return f"{'helpful' if self.is_helpful else 'not helpful'} · {self.article}"


class DocumentationReport(models.Model):
    """A reader's report of an error in an article: the documentation owners'
    queue in the console."""

    article = models.ForeignKey(
        Article, on_delete=models.CASCADE, related_name="error_reports"
    )
    body = models.TextField("what is wrong")
    reporter_name = models.CharField(max_length=150, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when a logged-in reader reported it.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(resolved_at__isnull=True),
                name="trust_docreport_open",
            )
        ]

    def __str__(self) -> str:
        return f"Report on {self.article}"


# --- release notes ----------------------------------------------------------------


class ReleaseNote(models.Model):
    class Category(models.TextChoices):
        # The categories of Janrain's platform updates (seed 000).
        SECURITY = "security", "Security fixes"
        CRITICAL_PATCH = "critical-patch", "Critical patch updates"
        MAINTENANCE = "maintenance", "Maintenance releases"
        FUNCTIONALITY = "functionality", "Functionality"
        DOCUMENTATION = "documentation", "Documentation"

    version = models.CharField(max_length=40)
    released_on = models.DateField()
    component = models.ForeignKey(
        Component,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="release_notes",
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.")
    is_published = models.BooleanField("published", default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-released_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.version} · {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("trust:release", args=[self.pk])


# --- deflection -------------------------------------------------------------------


class DeflectionSession(models.Model):
    """One visit to the portal's new-ticket form: the articles it suggested, whether
    the reader opened one, and the ticket if they filed.

    "Viewed an article and did not file" is a deflection
    (``helpdesk.trust.deflection``).
    """

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    shown_articles = models.ManyToManyField(Article, blank=True, related_name="+")
    viewed_article = models.ForeignKey(
        Article, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    viewed_at = models.DateTimeField(null=True, blank=True)
    ticket = models.OneToOneField(
        "helpdesk.Ticket",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deflection_session",
    )
    filed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["started_at"], name="trust_deflect_started")]
        permissions = [("view_deflection_report", "Can view the deflection report")]

    def __str__(self) -> str:
        return f"New-ticket visit {self.token}"
