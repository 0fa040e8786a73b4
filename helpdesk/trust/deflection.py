"""Deflection on the portal's new-ticket form (SPEC §4).

Each visit to the form carries a token (a hidden field). What the form suggests is
recorded against it (:func:`show`), an article opened from a suggestion marks it
viewed (:func:`mark_viewed`), and filing links the ticket (:func:`record_filed`).
"Viewed an article and did not file" is a deflection; :func:`monthly_figures`
counts them per month for the staff report.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, connections, router, transaction
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncMonth

from helpdesk.trust import search
from helpdesk.trust.models import (
    Article,
    Component,
    DeflectionSession,
    Incident,
    MaintenanceWindow,
)
from policies.models import CatalogueEntry

SUGGESTIONS = 5
KNOWN_ISSUES = 5  # incidents, and maintenance windows, shown at most
MAINTENANCE_AHEAD = timedelta(hours=24)


def parse_token(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value or ""))
    except ValueError:
        return None


def new_token() -> uuid.UUID:
    return uuid.uuid4()


def chosen_entry(value: str | None, organization) -> CatalogueEntry | None:
    """The catalogue entry the form has chosen (the "product" field), if it is one
    of the organisation's plan; anything else counts as no choice."""
    try:
        pk = int(value or "")
    except ValueError:
        return None
    return CatalogueEntry.objects.filter(
        pk=pk, plan_id=organization.support_plan_id
    ).first()


def concerned_components(
    organization, entry: CatalogueEntry | None = None
) -> QuerySet[Component]:
    """The components that concern a customer: those mapped to a catalogue entry of
    their organisation's plan (to ``entry`` only, when the form has one chosen),
    and the platform-wide ones, mapped to none."""
    platform_wide = Q(catalogue_entries__isnull=True)
    if entry is not None:
        theirs = Q(catalogue_entries=entry)
    else:
        theirs = Q(catalogue_entries__plan_id=organization.support_plan_id)
    return Component.objects.filter(platform_wide | theirs).values("pk")


def _concerning(queryset: QuerySet, components: QuerySet[Component]) -> QuerySet:
    """The incidents or maintenance windows of ``queryset`` on one of
    ``components``, or on none at all (then they are about everything)."""
    through = queryset.model.components.through
    link = through._meta.get_field(queryset.model._meta.model_name).attname
    on_any = through.objects.filter(**{link: OuterRef("pk")})
    return queryset.filter(
        Exists(on_any.filter(component__in=components)) | ~Exists(on_any)
    )


class _Names(Aggregate):
    """The names aggregated into one comma-separated text, for a subquery."""

    function = "STRING_AGG"
    template = "%(function)s(%(expressions)s, ', ' ORDER BY %(expressions)s)"
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(
            compiler,
            connection,
            function="GROUP_CONCAT",
            template="%(function)s(%(expressions)s, ', ')",
            **extra,
        )


def _with_component_names(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Annotate ``component_names`` in the same query (no prefetch: the form asks
    at every pause in typing, and each query is a round trip)."""
    names = (
        Incident.components.through.objects.filter(incident=OuterRef("pk"))
        .values("incident")
        .annotate(names=_Names("component__name"))
        .values("names")
    )
    return incidents.annotate(component_names=Subquery(names))


def known_issues(
    organization, *, entry: CatalogueEntry | None = None, now: datetime
) -> tuple[list[Incident], list[MaintenanceWindow]]:
    """The open incidents (with their ``component_names``), and the maintenance in
    progress or starting within ``MAINTENANCE_AHEAD``, on the components that
    concern the customer: two queries."""
    components = concerned_components(organization, entry)
    incidents = _with_component_names(
        _concerning(Incident.objects.open(), components)
    ).order_by("-started_at", "-pk")
    windows = _concerning(
        MaintenanceWindow.objects.scheduled().filter(
            starts_at__lte=now + MAINTENANCE_AHEAD, ends_at__gt=now
        ),
        components,
    ).order_by("starts_at", "pk")
    return list(incidents[:KNOWN_ISSUES]), list(windows[:KNOWN_ISSUES])


@dataclass
class Suggestions:
    token: uuid.UUID
    summary: str
    articles: Sequence[Article]
    incidents: Sequence[Incident]
    maintenance: Sequence[MaintenanceWindow]
    entry: CatalogueEntry | None = None


def suggestions(
    summary: str,
    *,
    token: uuid.UUID,
    user,
    organization,
    now: datetime,
    entry: CatalogueEntry | None = None,
) -> Suggestions:
    """Return what the form shows for ``summary`` (and the product ``entry`` chosen,
    if any) and record the articles shown."""
    summary = search.clean(summary)
    articles = search.suggest(summary, limit=SUGGESTIONS) if summary else []
    if articles:
        show(token, articles, user=user, organization=organization, now=now)
    incidents, maintenance = known_issues(organization, entry=entry, now=now)
    return Suggestions(
        token=token,
        summary=summary,
        articles=articles,
        incidents=incidents,
        maintenance=maintenance,
        entry=entry,
    )


def _session(token: uuid.UUID, *, user, organization, now: datetime):
    """The visit's record, created at its first suggestion; None if the token is
    someone else's (another user's, or theirs in another organisation)."""
    session = DeflectionSession.objects.filter(token=token).first()
    if session is None:
        try:
            with transaction.atomic():
                session = DeflectionSession.objects.create(
                    token=token, user=user, organization=organization, started_at=now
                )
        except IntegrityError:  # created meanwhile by a parallel request
            session = DeflectionSession.objects.get(token=token)
    mine = session.user_id == user.pk and session.organization_id == organization.pk
    return session if mine else None


def show(
    token: uuid.UUID, articles: Sequence[Article], *, user, organization, now
) -> None:
    """Record that the visit ``token`` was shown ``articles``: two statements (the
    visit, then one insert that skips those already recorded), as the form asks at
    every pause in typing."""
    session = _session(token, user=user, organization=organization, now=now)
    if session is None or session.ticket_id is not None:
        return
    shown = DeflectionSession.shown_articles.through
    table = shown._meta
    connection = connections[router.db_for_write(shown)]
    quote = connection.ops.quote_name
    columns = [
        table.get_field(name).column for name in ("deflectionsession", "article")
    ]
    rows = ", ".join(["(%s, %s)"] * len(articles))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES {rows} ON CONFLICT DO NOTHING",
            [value for article in articles for value in (session.pk, article.pk)],
        )


def mark_viewed(token_value: str | None, article: Article, *, user, now) -> bool:
    """Record that the reader opened ``article`` from their visit's suggestions."""
    token = parse_token(token_value)
    if token is None or not getattr(user, "is_authenticated", False):
        return False
    return bool(
        DeflectionSession.objects.filter(
            token=token, user=user, shown_articles=article, viewed_at__isnull=True
        ).update(viewed_article=article, viewed_at=now)
    )


def record_filed(token_value: str | None, ticket, *, user, now) -> None:
    """Link the filed ticket to the visit (what was shown stays recorded)."""
    token = parse_token(token_value)
    if token is None:
        return
    DeflectionSession.objects.filter(
        token=token, user=user, ticket__isnull=True
    ).update(ticket=ticket, filed_at=now)


@dataclass(frozen=True)
class MonthFigures:
    month: date
    visits: int  # visits to the form that were shown at least one article
    viewed: int  # ... where an article was opened
    deflected: int  # ... opened an article and did not file
    filed: int

    @property
    def deflection_rate(self) -> str:
        return f"{self.deflected / self.visits:.0%}" if self.visits else "—"


def monthly_figures(*, months: int = 12, now: datetime) -> list[MonthFigures]:
    """Per month (UTC) of the visit, newest first, one query."""
    since = (now.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    rows = (
        DeflectionSession.objects.filter(started_at__gte=since)
        .annotate(month=TruncMonth("started_at"))
        .values("month")
        .annotate(
            visits=Count("pk"),
            viewed=Count("pk", filter=Q(viewed_at__isnull=False)),
            deflected=Count(
                "pk", filter=Q(viewed_at__isnull=False, ticket__isnull=True)
            ),
            filed=Count("pk", filter=Q(ticket__isnull=False)),
        )
        .order_by("-month")
    )
    return [
        MonthFigures(
            month=_as_date(row["month"]),
            visits=row["visits"],
            viewed=row["viewed"],
            deflected=row["deflected"],
            filed=row["filed"],
        )
        for row in rows
    ]


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def recorded_for(ticket) -> list[Article]:
    """The articles the form showed before ``ticket`` was filed."""
    session = DeflectionSession.objects.filter(ticket=ticket).first()
    return list(session.shown_articles.order_by("title")) if session else []
