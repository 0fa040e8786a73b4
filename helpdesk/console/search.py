"""The console's search box: a reference, an organisation, or words.

- A term that looks like a reference (``HD-000123``, ``hd-123``, ``000123``,
  ``123``) is one equality lookup on the unique reference index; nothing else.
  Put a number in quotes (``"500"``) to look for it in the text instead.
- Otherwise the tickets whose organisation's name starts with the term (or whose
  slug is it), or whose summary, description or conversation (public replies,
  internal notes, events) has all its words.
  - PostgreSQL: one ``tsvector`` per ticket in ``helpdesk_ticket_search`` (summary
    weighted A, description B, conversation C, and the organisation's name and
    slug as verbatim lexemes marked "=", ``'=acme'``), kept by triggers, with a GIN
    index. The term is ``websearch_to_tsquery`` (all words; ``"a phrase"``, ``or``
    and ``-word`` work) or a prefix match of all its words on the organisation.
    Being one condition, the planner reads the GIN index for a rare word and walks
    the urgency order for a common one, stopping at a page.
  - SQLite: FTS5 tables over tickets and messages, kept by triggers, and a LIKE on
    the organisations (a few thousand rows).
  Both live in the database only (the console migration creates them for its own
  vendor); no model, form or history row carries them.
- Up to ``RANK_LIMIT`` matches are ranked (words in the summary above words in the
  description, above the conversation and the organisation) and then by urgency.
  Past that, ranking would read every match: the list keeps its urgency order and
  says so (``helpdesk.console.paginator``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import Expression, F, FloatField, QuerySet
from django.db.models.expressions import OrderBy, RawSQL

from accounts.models import Organization
from helpdesk.models import Message, Ticket

CONFIG = "english"  # the PostgreSQL text search configuration of the migration
# Column weights for SQLite's bm25(): summary, description.
BM25_WEIGHTS = (10.0, 1.0)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_LENGTH = 200  # of a search term: longer text is cut there
RANK_LIMIT = 1_000  # matches ranked by relevance; more keep the urgency order
SEARCH_TABLE = "helpdesk_ticket_search"


@dataclass(frozen=True)
class Term:
    text: str
    reference: str | None  # the normalised reference it names, if it looks like one


def parse(text: str) -> Term:
    """Read what the agent typed.

    ``" hd-123 "`` -> reference ``HD-000123``; ``"login 500"`` -> words.
    """
    # NUL and other control characters are no search (PostgreSQL refuses NUL).
    text = "".join(c for c in text if c.isprintable() or c.isspace())
    text = " ".join(text.split())[:MAX_LENGTH]
    prefix = re.escape(settings.HELPDESK_REFERENCE_PREFIX)
    found = re.fullmatch(rf"(?:{prefix}-?)?(\d{{1,9}})", text, re.IGNORECASE)
    if found is None:
        return Term(text, None)
    number = int(found.group(1))
    return Term(text, f"{settings.HELPDESK_REFERENCE_PREFIX}-{number:06d}")


def apply(queryset: QuerySet[Ticket], text: str) -> tuple[QuerySet[Ticket], bool]:
    """Return the tickets of ``queryset`` that ``text`` finds, annotated with
    ``search_rank`` (an alias) for a word search; and whether they are ranked."""
    term = parse(text)
    if not term.text:
        return queryset, False
    if term.reference is not None:
        return queryset.filter(reference=term.reference), False
    connection = connections[queryset.db]
    if connection.vendor == "postgresql":
        hits, rank = _postgresql(term.text)
    elif connection.vendor == "sqlite":
        match = fts5_query(term.text)
        if not match:
            return _organisations_only(queryset, term.text), False
        hits, rank = _sqlite(match, term.text)
    else:  # pragma: no cover - the project runs on PostgreSQL and SQLite only
        return _organisations_only(queryset, term.text), False
    # An alias, not an annotation: computed only where the order uses it.
    return queryset.filter(pk__in=hits).alias(search_rank=rank), True


def ranked_first(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Order by rank, keeping the list's order after it."""
    return queryset.order_by(
        OrderBy(F("search_rank"), descending=True), *queryset.query.order_by
    )


def fts5_query(text: str) -> str:
    """Return an FTS5 query that needs every word, quoted so that no input is
    read as FTS5 syntax: ``login "500" o'brien`` -> ``"login" "500" "o" "brien"``."""
    return " ".join(f'"{word}"' for word in _WORD.findall(text))


# --- PostgreSQL -----------------------------------------------------------------


def _postgresql(text: str) -> tuple[RawSQL, Expression]:
    tsquery = f"websearch_to_tsquery('{CONFIG}', %s)"
    params = [text]
    # The organisation's lexemes are its words marked "=" ('=acme'); the term's
    # words, letters and digits only, quoted, read as their prefixes.
    words = [w.lower() for w in re.findall(r"[^\W_]+", text)]
    if words:
        tsquery = f"({tsquery} || %s::tsquery)"
        params.append(" & ".join(f"'={word}':*" for word in words))
    hits = RawSQL(
        f"SELECT ticket_id FROM {SEARCH_TABLE} WHERE document @@ {tsquery}", params
    )
    rank = TableFunction(
        f"(SELECT ts_rank(document, {tsquery}) FROM {SEARCH_TABLE}"
        " WHERE ticket_id = {table}.id)",
        params,
        FloatField(),
    )
    return hits, rank


# --- SQLite FTS5 ------------------------------------------------------------------


def _sqlite(match: str, text: str) -> tuple[RawSQL, Expression]:
    messages = Message._meta.db_table
    hits = RawSQL(
        "SELECT rowid FROM helpdesk_ticket_fts WHERE helpdesk_ticket_fts MATCH %s"
        " UNION SELECT m.ticket_id FROM helpdesk_message_fts f"
        f" JOIN {messages} m ON m.id = f.rowid WHERE helpdesk_message_fts MATCH %s"
        f" UNION {_organisation_tickets_sql()}",
        [match, match, *_organisation_params(text)],
    )
    # bm25() is lower for a better match, and exists only inside an FTS5 query:
    # one rowid lookup per candidate. Not a match there: 0, after every match.
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    rank = TableFunction(
        f"COALESCE(-(SELECT bm25(helpdesk_ticket_fts, {weights})"
        " FROM helpdesk_ticket_fts WHERE helpdesk_ticket_fts MATCH %s"
        " AND helpdesk_ticket_fts.rowid = {table}.id), 0)",
        [match],
        FloatField(),
    )
    return hits, rank


# --- organisations ----------------------------------------------------------------


def _organisation_tickets_sql() -> str:
    organisations = Organization._meta.db_table
    return (
        f"SELECT id FROM {Ticket._meta.db_table} WHERE organization_id IN"
        f" (SELECT id FROM {organisations} WHERE UPPER(name) LIKE UPPER(%s)"
        " ESCAPE '\\' OR slug = %s)"
    )


def _organisation_params(text: str) -> list[str]:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [f"{escaped}%", text.lower()]


def _organisations_only(queryset: QuerySet[Ticket], text: str) -> QuerySet[Ticket]:
    return queryset.filter(
        pk__in=RawSQL(_organisation_tickets_sql(), _organisation_params(text))
    )


class TableFunction(Expression):
    """SQL over the outer query's ticket row: ``{table}`` becomes its alias.

    RawSQL cannot say which row it reads; this follows the alias when Django
    relabels the query (a subquery, a count)."""

    def __init__(self, template: str, params: list, output_field, alias=None):
        super().__init__(output_field=output_field)
        self.template, self.params, self.alias = template, params, alias

    def resolve_expression(self, query=None, *args, **kwargs):
        resolved = self.copy()
        resolved.alias = query.get_initial_alias() if query is not None else None
        return resolved

    def relabeled_clone(self, change_map):
        clone = self.copy()
        clone.alias = change_map.get(self.alias, self.alias)
        return clone

    def as_sql(self, compiler, connection):
        table = compiler.quote_name_unless_alias(self.alias)
        return self.template.replace("{table}", table), list(self.params)

    def get_group_by_cols(self):
        return [self]
