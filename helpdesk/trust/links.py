"""Which tickets an agent means when they type references to link to an incident.

``"HD-000123, hd-7 124"`` names HD-000123, HD-000007 and HD-000124 (the console's
search reads each one, ``helpdesk.console.search.parse``). Anything that is not a
reference, or names no ticket, is refused by name and nothing is linked.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from helpdesk.console import search
from helpdesk.models import Ticket

MAX_REFERENCES = 100  # at once: a paste of a whole report is a mistake
_SEPARATORS = re.compile(r"[\s,;]+")


def parse_references(text: str) -> tuple[list[str], list[str]]:
    """Return the normalised references in ``text`` (in order, each once) and the
    words that are no reference.

    ``"hd-7, HD-000007 x"`` -> (["HD-000007"], ["x"]).
    """
    references: list[str] = []
    bad: list[str] = []
    for word in _SEPARATORS.split(text or ""):
        if not word:
            continue
        reference = search.parse(word).reference
        if reference is None:
            bad.append(word)
        elif reference not in references:
            references.append(reference)
    return references, bad


def tickets_named(text: str) -> list[Ticket]:
    """Return the tickets ``text`` names, in its order; raise ValidationError
    naming every word that is no reference or no ticket."""
    references, bad = parse_references(text)
    errors = [f"“{word[:40]}” is not a ticket reference." for word in bad]
    if len(references) > MAX_REFERENCES:
        errors.append(f"Link at most {MAX_REFERENCES} tickets at once.")
        references = []
    found = {t.reference: t for t in Ticket.objects.filter(reference__in=references)}
    errors += [f"There is no ticket {ref}." for ref in references if ref not in found]
    if errors:
        raise ValidationError(errors)
    return [found[ref] for ref in references]
