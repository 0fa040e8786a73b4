"""One ticket's story for the agent console, oldest first: public replies, internal
notes, events the customer sees (severity, escalation), status and assignment changes
and SLO clock events, each with who, when and in what role.

A handful of queries whatever the length of the conversation: messages with their
authors, roles and attachments; the ticket's history; its clocks' events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from helpdesk.mail.models import InboundMessage
from helpdesk.models import Attachment, Message, SLOClock, SLOEvent, Ticket


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


def role_of(user) -> str:
    """What the author is to the ticket: their agent role(s), or customer."""
    if user is None:
        return "system"
    if not user.is_staff:
        return "customer"
    names = sorted(group.name for group in user.groups.all())
    return ", ".join(names) or ("administrator" if user.is_superuser else "agent")


_MESSAGE_LABELS = {
    Message.Visibility.PUBLIC: "Public reply",
    Message.Visibility.INTERNAL: "Internal note (agents only)",
    Message.Visibility.EVENT: "Event shown to the customer",
}

# Clock events worth a line in the conversation (starts and target changes are in
# the clocks' own table on the page).
_CLOCK_KINDS = {
    SLOEvent.Kind.PAUSE,
    SLOEvent.Kind.RESUME,
    SLOEvent.Kind.MET,
    SLOEvent.Kind.WARNING,
    SLOEvent.Kind.BREACH,
    SLOEvent.Kind.BEST_EFFORT,
    SLOEvent.Kind.REOPEN,
}


def timeline(ticket: Ticket) -> list[Entry]:
    """Every entry of ``ticket``'s story, oldest first."""
    attachments = _attachments(ticket)
    entries = [
        *_messages(ticket, attachments),
        *_changes(ticket),
        *_clock_events(ticket),
    ]
    return [_filing(ticket, attachments), *sorted(entries, key=lambda e: e.at)]


def _attachments(ticket: Ticket) -> dict[int | None, list[Attachment]]:
    """The ticket's attachments by message id (None: filed with the ticket), in one
    query however many messages carry them."""
    found: dict[int | None, list[Attachment]] = {}
    for attachment in Attachment.objects.filter(ticket=ticket):
        found.setdefault(attachment.message_id, []).append(attachment)
    return found


def _filing(ticket: Ticket, attachments: dict) -> Entry:
    """The request as filed: its description and the files filed with it."""
    filer = ticket.filed_by
    on_behalf = filer is not None and filer.pk != ticket.requester_id
    by_email = (
        InboundMessage.objects.filter(
            ticket=ticket, outcome=InboundMessage.Outcome.CREATED
        )
        .values_list("pk", flat=True)
        .first()
    )
    label = "Filed on behalf of the customer" if on_behalf else "Filed"
    return Entry(
        at=ticket.created_at,
        kind="public",
        label=f"{label} by e-mail" if by_email else label,
        original_email_id=by_email,
        who=str(filer or ticket.requester),
        role=role_of(filer or ticket.requester),
        body=f"{ticket.summary}\n\n{ticket.description}",
        attachments=attachments.get(None, []),
    )


def _messages(ticket: Ticket, attachments: dict) -> list[Entry]:
    messages = (
        Message.objects.filter(ticket=ticket)
        .select_related("author", "inbound")
        .prefetch_related("author__groups")
    )
    return [
        Entry(
            at=message.created_at,
            kind=message.visibility,
            label=_MESSAGE_LABELS[message.visibility]
            + (" by e-mail" if message.is_from_email else ""),
            who=str(message.author),
            role=role_of(message.author),
            body=message.body,
            attachments=attachments.get(message.pk, []),
            original_email_id=getattr(getattr(message, "inbound", None), "pk", None),
        )
        for message in messages
    ]


def _changes(ticket: Ticket) -> list[Entry]:
    """Status, assignee and TAM-routing changes, read from the ticket's history."""
    records = list(
        ticket.history.order_by("history_id").select_related("history_user", "assignee")
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
            said.append(
                f"Assigned to {after.assignee}" if after.assignee_id else "Unassigned"
            )
        if before.is_tam_routed != after.is_tam_routed:
            said.append(
                "Routed to the TAM" if after.is_tam_routed else "No longer TAM-routed"
            )
        if said:
            entries.append(
                Entry(
                    at=after.history_date,
                    kind="status",
                    label="Change",
                    who=str(after.history_user or "the system"),
                    role="",
                    body="; ".join(said),
                )
            )
    return entries


def _clock_events(ticket: Ticket) -> list[Entry]:
    events = (
        SLOEvent.objects.filter(clock__ticket=ticket, kind__in=_CLOCK_KINDS)
        .select_related("clock", "actor")
        .order_by("at", "pk")
    )
    metric_names = dict(SLOClock.Metric.choices)
    entries = []
    for event in events:
        what = f"{metric_names.get(event.clock.metric, event.clock.metric)} clock: "
        what += event.get_kind_display().lower()
        if event.threshold:
            what += f" ({event.threshold}% of the target used)"
        if event.note:
            what += f" — {event.note}"
        entries.append(
            Entry(
                at=event.at,
                kind="clock",
                label="SLO",
                who=str(event.actor) if event.actor_id else "the system",
                role="",
                body=what,
            )
        )
    return entries
