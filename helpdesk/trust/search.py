"""Ranked search of the published knowledge-base articles.

- PostgreSQL: ``django.contrib.postgres.search`` over ``Article.search_document``
  (the title weighted A over the body, B; kept by a trigger), filtered with ``@@``
  through its GIN index ``trust_article_search`` and ordered by ``SearchRank``.
- SQLite: the FTS5 table ``trust_article_fts`` (migration 0001), ranked by
  ``bm25()`` with the title weighted ten times the body.

``search`` needs every word (the KB's search box: ``"a phrase"``, ``or`` and
``-word`` work on PostgreSQL); ``suggest`` needs any word (the new-ticket form,
where a summary such as "login widget times out" should still find articles about
the widget).
"""

from __future__ import annotations

import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import F, FloatField, QuerySet
from django.db.models.expressions import RawSQL

from helpdesk.trust.models import SEARCH_CONFIG, Article

MAX_LENGTH = 200  # of a search term: longer text is cut there
MAX_WORDS = 12  # of a suggestion query
_WORD = re.compile(r"\w+", re.UNICODE)
FTS_TABLE = "trust_article_fts"
BM25_WEIGHTS = (10.0, 1.0)  # title, body


def clean(text: str) -> str:
    """Drop control characters (PostgreSQL refuses NUL) and extra spaces."""
    text = "".join(c for c in (text or "") if c.isprintable() or c.isspace())
    return " ".join(text.split())[:MAX_LENGTH]


def search(
    text: str, *, queryset: QuerySet[Article] | None = None
) -> QuerySet[Article]:
    """Return the published articles with every word of ``text``, best first,
    annotated with ``rank``."""
    return _ranked(clean(text), any_word=False, queryset=queryset)


def suggest(text: str, *, limit: int = 5) -> list[Article]:
    """Return up to ``limit`` published articles with any word of ``text``, those
    whose title has one first.

    On PostgreSQL the articles whose title matches are ranked first, and the body
    matches only when they are too few: a common word is in the body of most
    articles, and ranking all of them is what would make the form wait.
    """
    text = clean(text)
    ranked = (
        _ranked(text, any_word=True)
        .select_related("category")
        .only("title", "slug", "summary", "updated_at", "category__name")
    )
    if connections[ranked.db].vendor != "postgresql":
        return list(ranked[:limit])  # FTS5's bm25 is cheap enough over every match
    words = _WORD.findall(text)[:MAX_WORDS]
    titled = SearchQuery(
        " | ".join(f"{word}:A" for word in words),
        config=SEARCH_CONFIG,
        search_type="raw",  # to_tsquery: each word stemmed, ":A" the title only
    )
    found = list(ranked.filter(search_document=titled)[:limit]) if words else []
    if len(found) < limit:
        found += ranked.exclude(pk__in=[a.pk for a in found])[: limit - len(found)]
    return found


def _ranked(
    text: str, *, any_word: bool, queryset: QuerySet[Article] | None = None
) -> QuerySet[Article]:
    articles = (queryset if queryset is not None else Article.objects).published()
    words = _WORD.findall(text)[:MAX_WORDS] if any_word else _WORD.findall(text)
    if not words:
        return articles.none()
    vendor = connections[articles.db].vendor
    if vendor == "postgresql":
        if any_word:
            query = SearchQuery(words[0], config=SEARCH_CONFIG)
            for word in words[1:]:
                query |= SearchQuery(word, config=SEARCH_CONFIG)
        else:
            query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            articles.filter(search_document=query)
            .annotate(rank=SearchRank(F("search_document"), query))
            .order_by("-rank", "title")
        )
    # SQLite FTS5: every word quoted, so no input is read as FTS5 syntax.
    match = (" OR " if any_word else " ").join(f'"{w}"' for w in words)
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    table = Article._meta.db_table
    return (
        articles.filter(
            pk__in=RawSQL(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match]
            )
        )
        .annotate(
            rank=RawSQL(
                f"SELECT -bm25({FTS_TABLE}, {weights}) FROM {FTS_TABLE}"
                f" WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid = {table}.id",
                [match],
                output_field=FloatField(),
            )
        )
        .order_by("-rank", "title")
    )
