"""One ticket's story for the agent console, oldest first: public replies, internal
notes, events the customer sees (severity, escalation), status and assignment changes
and SLO clock events, each with who, when and in what role.

Two queries whatever the length of the conversation: the messages with their
authors, the authors' roles and their attachments; the ticket's history. The ticket
(with the files filed with it) and its clocks with their events are read once for the
whole page (``helpdesk.console.ticket_page``) and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from django.db.models import OuterRef, QuerySet

from helpdesk.console import ticket_page
from helpdesk.console.per_thread import per_thread
from helpdesk.console.ticket_page import ClockPage
from helpdesk.models import Attachment, Message, SLOClock, SLOEvent, Ticket
from helpdesk.templatetags.instants import instant_text


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # public, internal, event, status, clock
    label: str
    who: str
    role: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    # The InboundMessage it arrived as, when it came by e-mail (its .eml).
    original_email_id: int | None = None

    @property
    def css(self) -> str:
        return f"entry entry-{self.kind}"


def role_of(user, groups: list[str]) -> str:
    """What the author is to the ticket: their agent role(s) (``groups``, their
    group names, read with them), or customer."""
    if user is None:
        return "system"
    return _role(user.is_staff, user.is_superuser, groups)


def _role(is_staff: bool, is_superuser: bool, groups: list[str]) -> str:
    if not is_staff:
        return "customer"
    return ", ".join(sorted(groups)) or ("administrator" if is_superuser else "agent")


def _name(full_name: str | None, email: str | None) -> str:
    """A person's name as ``User.__str__`` gives it, from the columns read."""
    return full_name or email or ""


_MESSAGE_LABELS = {
    Message.Visibility.PUBLIC: "Public reply",
    Message.Visibility.INTERNAL: "Internal note (agents only)",
    Message.Visibility.EVENT: "Event shown to the customer",
}

# Clock events worth a line in the conversation (a start is the filing itself).
_CLOCK_KINDS = {
    SLOEvent.Kind.TARGET_CHANGE,
    SLOEvent.Kind.PAUSE,
    SLOEvent.Kind.RESUME,
    SLOEvent.Kind.MET,
    SLOEvent.Kind.WARNING,
    SLOEvent.Kind.BREACH,
    SLOEvent.Kind.BEST_EFFORT,
    SLOEvent.Kind.REOPEN,
}


def timeline(ticket: Ticket, clocks: list[ClockPage]) -> list[Entry]:
    """Every entry of ``ticket``'s story, oldest first.

    ``ticket`` is read by ``ticket_page.ticket_queryset`` and ``clocks`` by
    ``ticket_page.clocks_with_events``."""
    entries = [*_messages(ticket), *_changes(ticket), *_clock_events(clocks)]
    return [_filing(ticket), *sorted(entries, key=lambda e: e.at)]


def _filing(ticket: Ticket) -> Entry:
    """The request as filed: its description and the files filed with it."""
    filer = ticket.filed_by
    on_behalf = filer is not None and filer.pk != ticket.requester_id
    by_email = ticket.filed_by_email_id
    label = "Filed on behalf of the customer" if on_behalf else "Filed"
    return Entry(
        at=ticket.created_at,
        kind="public",
        label=f"{label} by e-mail" if by_email else label,
        original_email_id=by_email,
        who=str(filer or ticket.requester),
        role=role_of(filer, ticket.filer_groups or [])
        if filer
        else role_of(ticket.requester, []),
        body=f"{ticket.summary}\n\n{ticket.description}",
        attachments=ticket_page.attachments(ticket.filed_files),
    )


@per_thread
def _message_rows() -> QuerySet[Message]:
    """Messages as plain rows with their authors' names and roles and their files,
    built once per thread (like ``ticket_page.page_tickets``): 50 messages read as
    model instances cost more than the query that read them."""
    return Message.objects.annotate(
        files=ticket_page.files_of(Attachment.objects.filter(message=OuterRef("pk"))),
        author_groups=ticket_page.roles_of("author"),
    ).values_list(
        "created_at",
        "visibility",
        "is_from_email",
        "body",
        "author__full_name",
        "author__email",
        "author__is_staff",
        "author__is_superuser",
        "author_groups",
        "files",
        "inbound__pk",
    )


def _messages(ticket: Ticket) -> list[Entry]:
    rows = _message_rows().filter(ticket=ticket)
    entries = []
    for (
        at,
        visibility,
        by_email,
        body,
        full_name,
        email,
        is_staff,
        is_superuser,
        groups,
        files,
        inbound_id,
    ) in rows:
        entries.append(
            Entry(
                at=at,
                kind=visibility,
                label=_MESSAGE_LABELS[visibility] + (" by e-mail" if by_email else ""),
                who=_name(full_name, email),
                role=_role(is_staff, is_superuser, groups or []),
                body=body,
                attachments=ticket_page.attachments(files),
                original_email_id=inbound_id,
            )
        )
    return entries


def _changes(ticket: Ticket) -> list[Entry]:
    """Status, assignee and TAM-routing changes, read from the ticket's history
    (the columns compared, not whole historical tickets)."""
    records = ticket.history.order_by("history_id").values_list(
        "status",
        "assignee_id",
        "is_tam_routed",
        "history_date",
        "history_user__full_name",
        "history_user__email",
        "assignee__full_name",
        "assignee__email",
        named=True,
    )
    entries = []
    for before, after in pairwise(records):
        said = []
        if before.status != after.status:
            said.append(
                f"Status: {Ticket.Status(before.status).label} → "
                f"{Ticket.Status(after.status).label}"
            )
        if before.assignee_id != after.assignee_id:
            # A person since deleted is no longer there to name.
            to = _name(after.assignee__full_name, after.assignee__email)
            said.append(
                f"Assigned to {to or 'a deleted user'}"
                if after.assignee_id
                else "Unassigned"
            )
        if before.is_tam_routed != after.is_tam_routed:
            said.append(
                "Routed to the TAM" if after.is_tam_routed else "No longer TAM-routed"
            )
        if said:
            who = _name(after.history_user__full_name, after.history_user__email)
            entries.append(
                Entry(
                    at=after.history_date,
                    kind="status",
                    label="Change",
                    who=who or "the system",
                    role="",
                    body="; ".join(said),
                )
            )
    return entries


def _clock_events(clocks: list[ClockPage]) -> list[Entry]:
    entries = []
    for page in clocks:
        metric = SLOClock.Metric(page.clock.metric).label
        for event in page.events:
            if event.kind not in _CLOCK_KINDS:
                continue
            what = f"{metric} clock: {event.label}"
            if event.threshold:
                what += f" ({event.threshold}%)"
            if event.kind == SLOEvent.Kind.TARGET_CHANGE and event.due_after:
                what += f", due {instant_text(event.due_after)}"
                if event.due_before:
                    what += f" (was {instant_text(event.due_before)})"
            if event.note:
                what += f" — {event.note}"
            entries.append(
                Entry(
                    at=event.at,
                    kind="clock",
                    label="SLO",
                    who=event.actor or "the system",
                    role="",
                    body=what,
                )
            )
    return entries
