"""Canned replies ("macros"): saved texts with placeholders, filled from a ticket.

Placeholders are filled by plain substitution: ``{reference}`` is replaced by the
ticket's reference and nothing in a macro is ever executed (no template language, no
attribute access, no format specs). A placeholder that is not in :data:`PLACEHOLDERS`
is refused when the macro is saved; one that stops being known later is left visible
(``{gone}``) in the filled text, so the agent sees it before sending.

Shared macros (no owner) are offered to every agent and written only by those who
hold ``helpdesk.share_macro`` (Support Managers: a shared text speaks for the whole
support organisation to every customer, so its wording is theirs to own); personal
ones by their owner. Every write goes through :func:`save_macro` or
:func:`delete_macro`, which check who asks.

>>> fill("Hello {requester_first_name}, about {reference}: {nope}",
...      {"requester_first_name": "Ada", "reference": "HD-000042"})
'Hello Ada, about HD-000042: {nope}'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils.formats import date_format

from helpdesk import lifecycle
from helpdesk.models import Macro, Ticket
from helpdesk.secrets_guard import secret_errors

if TYPE_CHECKING:
    from accounts.models import User

SHARE_PERMISSION = "helpdesk.share_macro"
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def _customer_instant(at: datetime | None, ticket: Ticket) -> str:
    """An instant as the customer reads it: in their organisation's zone, named."""
    if at is None:
        return "no target"
    local = at.astimezone(ZoneInfo(ticket.organization.time_zone))
    return f"{date_format(local, 'D j M Y, H:i')} {local.tzname()}"


# name -> (what it is, how to read it from the ticket and the sending agent)
PLACEHOLDERS: dict[str, tuple[str, Callable[[Ticket, User], str]]] = {
    "requester_first_name": (
        "the requester's first name",
        lambda t, a: t.requester.get_short_name(),
    ),
    "requester_name": ("the requester's full name", lambda t, a: str(t.requester)),
    "reference": ("the ticket's reference, e.g. HD-000123", lambda t, a: t.reference),
    "summary": ("the ticket's summary", lambda t, a: t.summary),
    "organization": ("the customer's organisation", lambda t, a: str(t.organization)),
    "severity": (
        "the ticket's severity",
        lambda t, a: str(t.severity) if t.severity_id else "no severity",
    ),
    "status": ("the ticket's status", lambda t, a: t.get_status_display()),
    "plan": ("the customer's support plan", lambda t, a: str(t.plan)),
    "first_response_due_at": (
        "when the first response is due, in the customer's zone",
        lambda t, a: _customer_instant(t.first_response_due_at, t),
    ),
    "resolution_due_at": (
        "when the resolution is due, in the customer's zone",
        lambda t, a: _customer_instant(t.resolution_due_at, t),
    ),
    "agent_first_name": (
        "your first name",
        lambda t, a: a.get_short_name(),
    ),
    "agent_name": ("your full name", lambda t, a: str(a)),
}


def placeholders_in(text: str) -> list[str]:
    """Return the placeholder names in ``text``, in order, each once."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def unknown_placeholders(text: str) -> list[str]:
    return [name for name in placeholders_in(text) if name not in PLACEHOLDERS]


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each ``{name}`` with ``values[name]``; leave unknown ones visible.

    One pass over the text: a value that itself contains ``{reference}`` (a summary
    a customer wrote) is not filled again.
    """
    return PLACEHOLDER.sub(
        lambda match: values.get(match.group(1), match.group(0)), text
    )


def values_for(ticket: Ticket, agent: User, names: list[str]) -> dict[str, str]:
    """The values of the placeholders ``names`` for ``ticket`` sent by ``agent``."""
    return {
        name: PLACEHOLDERS[name][1](ticket, agent)
        for name in names
        if name in PLACEHOLDERS
    }


@dataclass(frozen=True)
class Prepared:
    """A macro filled for one ticket, ready for the composer."""

    macro: Macro
    body: str
    then_status: str  # "" when the macro sets none or the ticket may not move there
    note: str  # why the macro's status is not offered, if it is not

    @property
    def then_label(self) -> str:
        return Ticket.Status(self.then_status).label if self.then_status else ""

    def as_json(self) -> dict:
        return {
            "id": self.macro.pk,
            "name": self.macro.name,
            "shared": self.macro.is_shared,
            "body": self.body,
            "then_status": self.then_status,
            "then_label": self.then_label,
            "note": self.note,
        }


def prepare(macro: Macro, ticket: Ticket, *, agent: User) -> Prepared:
    """Fill ``macro`` for ``ticket`` and say which status sending it sets."""
    body = fill(macro.body, values_for(ticket, agent, placeholders_in(macro.body)))
    then, note = macro.then_status, ""
    if then and then not in lifecycle.allowed_next(ticket.status):
        note = (
            f"This canned reply sets the status to "
            f"{Ticket.Status(then).label.lower()}, which a ticket that is "
            f"{ticket.get_status_display().lower()} cannot move to: it is sent "
            f"without changing the status."
        )
        then = ""
    return Prepared(macro=macro, body=body, then_status=then, note=note)


# --- who sees and writes which macros ----------------------------------------------


def visible_to(user: User) -> QuerySet[Macro]:
    """The macros ``user`` may use: the shared ones and their own."""
    if not user.has_perm("helpdesk.view_macro"):
        return Macro.objects.none()
    return Macro.objects.filter(Q(owner__isnull=True) | Q(owner=user))


def search(user: User, query: str = "") -> QuerySet[Macro]:
    """The macros ``user`` may use whose name or text contains ``query``."""
    found = visible_to(user)
    query = query.strip()
    if query:
        found = found.filter(Q(name__icontains=query) | Q(body__icontains=query))
    # Personal ones first: an agent's own wording wins over the house text.
    return found.order_by(F("owner").asc(nulls_last=True), "name", "pk")


def may_share(user: User) -> bool:
    return user.has_perm(SHARE_PERMISSION)


def may_change(user: User, macro: Macro) -> bool:
    """Whether ``user`` may edit or delete ``macro``."""
    if macro.is_shared:
        return may_share(user) and user.has_perm("helpdesk.change_macro")
    return macro.owner_id == user.pk and user.has_perm("helpdesk.change_macro")


def content_errors(macro: Macro) -> dict[str, list[str]]:
    """What is wrong with the macro's text: unknown placeholders, secrets."""
    errors: dict[str, list[str]] = {}
    unknown = unknown_placeholders(macro.body)
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        errors["body"] = [
            f"Unknown placeholder{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(f'{{{name}}}' for name in unknown)}. Use one of: {known}."
        ]
    for name, messages in secret_errors(
        {"name": macro.name, "body": macro.body}
    ).items():
        errors.setdefault(name, []).extend(messages)
    return errors


def validate(macro: Macro) -> None:
    """Raise a ValidationError naming each field that may not be stored."""
    errors = content_errors(macro)
    try:
        macro.full_clean()
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def save_macro(macro: Macro, *, shared: bool, actor: User) -> Macro:
    """Store a new or edited macro, shared or as ``actor``'s own.

    Refused (PermissionDenied) unless ``actor`` may write it: their own macros with
    the add/change permission, shared ones with ``helpdesk.share_macro`` too. An
    existing macro keeps its owner unless a sharer shares it or takes it private.
    """
    is_new = macro.pk is None
    if is_new:
        if not actor.has_perm("helpdesk.add_macro"):
            raise PermissionDenied("You may not add canned replies.")
    else:
        stored = Macro.objects.select_for_update().get(pk=macro.pk)
        if not may_change(actor, stored):
            raise PermissionDenied("You may not change this canned reply.")
    if shared and not may_share(actor):
        raise PermissionDenied("Only Support Managers share canned replies.")
    if is_new or shared or macro.is_shared:
        macro.owner = None if shared else actor
    validate(macro)
    macro._history_user = actor
    macro.save()
    return macro


@transaction.atomic
def delete_macro(macro: Macro, *, actor: User) -> None:
    if not (may_change(actor, macro) and actor.has_perm("helpdesk.delete_macro")):
        raise PermissionDenied("You may not delete this canned reply.")
    macro._history_user = actor
    macro.delete()
