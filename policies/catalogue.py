"""A plan's product catalogue (SPEC §6, issue 15 §3.2): which entry a text names,
and which capped products a text mentions.

Caps apply to catalogue entries, not to what someone typed: ".NET Core", ".net",
"MS SQL", "MSSQL" and "SQL Server" all name a Jelastic entry capped at Level 2. The
matching is plain text work (no ORM); the callers pass the entries they loaded.

    >>> mentions("Our MSSQL cluster is down", [entry_ms_sql])   # doctest: +SKIP
    [entry_ms_sql]
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.models import CatalogueEntry, Severity, SeverityCap, SupportPlan

# Between the parts of a name people write a space, a hyphen, a dot, an underscore
# or nothing: "MS SQL", "MS-SQL", "MSSQL" and "ms_sql" are one name.
_JOIN = r"[\s\-_.]*"
_PART = re.compile(r"[^\W_]+", re.UNICODE)


def normalise(name: str) -> str:
    """Return ``name`` without case, spaces or punctuation: "MS-SQL" -> "mssql"."""
    return "".join(_PART.findall(name.casefold()))


@lru_cache(maxsize=512)
def _pattern(name: str) -> re.Pattern[str] | None:
    """A pattern that finds ``name`` as a whole word in free text, with any of the
    separators above between its parts. A leading dot is kept (".net" is not the
    word "net"); a name that starts with a letter must start a word."""
    parts = _PART.findall(name.casefold())
    if not parts:
        return None
    body = _JOIN.join(re.escape(part) for part in parts)
    # "ASP.NET" and ".NET" both contain ".net"; "MSSQL" must start a word.
    head = r"\." if name.strip().startswith(".") else r"(?<![^\W_])"
    return re.compile(head + body + r"(?![^\W_])", re.UNICODE)


def matches(text: str, entry: CatalogueEntry) -> bool:
    """Return whether free ``text`` names ``entry`` (its name or an alias)."""
    folded = text.casefold()
    for name in entry.names:
        pattern = _pattern(name)
        if pattern is not None and pattern.search(folded):
            return True
    return False


def resolve(text: str, entries: Iterable[CatalogueEntry]) -> CatalogueEntry | None:
    """Return the entry ``text`` names exactly (ignoring case and punctuation), or
    the first entry it mentions, or None."""
    wanted = normalise(text)
    if not wanted:
        return None
    entries = list(entries)
    for entry in entries:
        if any(normalise(name) == wanted for name in entry.names):
            return entry
    return next((entry for entry in entries if matches(text, entry)), None)


def mentions(text: str, entries: Iterable[CatalogueEntry]) -> list[CatalogueEntry]:
    """Return every entry that free ``text`` mentions, in catalogue order."""
    if not text.strip():
        return []
    return [entry for entry in entries if matches(text, entry)]


@dataclass(frozen=True)
class CapWarning:
    """A capped product mentioned in a ticket's text while the ticket is filed more
    severe than the cap allows: the agent is told, the customer's text stays."""

    entry_name: str
    max_level: int
    field: str

    def __str__(self) -> str:
        return (
            f"The {self.field} mentions {self.entry_name}, which is capped at "
            f"Level {self.max_level}: check the product and the severity."
        )


def cap_for(
    plan: SupportPlan, entry: CatalogueEntry | None, severity: Severity | None
) -> SeverityCap | None:
    """Return the cap of ``entry`` that refuses ``severity`` on ``plan``, or None."""
    if entry is None or severity is None:
        return None
    for cap in plan.caps.all():
        if cap.entry_id == entry.pk and cap.refuses(severity.level):
            return cap
    return None


def capped_mentions(
    plan: SupportPlan,
    severity: Severity | None,
    texts: dict[str, str],
    *,
    chosen: CatalogueEntry | None = None,
) -> list[CapWarning]:
    """Return a warning for each capped entry named in ``texts`` (field label ->
    text) whose cap ``severity`` exceeds; the chosen product is refused elsewhere,
    so it is not repeated here."""
    if severity is None:
        return []
    capped = {cap.entry_id: cap for cap in plan.caps.all() if cap.entry_id}
    if not capped:
        return []
    entries = [entry for entry in plan.catalogue.all() if entry.pk in capped]
    warnings = []
    for label, text in texts.items():
        for entry in mentions(text, entries):
            cap = capped[entry.pk]
            if cap.refuses(severity.level) and entry != chosen:
                warnings.append(CapWarning(entry.name, cap.max_level, label))
    return warnings
