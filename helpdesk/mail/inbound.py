"""The one pipeline every door (IMAP, maildir, ``manage.py receive_mail``) hands raw
bytes to: ``process_message(raw)``.

What a message becomes (SPEC §8a):

- a reply to its ticket (threaded by Message-ID, else the ``[HD-000123]`` subject
  token), quoted history stripped, posted through ``services.post_reply`` (so clocks,
  status and notifications behave as for a portal reply; a resolved ticket is
  reopened first, as the portal does);
- an escalation of that ticket when the escalations address is in To or Cc
  (``escalations.request_escalation``, the body as the reason);
- a new ticket (``services.open_ticket``) from a named Support Administrator, with
  the plan's default severity, the subject as summary and environment "production"
  unless the subject or body says deployment (ENVIRONMENT_RULE);
- refused, with one polite automatic answer saying why (``autoreply``), and nothing
  of its text stored; ignored when a machine sent it; failed when unreadable.

Each message is recorded once (``InboundMessage``'s unique Message-ID and content
hash) in the transaction that acts on it: a second delivery fails that insert and
is reported as a duplicate, whichever worker or door sees it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, IntegrityError, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts.models import Organization, User
from helpdesk import escalations, services
from helpdesk.mail import autoreply, parsing, replies, threading
from helpdesk.mail.models import InboundMessage
from helpdesk.models import Message, Ticket
from helpdesk.secrets_guard import find_secrets

logger = logging.getLogger(__name__)

Outcome = InboundMessage.Outcome
DUPLICATE = "duplicate"

# A new ticket is about a deployment when its subject or body says so.
ENVIRONMENT_RULE = re.compile(
    r"\b(deployment|deploying|non-production|staging environment)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class InboundResult:
    """What ``process_message`` did: ``outcome`` is an ``InboundMessage.Outcome``
    or "duplicate"; ``reason`` says why it was refused, ignored or failed."""

    outcome: str
    reason: str = ""
    ticket_reference: str = ""
    inbound_id: int | None = None
    auto_replied: bool = False

    @property
    def is_accepted(self) -> bool:
        """Whether the message belongs in the processed folder (else: failed)."""
        return self.outcome not in {Outcome.REFUSED, Outcome.FAILED}


class _Refusal(Exception):
    def __init__(self, reason: str, ticket: Ticket | None = None):
        super().__init__(reason)
        self.reason = reason
        self.ticket = ticket


def our_addresses() -> tuple[str, ...]:
    from email.utils import parseaddr

    return tuple(
        {
            settings.HELPDESK_SUPPORT_ADDRESS.lower(),
            settings.HELPDESK_ESCALATIONS_ADDRESS.lower(),
            parseaddr(settings.DEFAULT_FROM_EMAIL)[1].lower(),
        }
        - {""}
    )


def process_message(
    raw: bytes, *, source: str = InboundMessage.Source.PIPE, now: datetime | None = None
) -> InboundResult:
    """Act on one e-mail exactly once and return what was done.

    Raise only when the database cannot be used (the door keeps the message for
    the next attempt); every other problem is an outcome.
    """
    now = now or timezone.now()
    digest = hashlib.sha256(raw).hexdigest()
    ours = our_addresses()
    limit = settings.HELPDESK_INBOUND_MAX_BYTES
    if len(raw) > limit:
        head = parsing.headers_only(raw, our_addresses=ours)
        return _record_unread(
            raw,
            digest,
            source,
            now,
            sender=head.sender if head else "",
            subject=head.subject if head else "",
            message_id=head.message_id if head else "",
            no_auto_reply=head.no_auto_reply if head else "unreadable headers",
            outcome=Outcome.REFUSED,
            reason=f"Your e-mail is {filesizeformat(len(raw))}; we accept e-mails "
            f"of at most {filesizeformat(limit)}. Attach smaller files, or add them "
            "in the portal.",
        )
    try:
        mail = parsing.parse(raw, our_addresses=ours)
    except parsing.MalformedMail as exc:
        return _record_unread(
            raw,
            digest,
            source,
            now,
            outcome=Outcome.FAILED,
            reason=f"Unreadable: {exc}.",
        )
    try:
        with transaction.atomic():
            inbound = _claim(mail, digest, source, now)
            if inbound is None:
                return InboundResult(DUPLICATE, "already processed")
            return _act(mail, raw, inbound, now=now, ours=ours)
    except DatabaseError:
        raise
    except Exception as exc:
        # A bug must not stop the batch behind it: record the failure (outside the
        # rolled-back transaction) so an agent sees it.
        logger.exception("inbound e-mail %s failed", mail.message_id or digest[:12])
        return _record_unread(
            raw,
            digest,
            source,
            now,
            sender=mail.sender,
            subject=mail.subject,
            message_id=mail.message_id,
            outcome=Outcome.FAILED,
            reason=f"Could not be processed: {type(exc).__name__}: {exc}",
        )


def _claim(
    mail: parsing.ParsedMail, digest: str, source: str, now: datetime
) -> InboundMessage | None:
    """Insert the message's row, or return None when it was processed before: the
    unique constraints decide, not a read before the insert."""
    inbound = InboundMessage(
        message_id=mail.message_id,
        content_sha256=digest,
        received_at=now,
        source=source,
        sender=mail.sender[:254],
        subject=_safe_subject(mail.subject),
        outcome=Outcome.FAILED,
    )
    try:
        with transaction.atomic():
            inbound.save()
    except IntegrityError:
        return None
    return inbound


def _act(
    mail: parsing.ParsedMail,
    raw: bytes,
    inbound: InboundMessage,
    *,
    now: datetime,
    ours: tuple[str, ...],
) -> InboundResult:
    if mail.automatic:
        inbound.outcome, inbound.reason = Outcome.IGNORED, mail.automatic
        inbound.save(update_fields=["outcome", "reason"])
        return _result(inbound)
    try:
        # A savepoint: a refused service call leaves nothing behind but the row.
        with transaction.atomic():
            _accept(mail, inbound, now=now)
            inbound.original.save(f"{inbound.pk}.eml", ContentFile(raw), save=False)
    except _Refusal as refusal:
        inbound.outcome, inbound.reason = Outcome.REFUSED, refusal.reason
        inbound.ticket = refusal.ticket
        inbound.original = ""
        why_not = autoreply.reason_not_to_answer(
            mail.sender, mail.no_auto_reply, now=now, our_addresses=ours
        )
        if why_not:
            inbound.reason += f" (Not answered: {why_not}.)"
        else:
            autoreply.answer_refusal(inbound, now=now)
    inbound.save()
    return _result(inbound)


def _accept(mail: parsing.ParsedMail, inbound: InboundMessage, *, now) -> None:
    """File, answer or escalate; raise _Refusal with the reason in words."""
    user = (
        User.objects.filter(email__iexact=mail.sender, is_active=True)
        .order_by("pk")
        .first()
    )
    escalate = settings.HELPDESK_ESCALATIONS_ADDRESS.lower() in mail.recipients
    ticket = threading.find_ticket(mail)
    if user is not None and user.is_staff:
        raise _Refusal(
            "Agents answer tickets in the agent console; e-mail from agents is not "
            "added to tickets."
        )
    if user is None:
        raise _Refusal(
            f"We do not know the address {mail.sender}. Only the named Support "
            "Administrators of our customers can write to support by e-mail."
        )
    if ticket is None:
        if escalate:
            raise _Refusal(
                "To escalate a ticket, reply to the last e-mail you received about "
                "it and copy the escalations address; we could not tell which "
                "ticket this e-mail is about."
            )
        _file(mail, inbound, user)
        return
    if not ticket.organization.administrators.filter(user=user).exists():
        # Say nothing about the ticket: it is another organisation's.
        raise _Refusal(
            "This e-mail answers a ticket of an organisation you are not a named "
            "Support Administrator of, so it was not added."
        )
    body = replies.latest_reply(mail.text)
    try:
        if escalate and not ticket.is_escalated:
            escalations.request_escalation(
                ticket, actor=user, reason=body or mail.subject, now=now
            )
            inbound.outcome = Outcome.ESCALATED
        else:
            inbound.ticket_message = _reply(ticket, user, body, mail)
            inbound.outcome = Outcome.REPLIED
    except ValidationError as exc:
        raise _Refusal(_words(exc), ticket) from None
    inbound.ticket = ticket


@services.atomic_with_files
def _reply(ticket: Ticket, user: User, body: str, mail: parsing.ParsedMail) -> Message:
    """Post the reply; a resolved ticket is reopened first, as the portal does."""
    if not body and mail.attachments:
        body = "(Sent by e-mail with attachments only.)"
    if ticket.status == Ticket.Status.RESOLVED:
        services.change_status(ticket, Ticket.Status.OPEN, actor=user)
    return services.post_reply(
        ticket,
        author=user,
        body=body,
        uploads=_uploads(mail),
        via_email=True,
    )


def _file(mail: parsing.ParsedMail, inbound: InboundMessage, user: User) -> None:
    organization = organization_for(user, mail.sender_domain)
    if organization is None:
        raise _Refusal(
            f"{mail.sender} is not a named Support Administrator of any of our "
            "customers, so we cannot open a ticket from this e-mail."
        )
    body = replies.latest_reply(mail.text)
    summary = _summary(mail.subject) or body.split("\n", 1)[0][:200]
    if not summary:
        raise _Refusal("Your e-mail had neither a subject nor any text.")
    draft = services.TicketDraft(
        summary=summary,
        description=body or summary,
        environment=environment_of(mail.subject, body),
        uploads=_uploads(mail),
    )
    try:
        ticket = services.open_ticket(
            organization, draft, requester=user, filed_by=user
        )
    except ValidationError as exc:
        raise _Refusal(_words(exc)) from None
    inbound.ticket = ticket
    inbound.outcome = Outcome.CREATED


def organization_for(user: User, domain: str) -> Organization | None:
    """Return the organisation a new ticket from ``user`` is for: the only one they
    administer; of several, the one whose slug is a label of the sender's domain
    (``acme`` for ada@acme.example), else the one they filed for last."""
    organizations = list(
        Organization.objects.filter(administrators__user=user).order_by("name", "pk")
    )
    if len(organizations) <= 1:
        return organizations[0] if organizations else None
    labels = set(domain.lower().split("."))
    for organization in organizations:
        if organization.slug.lower() in labels:
            return organization
    last = (
        Ticket.objects.filter(requester=user, organization__in=organizations)
        .order_by("-created_at", "-pk")
        .values_list("organization_id", flat=True)
        .first()
    )
    return next((o for o in organizations if o.pk == last), organizations[0])


def environment_of(subject: str, body: str) -> str:
    """Return "deployment" when the subject or body says so, else "production"."""
    if ENVIRONMENT_RULE.search(f"{subject}\n{body}"):
        return Ticket.Environment.DEPLOYMENT
    return Ticket.Environment.PRODUCTION


def _summary(subject: str) -> str:
    subject = re.sub(r"^\s*((re|fwd?|aw|wg|sv|tr)\s*:\s*)+", "", subject, flags=re.I)
    return subject.strip()[:200]


def _uploads(mail: parsing.ParsedMail) -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(item.name, item.data, content_type=item.content_type)
        for item in mail.attachments
    ]


def _words(exc: ValidationError) -> str:
    return " ".join(dict.fromkeys(exc.messages))


def _safe_subject(subject: str) -> str:
    if find_secrets(subject):
        return "(subject withheld: it contained what looks like a key or secret)"
    return subject[:250]


def _result(inbound: InboundMessage) -> InboundResult:
    ticket = inbound.ticket
    return InboundResult(
        outcome=inbound.outcome,
        reason=inbound.reason,
        ticket_reference=ticket.reference if ticket else "",
        inbound_id=inbound.pk,
        auto_replied=inbound.auto_replied_at is not None,
    )


def _record_unread(
    raw: bytes,
    digest: str,
    source: str,
    now: datetime,
    *,
    outcome: str,
    reason: str,
    sender: str = "",
    subject: str = "",
    message_id: str = "",
    no_auto_reply: str = "",
) -> InboundResult:
    """Record a message that was not acted on (too large, unreadable, or failed),
    once; answer a refusal when there is someone to answer."""
    with transaction.atomic():
        inbound = InboundMessage(
            message_id=message_id,
            content_sha256=digest,
            received_at=now,
            source=source,
            sender=sender[:254],
            subject=_safe_subject(subject),
            outcome=outcome,
            reason=reason,
        )
        try:
            with transaction.atomic():
                inbound.save()
        except IntegrityError:
            return InboundResult(DUPLICATE, "already processed")
        if outcome == Outcome.REFUSED:
            ours = our_addresses()
            if not autoreply.reason_not_to_answer(
                sender, no_auto_reply, now=now, our_addresses=ours
            ):
                autoreply.answer_refusal(inbound, now=now)
                inbound.save(update_fields=["auto_replied_at"])
    return _result(inbound)
