"""Every write to tickets goes through here: portal views, admin, tasks and commands.

Each service runs in one transaction: the ticket or message, its attachments, its
history and its outbox e-mails are written together or not at all.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Organization, User
from accounts.rules import may_file_tickets
from helpdesk import clocks, continuous_effort, lifecycle, routing
from helpdesk.attachments import CheckedUpload, check_uploads
from helpdesk.emails import queue_email
from helpdesk.models import Attachment, Message, Ticket, TicketSequence
from helpdesk.secrets_guard import secret_errors
from policies.models import CatalogueEntry, Severity
from policies.rules import severity_cap_error
from policies.slo import due_for
from tam import routing as tam_routing

_saved_files: ContextVar[list | None] = ContextVar("saved_files", default=None)


def atomic_with_files(func):
    """Run ``func`` in a transaction; if it fails, delete the attachment files it
    stored too, so a rolled-back ticket or reply leaves nothing behind."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if _saved_files.get() is not None:  # the outermost call owns the files
            with transaction.atomic():
                return func(*args, **kwargs)
        saved: list = []
        token = _saved_files.set(saved)
        try:
            with transaction.atomic():
                return func(*args, **kwargs)
        except BaseException:
            for storage, name in saved:
                storage.delete(name)
            raise
        finally:
            _saved_files.reset(token)

    return wrapper


@dataclass
class TicketDraft:
    """What a customer (or an agent on their behalf) files."""

    summary: str
    description: str
    environment: str
    severity: Severity | None = None
    component: str = ""
    app_ids: str = ""
    client_ids: str = ""
    urls: str = ""
    steps_to_reproduce: str = ""
    customer_contact: str = ""
    route_to_tam: bool = False
    uploads: list[UploadedFile] = field(default_factory=list)
    product: CatalogueEntry | None = None  # from the plan's catalogue


# Free-text fields of a ticket that must never carry a secret.
TEXT_FIELDS = (
    "summary",
    "description",
    "component",
    "app_ids",
    "client_ids",
    "urls",
    "steps_to_reproduce",
    "customer_contact",
)


def validate_draft(
    organization: Organization, draft: TicketDraft
) -> list[CheckedUpload]:
    """Raise one ValidationError with every field's problem, or return the checked
    uploads. Nothing is stored before this passes."""
    plan = organization.support_plan
    errors: dict[str, list[str]] = {}
    if plan is None:
        raise ValidationError(
            f"{organization} has no support plan yet; please contact your account "
            "manager."
        )
    severity = draft.severity or plan.default_severity
    if draft.product is not None and draft.product.plan_id != plan.pk:
        errors["product"] = [f"{draft.product} is not in the {plan} catalogue."]
    if severity is not None and severity.plan_id != plan.pk:
        errors["severity"] = [f"{severity} is not a severity of the {plan} plan."]
    elif severity is not None and "product" not in errors:
        cap = severity_cap_error(plan, draft.component, severity, draft.product)
        if cap:
            errors["severity"] = [cap]
        if severity.requires_customer_contact and not draft.customer_contact.strip():
            errors["customer_contact"] = [
                f"{severity} needs a named person at your company who is available "
                "while we work on it, and how to reach them."
            ]
    if draft.environment not in Ticket.Environment.values:
        errors["environment"] = [
            "Say whether this is a production or deployment issue."
        ]
    for name, messages in secret_errors(
        {name: getattr(draft, name) for name in TEXT_FIELDS}
    ).items():
        errors.setdefault(name, []).extend(messages)
    checked: list[CheckedUpload] = []
    try:
        checked = check_uploads(draft.uploads)
    except ValidationError as exc:
        errors["attachments"] = exc.messages
    if errors:
        raise ValidationError(errors)
    return checked


@atomic_with_files
def open_ticket(
    organization: Organization,
    draft: TicketDraft,
    *,
    requester: User,
    filed_by: User,
    now: datetime | None = None,
) -> Ticket:
    """File a ticket for ``organization``: reference, due instants, attachments and
    the confirmation e-mail, all in one transaction.

    The requester must be a named Support Administrator of an organisation with an
    active licence; ``filed_by`` is the requester or an agent on their behalf.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    decision = may_file_tickets(requester, organization, today=today)
    if not decision:
        raise ValidationError(decision.reason, code="not_allowed")
    if filed_by != requester and not filed_by.is_staff:
        raise ValidationError("Only agents may file on a customer's behalf.")
    checked = validate_draft(organization, draft)
    plan = organization.support_plan
    severity = draft.severity or plan.default_severity
    due = due_for(plan, severity, now)
    ticket = Ticket(
        organization=organization,
        requester=requester,
        filed_by=filed_by,
        plan=plan,
        severity=severity,
        summary=draft.summary.strip(),
        description=draft.description,
        environment=draft.environment,
        component=draft.component.strip(),
        app_ids=draft.app_ids,
        client_ids=draft.client_ids,
        urls=draft.urls,
        steps_to_reproduce=draft.steps_to_reproduce,
        customer_contact=draft.customer_contact.strip(),
        product=draft.product,
    )
    ticket.is_tam_routed = tam_routing.should_route_to_tam(
        organization, draft.environment, draft.route_to_tam
    )
    if ticket.is_tam_routed:
        # The named TAM works it, or the backup while the TAM is away.
        ticket.assignee = tam_routing.tam_for(organization, today)
    # Its team by environment (or the TAM's); a Sev1 gets an on-call assignee.
    ticket.team = routing.team_for(
        draft.environment, is_tam_routed=ticket.is_tam_routed
    )
    continuous_effort.start_at_filing(ticket, at=now)
    clocks.set_due_instants(ticket, due, opened_at=now)
    # The foreign keys hold rows loaded for this filing (and the database checks
    # them on insert): validating them would read each one again.
    ticket.full_clean(exclude=[*_FILING_ROWS, "reference"])
    # The clocks' hold on the sweep row (once, for the clocks and the TAM SLO), then
    # the sequence row, last: it stays locked until commit, so concurrent filings
    # wait for each other only over the inserts below.
    with clocks.sweep_held():
        ticket.reference = _next_reference()
        ticket._history_user = filed_by
        ticket.created_at = now  # the SLO counts from it
        ticket.save()
        clocks.start_clocks(ticket, due, opened_at=now)
        if ticket.is_tam_routed:
            _apply_tam_slo(ticket, now=now, actor=filed_by)
    _store_attachments(ticket, None, checked, uploaded_by=filed_by)
    queue_email(
        key=f"ticket-created:{ticket.pk}",
        to=requester.email,
        template="ticket_created",
        context={"recipient": requester},
        ticket=ticket,
    )
    routing.notify_team(ticket)
    continuous_effort.after_filing(ticket, actor=filed_by)
    return ticket


@atomic_with_files
def post_reply(
    ticket: Ticket,
    *,
    author: User,
    body: str,
    internal: bool = False,
    uploads: list[UploadedFile] | None = None,
    via_email: bool = False,
) -> Message:
    """Add a public reply or an internal note, with attachments, and notify.

    A customer's reply to a ticket waiting on them reopens it; an agent's first public
    reply records the first response and moves a new ticket to open. Internal notes
    are for agents only and never count as a response.
    """
    # The people and the organisation come with the locked row (only the ticket
    # row is locked): the licence check and the notification read them.
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("organization", "requester", "assignee")
        .get(pk=ticket.pk)
    )
    is_agent = author.is_staff
    if not is_agent:
        decision = may_file_tickets(
            author, ticket.organization, today=timezone.localdate()
        )
        if not decision:
            raise ValidationError(decision.reason, code="not_allowed")
        if internal:
            raise ValidationError("Only agents may write internal notes.")
    if ticket.status == Ticket.Status.CLOSED:
        raise ValidationError(
            "This ticket is closed. If the problem is back, please file a new ticket "
            "and mention this one."
        )
    errors = secret_errors({"body": body})
    if not body.strip():
        errors.setdefault("body", []).append("Write a reply.")
    try:
        checked = check_uploads(uploads or [])
    except ValidationError as exc:
        errors["attachments"] = exc.messages
    if errors:
        raise ValidationError(errors)

    message = Message(
        ticket=ticket,
        author=author,
        body=body,
        visibility=Message.Visibility.INTERNAL
        if internal
        else Message.Visibility.PUBLIC,
        is_from_email=via_email,  # helpdesk.mail: the ticket page marks it
    )
    message._history_user = author
    message.save()
    _store_attachments(ticket, message, checked, uploaded_by=author)

    # What counts as a response is explicit: a public agent reply, never a note.
    is_response = is_agent and not internal
    is_first_response = is_response and ticket.first_responded_at is None
    reopens = (is_response and ticket.status == Ticket.Status.NEW) or (
        not is_agent and ticket.status == Ticket.Status.WAITING_ON_CUSTOMER
    )
    if is_first_response or reopens:
        with clocks.sweep_held():  # once for both clock transitions
            if is_first_response:
                ticket.first_responded_at = message.created_at
                ticket._history_user = author
                ticket.save(update_fields=["first_responded_at", "updated_at"])
                clocks.record_response(ticket, at=message.created_at, actor=author)
            if reopens:
                # The row is locked above: no need to read it again.
                _move_status(ticket, Ticket.Status.OPEN, actor=author)

    if not internal:
        _notify_reply(ticket, message)
    return message


@transaction.atomic
def change_status(
    ticket: Ticket, status: str, *, actor: User, now: datetime | None = None
) -> Ticket:
    """Move the ticket along its lifecycle, or raise IllegalTransition."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    return _move_status(ticket, status, actor=actor, now=now)


def _move_status(
    ticket: Ticket, status: str, *, actor: User, now: datetime | None = None
) -> Ticket:
    """``change_status`` of a ticket row the caller read and locked."""
    lifecycle.check_transition(ticket.status, status)
    if ticket.is_escalated and status in lifecycle.ENDS:
        from helpdesk import escalations  # it posts events through this module

        escalations.refuse_ending(ticket, status)
    now = now or timezone.now()
    old = ticket.status
    ticket.status = status
    fields = ["status", "updated_at"]
    if status == Ticket.Status.RESOLVED:
        ticket.resolved_at = now
        fields.append("resolved_at")
    elif status == Ticket.Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    elif ticket.resolved_at is not None:  # reopened
        ticket.resolved_at = None
        fields.append("resolved_at")
    ticket._history_user = actor
    ticket.save(update_fields=fields)
    clocks.on_status_change(ticket, old, status, at=now, actor=actor)
    return ticket


@atomic_with_files
def reopen_ticket(ticket: Ticket, *, actor: User, reason: str) -> Ticket:
    """Reopen a resolved ticket (the same ticket, its history kept), with the
    customer's reason as a public reply."""
    if ticket.status != Ticket.Status.RESOLVED:
        lifecycle.check_transition(ticket.status, Ticket.Status.OPEN)
    if not reason.strip():
        raise ValidationError({"body": ["Say why the problem is not solved."]})
    ticket = change_status(ticket, Ticket.Status.OPEN, actor=actor)
    post_reply(ticket, author=actor, body=reason)
    return ticket


def validate_assignment(ticket: Ticket, assignee: User | None) -> None:
    """Raise ValidationError (at ``assignee``) unless ``assignee`` may take the
    ticket: an agent, and never nobody for a ticket owed continuous effort."""
    if assignee is not None and not assignee.is_staff:
        raise ValidationError({"assignee": ["Only agents can be assigned tickets."]})
    if assignee is None and continuous_effort.obligation_active(ticket):
        raise ValidationError(
            {
                "assignee": [
                    f"{ticket.reference} is worked around the clock "
                    f"({ticket.severity}): it always has an assignee. Assign "
                    "someone else instead."
                ]
            }
        )


@transaction.atomic
def assign_ticket(ticket: Ticket, assignee: User | None, *, actor: User) -> Ticket:
    """Assign the ticket (or unassign it) and tell the new assignee. A ticket owed
    continuous effort (Sev1) always keeps an assignee."""
    validate_assignment(ticket, assignee)
    ticket.assignee = assignee
    ticket._history_user = actor
    ticket.save(update_fields=["assignee", "updated_at"])
    clocks.follow_assignee(ticket)
    routing.notify_assignee(ticket, actor=actor)
    return ticket


# The ticket's details an agent may edit in the console; the summary, description,
# severity and environment are the customer's words or have their own workflow.
DETAIL_FIELDS = (
    "component",
    "steps_to_reproduce",
    "urls",
    "app_ids",
    "client_ids",
    "customer_contact",
)


def validate_ticket_details(ticket: Ticket, changes: dict[str, str]) -> None:
    """Raise one ValidationError naming each field that may not take its new value."""
    errors: dict[str, list[str]] = {
        name: ["This field is not edited here."]
        for name in changes
        if name not in DETAIL_FIELDS
    }
    errors |= secret_errors(changes)
    if "component" in changes and ticket.severity is not None:
        cap = severity_cap_error(
            ticket.plan, changes["component"], ticket.severity, ticket.product
        )
        if cap:
            errors.setdefault("component", []).append(
                f"{cap} Lower the severity first."
            )
    if (
        "customer_contact" in changes
        and ticket.severity.requires_customer_contact
        and not changes["customer_contact"].strip()
    ):
        errors.setdefault("customer_contact", []).append(
            f"{ticket.severity} needs a named contact at the customer."
        )
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def update_ticket_details(
    ticket: Ticket, changes: dict[str, str], *, actor: User
) -> Ticket:
    """Store an agent's edit of the ticket's details, with history and an event in
    the conversation; raise PermissionDenied or ValidationError and store nothing."""
    if not actor.has_perm("helpdesk.change_ticket"):
        raise PermissionDenied("You may not edit tickets.")
    ticket = (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("plan", "severity")
        .get(pk=ticket.pk)
    )
    changes = {k: v for k, v in changes.items() if getattr(ticket, k, None) != v}
    if not changes:
        return ticket
    validate_ticket_details(ticket, changes)
    for name, value in changes.items():
        setattr(ticket, name, value)
    ticket._history_user = actor
    ticket.save(update_fields=[*changes, "updated_at"])
    labels = ", ".join(
        str(Ticket._meta.get_field(name).verbose_name) for name in changes
    )
    post_event(ticket, actor, f"{actor} edited the ticket's details: {labels}.")
    return ticket


@transaction.atomic
def set_tam_routed(ticket: Ticket, is_tam_routed: bool, *, actor: User) -> Ticket:
    """Mark or unmark the ticket as routed to the customer's TAM (its TAM SLO)."""
    if not actor.has_perm("helpdesk.change_ticket"):
        raise PermissionDenied("You may not edit tickets.")
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket.is_tam_routed = is_tam_routed
    ticket._history_user = actor
    ticket.save(update_fields=["is_tam_routed", "updated_at"])
    return ticket


def post_event(ticket: Ticket, actor: User, body: str) -> Message:
    """Show a change (severity, escalation) in the customer's conversation: public,
    never a response, never mailed as a reply."""
    message = Message(
        ticket=ticket, author=actor, body=body, visibility=Message.Visibility.EVENT
    )
    message._history_user = actor
    message.save()
    return message


def _apply_tam_slo(ticket: Ticket, *, now: datetime, actor: User) -> None:
    """A TAM-routed deployment ticket carries the TAM SLO (4 business hours on the
    TAM's calendar) while the month's hours remain; after that it is best effort."""
    organization = ticket.organization
    if tam_routing.tam_due_for(organization, now) is None:
        clocks.make_best_effort(
            ticket, at=now, note="TAM hours for the month are used up", actor=actor
        )
        return
    clocks.use_target(
        ticket,
        clocks.Metric.FIRST_RESPONSE,
        calendar=tam_routing.tam_calendar(ticket.assignee),
        target=tam_routing.TAM_RESPONSE,
        label=clocks.TAM_LABEL,
        at=now,
        actor=actor,
    )


_FILING_ROWS = ("organization", "requester", "filed_by", "plan", "severity")


def _next_reference() -> str:
    # The row lock serialises concurrent filings; a rollback returns the number.
    prefix = settings.HELPDESK_REFERENCE_PREFIX
    if connection.features.can_return_columns_from_insert:
        # PostgreSQL and SQLite 3.35+: bump and read in one statement.
        opts = TicketSequence._meta
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(opts.db_table)} SET {quote('last_number')} = "
                f"{quote('last_number')} + 1 WHERE {quote(opts.pk.column)} = %s "
                f"RETURNING {quote('last_number')}",
                [prefix],
            )
            row = cursor.fetchone()
        if row is not None:
            return f"{prefix}-{row[0]:06d}"
    sequence, _ = TicketSequence.objects.select_for_update().get_or_create(name=prefix)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{prefix}-{sequence.last_number:06d}"


def _store_attachments(
    ticket: Ticket,
    message: Message | None,
    checked: list[CheckedUpload],
    *,
    uploaded_by: User,
) -> None:
    for item in checked:
        attachment = Attachment(
            ticket=ticket,
            message=message,
            original_name=(item.upload.name or "file")[-200:],
            content_type=item.content_type,
            size=item.size,
            uploaded_by=uploaded_by,
        )
        attachment.file.save(item.upload.name or "file", item.upload, save=False)
        saved = _saved_files.get(None)
        if saved is not None:
            saved.append((attachment.file.storage, attachment.file.name))
        attachment.save()


def _notify_reply(ticket: Ticket, message: Message) -> None:
    if message.author.is_staff:
        recipients = [ticket.requester]
    else:
        recipients = [ticket.assignee] if ticket.assignee else []
    for recipient in recipients:
        if recipient == message.author:
            continue
        queue_email(
            key=f"reply:{message.pk}:{recipient.pk}",
            to=recipient.email,
            template="reply_posted",
            context={"recipient": recipient, "message": message},
            ticket=ticket,
        )
