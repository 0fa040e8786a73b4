"""What the console's ticket page reads, in the same few queries whatever the size of
the conversation or of the tables (issue 12 §4: at most 12 for the whole page).

- The ticket with its organisation, plan, severity and people (six joins) and, as
  small sub-selects, its team, product and "workaround provided by", its open
  escalation with the people on it, the e-mail it was filed by, the files filed
  with it, its filer's roles and its plan's severities (for the severity form): one
  query. Beyond seven joins PostgreSQL took several times as long to plan it as to
  run it (12 ms against 2.5 ms on the shared bench machine); sub-selects are
  planned on their own, cheaply.
- Its clocks with their calendars and their events: one query (a LEFT JOIN, so a
  clock with no event is still shown).
- The conversation (in ``helpdesk.timeline``): messages with their authors, the
  authors' roles and their attachments in one query; the ticket's history in one.

The querysets of the ticket and its clocks are built once per thread
(``page_tickets``, ``_clock_rows``; ``helpdesk.console.per_thread``) and narrowed
per request: building and resolving the sub-selects cost more than running them.

Short lists that belong to one row (a message's files, an author's roles, a plan's
severities, an escalation) come back as JSON in a column of that row, so that each
costs no query of its own: SQLite's ``json_group_array``/``json_object``,
PostgreSQL's ``jsonb_agg``/``jsonb_build_object``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.contrib.auth.models import Group
from django.db.models import (
    Aggregate,
    CharField,
    F,
    JSONField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, JSONObject, NullIf

from accounts.models import Team, User
from helpdesk import escalations
from helpdesk.console.per_thread import per_thread
from helpdesk.mail.models import InboundMessage
from helpdesk.models import Attachment, Escalation, SLOClock, SLOEvent, Ticket
from policies.models import CatalogueEntry, Severity

# What the ticket page shows of the ticket's own relations, joined to the ticket.
CHANGE_PAGE_RELATED = [
    "organization",
    "plan",
    "severity",
    "requester",
    "filed_by",
    "assignee",
]


class JSONList(Aggregate):
    """The values of a group as a JSON array (their order is not guaranteed)."""

    function = "JSON_GROUP_ARRAY"
    output_field = JSONField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, function="JSONB_AGG", **extra_context
        )


def json_list(queryset: QuerySet, by: str, value) -> Subquery:
    """A JSON array of ``value`` over ``queryset``'s rows, which an ``OuterRef``
    narrows to those of one outer row (all with the same ``by``); NULL if none."""
    grouped = queryset.order_by().values(by).annotate(rows=JSONList(value))
    return Subquery(grouped.values("rows")[:1])


def files_of(rows: QuerySet) -> Subquery:
    """The attachments among ``rows``, as {pk, name, size} objects."""
    return json_list(
        rows, "ticket", JSONObject(pk="pk", name="original_name", size="size")
    )


def roles_of(user_ref: str) -> Subquery:
    """The group (role) names of the user the outer row's ``user_ref`` names."""
    return json_list(Group.objects.filter(user=OuterRef(user_ref)), "user", F("name"))


def attachments(rows: list | None) -> list[Attachment]:
    """The attachments a JSON column listed, as (unsaved) rows, by upload order."""
    return [
        Attachment(pk=row["pk"], original_name=row["name"], size=row["size"])
        for row in sorted(rows or [], key=lambda row: row["pk"])
    ]


def name_of(path: str = ""):
    """A person's name as ``User.__str__`` gives it (full name, else e-mail), of
    the user at ``path`` (or of the user rows themselves)."""
    prefix = f"{path}__" if path else ""
    return Coalesce(
        NullIf(F(f"{prefix}full_name"), Value("")),
        F(f"{prefix}email"),
        output_field=CharField(),
    )


def _escalation_json() -> JSONObject:
    fields = {
        "pk": F("pk"),
        "reason": F("reason"),
        "requested_at": F("requested_at"),
        "requested_by": name_of("requested_by"),
        "engineer": name_of("engineer"),
    }
    # Each check's who, when and note (helpdesk.escalations).
    for check, (by, at, note) in escalations.CHECK_FIELDS.items():
        fields[f"{check}_by"] = name_of(by)
        fields[f"{check}_at"] = F(at)
        fields[f"{check}_note"] = F(note)
    return JSONObject(**fields)


def ticket_queryset(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """``queryset`` reading everything the ticket page shows of the ticket; pass
    the ticket it gives to ``prepare``."""
    return queryset.select_related(*CHANGE_PAGE_RELATED).annotate(
        # Single rows by key: no ordering (the models' own would join for nothing).
        team_name=Subquery(
            Team.objects.filter(pk=OuterRef("team")).order_by().values("name")
        ),
        product_name=Subquery(
            CatalogueEntry.objects.filter(pk=OuterRef("product"))
            .order_by()
            .values("name")
        ),
        workaround_by=Subquery(
            User.objects.filter(pk=OuterRef("workaround_provided_by"))
            .order_by()
            .values(name=name_of())
        ),
        open_escalation_json=Subquery(
            # At most one is open (a unique constraint).
            Escalation.objects.filter(
                ticket=OuterRef("pk"), de_escalated_at__isnull=True
            )
            .order_by()
            .values(json=_escalation_json())[:1]
        ),
        filed_by_email_id=Subquery(
            InboundMessage.objects.filter(
                ticket=OuterRef("pk"), outcome=InboundMessage.Outcome.CREATED
            )
            .order_by("-received_at", "-pk")
            .values("pk")[:1]
        ),
        filed_files=files_of(
            Attachment.objects.filter(ticket=OuterRef("pk"), message__isnull=True)
        ),
        filer_groups=roles_of("filed_by"),
        plan_severities=json_list(
            Severity.objects.filter(plan=OuterRef("plan")),
            "plan",
            JSONObject(pk="pk", level="level", name="name"),
        ),
    )


@per_thread
def page_tickets() -> QuerySet[Ticket]:
    """Every ticket as the page reads it (``ticket_queryset``), built once per
    thread; ``.get()`` one (a copy) and pass it to ``prepare``. The console shows
    every ticket to every agent who may view tickets."""
    return ticket_queryset(Ticket.objects.all())


def prepare(ticket: Ticket) -> Ticket:
    """Give ``ticket`` (read by ``ticket_queryset``) its team, product and
    "workaround provided by" from the names read with it, so that showing them
    costs no query: rows with their key and name, enough to show and compare."""
    if ticket.team_id is not None:
        Ticket.team.field.set_cached_value(
            ticket, Team(pk=ticket.team_id, name=ticket.team_name or "")
        )
    if ticket.product_id is not None:
        entry = CatalogueEntry(
            pk=ticket.product_id, plan_id=ticket.plan_id, name=ticket.product_name
        )
        Ticket.product.field.set_cached_value(ticket, entry)
    if ticket.workaround_provided_by_id is not None:
        person = User(
            pk=ticket.workaround_provided_by_id, full_name=ticket.workaround_by
        )
        Ticket.workaround_provided_by.field.set_cached_value(ticket, person)
    return ticket


@dataclass(frozen=True)
class EscalationCheck:
    words: str
    by: str | None
    at: datetime | None
    note: str


@dataclass(frozen=True)
class OpenEscalation:
    pk: int
    reason: str
    requested_at: datetime | None
    requested_by: str
    engineer: str | None
    checks: list[EscalationCheck]


def _instant(value: str | None) -> datetime | None:
    """An instant from a JSON column: ISO text, naive on SQLite (stored in UTC)."""
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def open_escalation(ticket: Ticket) -> OpenEscalation | None:
    """The ticket's open escalation, read with it (None if it is not escalated)."""
    row = getattr(ticket, "open_escalation_json", None)
    if not row:
        return None
    return OpenEscalation(
        pk=row["pk"],
        reason=row["reason"],
        requested_at=_instant(row["requested_at"]),
        requested_by=row["requested_by"],
        engineer=row["engineer"],
        checks=[
            EscalationCheck(
                words=words,
                by=row[f"{check}_by"],
                at=_instant(row[f"{check}_at"]),
                note=row[f"{check}_note"] or "",
            )
            for check, words in escalations.CHECKS.items()
        ],
    )


def severities_offered(ticket: Ticket) -> list[dict]:
    """The plan's other severities, most severe first: {pk, level, name}."""
    rows = getattr(ticket, "plan_severities", None) or []
    return sorted(
        (row for row in rows if row["pk"] != ticket.severity_id),
        key=lambda row: row["level"],
    )


@dataclass(frozen=True)
class ClockEvent:
    kind: str
    at: datetime
    threshold: int | None
    note: str
    due_before: datetime | None
    due_after: datetime | None
    actor: str | None  # None: the system

    @property
    def label(self) -> str:
        return SLOEvent.Kind(self.kind).label


@dataclass
class ClockPage:
    clock: SLOClock
    events: list[ClockEvent] = field(default_factory=list)


_EVENT_COLUMNS = {
    "event_kind": F("events__kind"),
    "event_at": F("events__at"),
    "event_threshold": F("events__threshold"),
    "event_note": F("events__note"),
    "event_due_before": F("events__due_before"),
    "event_due_after": F("events__due_after"),
    "event_actor_name": F("events__actor__full_name"),
    "event_actor_email": F("events__actor__email"),
}


@per_thread
def _clock_rows() -> QuerySet[SLOClock]:
    """Clocks with their calendars, one row per event (built once per thread)."""
    return (
        SLOClock.objects.select_related("calendar")
        .annotate(**_EVENT_COLUMNS)
        .order_by("metric", "pk", "events__at", "events__pk")
    )


def clocks_with_events(ticket: Ticket) -> list[ClockPage]:
    """The ticket's clocks with their calendars and events, oldest event first."""
    pages: dict[int, ClockPage] = {}
    for row in _clock_rows().filter(ticket=ticket):
        page = pages.setdefault(row.pk, ClockPage(row))
        if row.event_kind is None:  # a clock with no event yet
            continue
        page.events.append(
            ClockEvent(
                kind=row.event_kind,
                at=row.event_at,
                threshold=row.event_threshold,
                note=row.event_note or "",
                due_before=row.event_due_before,
                due_after=row.event_due_after,
                actor=row.event_actor_name or row.event_actor_email,
            )
        )
    return list(pages.values())
