"""Writes of the trust site: every one checks who asks.

Agents author in the console with the trust permissions of their role
(``accounts/roles.py``); readers vote and report documentation errors anonymously,
throttled in the view.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import User
from helpdesk.trust.models import (
    Article,
    ArticleVote,
    Component,
    DocumentationReport,
    Incident,
    IncidentTicketLink,
    IncidentUpdate,
)

if TYPE_CHECKING:
    from helpdesk.models import Ticket

logger = logging.getLogger(__name__)


def _require(user: User | None, perm: str) -> None:
    if user is None or not user.has_perm(perm):
        raise PermissionDenied(f"{perm} is needed for this")


@transaction.atomic
def open_incident(
    *,
    title: str,
    impact: str,
    components: Iterable[Component],
    body: str,
    acting_user: User,
    started_at: datetime | None = None,
) -> Incident:
    """Open an incident with its first update ("investigating")."""
    _require(acting_user, "trust.add_incident")
    incident = Incident(
        title=title, impact=impact, started_at=started_at or timezone.now()
    )
    incident.full_clean()
    incident._history_user = acting_user
    incident.save()
    incident.components.set(components)
    post_incident_update(
        incident,
        status=Incident.Status.INVESTIGATING,
        body=body,
        acting_user=acting_user,
        posted_at=incident.started_at,
    )
    return incident


@transaction.atomic
def post_incident_update(
    incident: Incident,
    *,
    status: str,
    body: str,
    acting_user: User,
    posted_at: datetime | None = None,
) -> IncidentUpdate:
    """Add an update to the incident's timeline; its status becomes the incident's.

    A "resolved" update closes the incident (``resolved_at``) and posts a public
    reply on each open linked ticket, through the reply service, so the tickets'
    clocks behave as for any agent reply. A resolved incident takes no update but
    another "resolved" one (a correction); reopening is a new incident.
    """
    _require(acting_user, "trust.add_incidentupdate")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if status not in Incident.Status.values:
        raise ValidationError({"status": "Choose one of the incident statuses."})
    if not (body or "").strip():
        raise ValidationError({"body": "Say what changed."})
    if incident.is_resolved and status != Incident.Status.RESOLVED:
        raise ValidationError(
            {"status": "This incident is resolved; open a new incident instead."}
        )
    posted_at = posted_at or timezone.now()
    if posted_at < incident.started_at:
        raise ValidationError({"posted_at": "An update cannot precede the incident."})
    update = IncidentUpdate.objects.create(
        incident=incident,
        status=status,
        body=body.strip(),
        posted_at=posted_at,
        author=acting_user,
    )
    newly_resolved = status == Incident.Status.RESOLVED and not incident.is_resolved
    incident.status = status
    fields = ["status", "updated_at"]
    if newly_resolved:
        incident.resolved_at = posted_at
        fields.append("resolved_at")
    incident._history_user = acting_user
    incident.save(update_fields=fields)
    if newly_resolved:
        _reply_to_linked_tickets(incident, acting_user=acting_user)
    from helpdesk.trust import subscriptions

    subscriptions.notify_subscribers(update)
    return update


def _reply_to_linked_tickets(incident: Incident, *, acting_user: User) -> int:
    from helpdesk import services as ticket_services
    from helpdesk.models import Ticket

    open_tickets = incident.linked_tickets.exclude(
        status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED]
    ).order_by("pk")
    body = render_to_string(
        "trust/incident_resolved_reply.txt",
        {"incident": incident, "base_url": settings.HELPDESK_BASE_URL},
    ).strip()
    count = 0
    for ticket in open_tickets:
        ticket_services.post_reply(ticket, author=acting_user, body=body)
        count += 1
    return count


@transaction.atomic
def link_tickets(
    incident: Incident, tickets: Iterable[Ticket], *, acting_user: User
) -> list[IncidentTicketLink]:
    """Link ``tickets`` to the open ``incident``, recording who and when; return the
    new links. A ticket already linked keeps its link (and its first linker).

    Agents who may change incidents only. A resolved incident takes no links: its
    replies on linked tickets have gone out, and a new one would never get one.
    """
    _require(acting_user, "trust.change_incident")
    # The incident's lock orders a link and a "resolved" update: a ticket linked
    # first gets the reply; one linked after is refused.
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    if incident.is_resolved:
        raise ValidationError(
            f"“{incident}” is resolved: link the tickets to an open incident."
        )
    wanted = {ticket.pk: ticket for ticket in tickets}
    linked = set(
        incident.ticket_links.filter(ticket_id__in=wanted).values_list(
            "ticket_id", flat=True
        )
    )
    now = timezone.now()
    created = []
    for pk in sorted(wanted.keys() - linked):
        link = IncidentTicketLink(
            incident=incident, ticket=wanted[pk], linked_at=now, linked_by=acting_user
        )
        link._history_user = acting_user
        link.save()  # one by one: each link gets its history row (who, when)
        created.append(link)
    return created


@transaction.atomic
def unlink_tickets(
    incident: Incident, tickets: Iterable[Ticket], *, acting_user: User
) -> int:
    """Unlink ``tickets`` from ``incident``; return how many were linked. The
    history keeps who unlinked each and when."""
    _require(acting_user, "trust.change_incident")
    incident = Incident.objects.select_for_update().get(pk=incident.pk)
    links = list(
        incident.ticket_links.filter(ticket_id__in=[t.pk for t in tickets]).order_by(
            "pk"
        )
    )
    for link in links:
        link._history_user = acting_user
        link.delete()
    return len(links)


# --- knowledge base ---------------------------------------------------------------


def reader_key(request, *, create: bool = True) -> str | None:
    """Who votes: the user, or (anonymous) a digest of their session. With
    ``create=False`` (reading a page) an anonymous reader without a session is
    nobody yet (None): reading an article starts no session."""
    import hashlib

    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if not request.session.session_key:
        if not create:
            return None
        request.session.save()
    digest = hashlib.sha256(request.session.session_key.encode()).hexdigest()[:40]
    return f"anon:{digest}"


@transaction.atomic
def record_vote(article: Article, *, reader: str, is_helpful: bool) -> ArticleVote:
    """Record one reader's vote on a published article; a second vote replaces
    the first (one per reader per article)."""
    if article.status != Article.Status.PUBLISHED:
        raise ValidationError("Only published articles take votes.")
    vote, _ = ArticleVote.objects.update_or_create(
        article=article,
        reader=reader,
        defaults={"is_helpful": is_helpful, "voted_at": timezone.now()},
    )
    return vote


@transaction.atomic
def report_documentation_error(
    article: Article,
    *,
    body: str,
    name: str = "",
    email: str = "",
    user: User | None = None,
) -> DocumentationReport:
    """File a report in the documentation owners' queue in the console. A logged-in
    reader's name and e-mail come from their account, not from the form."""
    if article.status != Article.Status.PUBLISHED:
        raise ValidationError("Only published articles take reports.")
    if user is not None and user.is_authenticated:
        name = user.get_full_name() or user.email
        email = user.email
    else:
        user = None
    report = DocumentationReport(
        article=article,
        body=(body or "").strip(),
        reporter_name=(name or "").strip(),
        reporter_email=(email or "").strip(),
        reporter=user,
    )
    report.full_clean()
    report.save()
    return report


@transaction.atomic
def resolve_documentation_reports(reports, *, acting_user: User) -> int:
    """Mark open reports resolved; return how many were."""
    _require(acting_user, "trust.change_documentationreport")
    return reports.filter(resolved_at__isnull=True).update(
        resolved_at=timezone.now(), resolved_by=acting_user
    )
