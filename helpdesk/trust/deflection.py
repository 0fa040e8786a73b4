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

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from helpdesk.trust import search
from helpdesk.trust.models import (
    Article,
    DeflectionSession,
    Incident,
    MaintenanceWindow,
)

SUGGESTIONS = 5
MAINTENANCE_AHEAD = timedelta(hours=24)


def parse_token(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value or ""))
    except ValueError:
        return None


def new_token() -> uuid.UUID:
    return uuid.uuid4()


@dataclass
class Suggestions:
    token: uuid.UUID
    summary: str
    articles: Sequence[Article]
    incidents: Sequence[Incident]
    maintenance: Sequence[MaintenanceWindow]


def suggestions(
    summary: str, *, token: uuid.UUID, user, organization, now: datetime
) -> Suggestions:
    """Return what the form shows for ``summary`` and record the articles shown."""
    summary = search.clean(summary)
    articles = search.suggest(summary, limit=SUGGESTIONS) if summary else []
    if articles:
        show(token, articles, user=user, organization=organization, now=now)
    return Suggestions(
        token=token,
        summary=summary,
        articles=articles,
        incidents=list(
            Incident.objects.open()
            .prefetch_related("components")
            .order_by("-started_at")[:5]
        ),
        maintenance=list(
            MaintenanceWindow.objects.scheduled()
            .filter(starts_at__lte=now + MAINTENANCE_AHEAD, ends_at__gt=now)
            .prefetch_related("components")
            .order_by("starts_at")[:5]
        ),
    )


def _session(token: uuid.UUID, *, user, organization, now: datetime):
    """The visit's record, created at its first suggestion; None if the token is
    someone else's."""
    session = DeflectionSession.objects.filter(token=token).first()
    if session is None:
        try:
            with transaction.atomic():
                session = DeflectionSession.objects.create(
                    token=token, user=user, organization=organization, started_at=now
                )
        except IntegrityError:  # created meanwhile by a parallel request
            session = DeflectionSession.objects.get(token=token)
    return session if session.user_id == user.pk else None


def show(
    token: uuid.UUID, articles: Sequence[Article], *, user, organization, now
) -> None:
    session = _session(token, user=user, organization=organization, now=now)
    if session is not None and session.ticket_id is None:
        session.shown_articles.add(*articles)


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
