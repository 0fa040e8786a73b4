"""The console's search box: a reference, an organisation, or words.

- A term that looks like a reference (``HD-000123``, ``hd-123``, ``000123``,
  ``123``) is one equality lookup on the unique reference index; nothing else.
  Put a number in quotes (``"500"``) to look for it in the text instead.
- Otherwise, a term that names organisations (a name, or its first whole words,
  in any case: ``acme`` and ``Acme Health`` name "Acme Health", ``acme hea`` and
  ``health`` do not; or a slug, exactly) finds their tickets, most urgent first;
  nothing else. Whole words only, so that a word such as "data" is not taken for
  "Database Systems Ltd". One query on the organisations (a few
  thousand rows) finds them first, so the list filters the tickets by their ids:
  the planner knows from its statistics how many tickets that is, and reads a
  small customer's tickets by their organisation and sorts them, or walks the
  urgency order for a large one. Put the term in quotes (``"acme"``) to look for
  it in the text instead.
- Otherwise the tickets whose summary, description or conversation (public
  replies, internal notes, events) has all its words.
  - PostgreSQL: one ``tsvector`` per ticket in ``helpdesk_ticket_search`` (summary
    weighted A, description B, conversation C), kept by triggers, with a GIN index.
    The term is ``websearch_to_tsquery`` (all words; ``"a phrase"``, ``or`` and
    ``-word`` work). Being one condition, the planner reads the GIN index for a
    rare word and walks the urgency order for a common one, stopping at a page.
    (The documents also hold each organisation's words as lexemes marked "=",
    from migration 0014; the search no longer reads them: prefix queries on them
    read every posting of a large customer.)
  - SQLite: FTS5 tables over tickets and messages, kept by triggers.
  Both live in the database only (the console migration creates them for its own
  vendor); no model, form or history row carries them.
- Up to ``RANK_LIMIT`` matches of a word search are ranked (words in the summary
  above words in the description, above the conversation) and then by urgency.
  Past that, ranking would read every match: the list keeps its urgency order and
  says so (``helpdesk.console.paginator``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.models import Expression, F, FloatField, Q, QuerySet
from django.db.models.expressions import OrderBy, RawSQL
from django.db.models.lookups import In

from accounts.models import Organization
from helpdesk.models import Message, Ticket

CONFIG = "english"  # the PostgreSQL text search configuration of the migration
# Column weights for SQLite's bm25(): summary, description.
BM25_WEIGHTS = (10.0, 1.0)
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_LENGTH = 200  # of a search term: longer text is cut there
# Organisations a term may name and still be passed as a list of ids.
ORGANISATIONS_LISTED = 500
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


@dataclass(frozen=True)
class Found:
    tickets: QuerySet[Ticket]
    ranked: bool  # a word search, annotated with ``search_rank``
    by_organisation: bool  # the term named organisations: their tickets, no text


def apply(queryset: QuerySet[Ticket], text: str) -> tuple[QuerySet[Ticket], bool]:
    """Return the tickets of ``queryset`` that ``text`` finds, annotated with
    ``search_rank`` (an alias) for a word search; and whether they are ranked."""
    found = find(queryset, text)
    return found.tickets, found.ranked


def find(queryset: QuerySet[Ticket], text: str) -> Found:
    """What ``text`` finds in ``queryset``, and how it was read (the list says when
    a term was taken for organisations, and offers the text search)."""
    term = parse(text)
    if not term.text:
        return Found(queryset, False, False)
    if term.reference is not None:
        return Found(queryset.filter(reference=term.reference), False, False)
    named = organisations(term.text, using=queryset.db)
    if named is not None:
        return Found(queryset.filter(organization__in=named), False, True)
    connection = connections[queryset.db]
    if connection.vendor == "postgresql":
        hits, rank = _postgresql(term.text)
    elif connection.vendor == "sqlite":
        match = fts5_query(term.text)
        if not match:
            return Found(queryset.none(), False, False)
        hits, rank = _sqlite(match)
    else:  # pragma: no cover - the project runs on PostgreSQL and SQLite only
        return Found(queryset.none(), False, False)
    # An alias, not an annotation: computed only where the order uses it.
    return Found(queryset.filter(pk__in=hits).alias(search_rank=rank), True, False)


def organisations(text: str, *, using: str = "default") -> list[int] | QuerySet | None:
    """Return the ids of the organisations ``text`` names (the name or its first
    whole words, in any case, or the slug), or None when it names none. One query.

    More than ``ORGANISATIONS_LISTED`` (a term of a letter or two) come back as a
    subquery rather than a list of ids to put in the tickets' query."""
    named = (
        Organization.objects.using(using)
        .filter(
            Q(name__iexact=text)
            | Q(name__istartswith=f"{text} ")
            | Q(slug=text.lower())
        )
        .order_by()
        .values_list("pk", flat=True)
    )
    ids = list(named[: ORGANISATIONS_LISTED + 1])
    if not ids:
        return None
    return named if len(ids) > ORGANISATIONS_LISTED else ids


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
    hits = RawSQL(
        f"SELECT ticket_id FROM {SEARCH_TABLE} WHERE document @@ {tsquery}", [text]
    )
    rank = TableFunction(
        f"(SELECT ts_rank(document, {tsquery}) FROM {SEARCH_TABLE}"
        " WHERE ticket_id = {table}.id)",
        [text],
        FloatField(),
    )
    return hits, rank


# --- SQLite FTS5 ------------------------------------------------------------------


class _Matches(RawSQL):
    """The ids of the tickets an FTS5 query matches (``_sqlite``)."""


class _MatchesNotDriving(In):
    """``+id IN (matches)``: the unary plus keeps SQLite from reading the matches
    first (an index on ``id`` cannot serve ``+id``), so it walks the index of the
    query's order and checks each ticket against them instead."""

    def as_sql(self, compiler, connection):
        sql, params = super().as_sql(compiler, connection)
        return f"+{sql}", params


def in_urgency_order(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """A word search with more matches than ``RANK_LIMIT``, in the list's urgency
    order (``helpdesk.console.paginator``).

    SQLite otherwise reads every match and sorts them all for a page: 190 ms for
    "login" (23,000 matches) at 100,000 tickets. Walking the urgency index and
    checking each ticket against the matches stops at a page, and with more than
    ``RANK_LIMIT`` matches a page is never far. (For a rare word, reading the
    matches first is right; those are ranked, and keep it.) PostgreSQL's planner
    makes this choice itself, from its statistics."""
    if connections[queryset.db].vendor != "sqlite":
        return queryset
    clone = queryset.all()
    where = clone.query.where = clone.query.where.clone()
    where.children = [
        _MatchesNotDriving(child.lhs, child.rhs)
        if isinstance(child, In) and isinstance(child.rhs, _Matches)
        else child
        for child in where.children
    ]
    return clone


def _sqlite(match: str) -> tuple[RawSQL, Expression]:
    messages = Message._meta.db_table
    hits = _Matches(
        "SELECT rowid FROM helpdesk_ticket_fts WHERE helpdesk_ticket_fts MATCH %s"
        " UNION SELECT m.ticket_id FROM helpdesk_message_fts f"
        f" JOIN {messages} m ON m.id = f.rowid WHERE helpdesk_message_fts MATCH %s",
        [match, match],
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
