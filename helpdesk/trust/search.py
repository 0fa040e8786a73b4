"""Ranked search of the published knowledge-base articles.

- PostgreSQL: ``django.contrib.postgres.search`` over ``Article.search_document``
  (the title weighted A over the body, B; kept by a trigger), filtered with ``@@``
  through its GIN index ``trust_article_search`` and ordered by ``SearchRank``;
  suggestions first look in ``Article.search_title`` (the title alone, kept by the
  same trigger, its own GIN index ``trust_article_title_search``).
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
TITLE_CANDIDATES = 50  # title matches ranked by their whole document (PostgreSQL)
BODY_CANDIDATES = 500  # body matches ranked when the titles match too few
MIN_PREFIX = 3  # a half-typed last word this long also matches as a prefix


def clean(text: str) -> str:
    """Drop control characters (PostgreSQL refuses NUL) and extra spaces."""
    text = "".join(c for c in (text or "") if c.isprintable() or c.isspace())
    return " ".join(text.split())[:MAX_LENGTH]


def search(
    text: str, *, queryset: QuerySet[Article] | None = None
) -> QuerySet[Article]:
    """Return the published articles with every word of ``text``, best first,
    annotated with ``rank``."""
    return _ranked(clean(text), queryset=queryset)


def suggest(text: str, *, limit: int = 5) -> list[Article]:
    """Return up to ``limit`` published articles with any word of ``text`` (the
    last one also as a prefix, as it may be half typed), those whose title has one
    first.

    On PostgreSQL the title-only vector's GIN index finds the articles whose title
    matches; the best ``TITLE_CANDIDATES`` of them by title are ranked by their whole
    document. The body is searched only when the titles match too few, and then at
    most ``BODY_CANDIDATES`` body matches are ranked: a common word is in the body
    of most articles, and ranking all of them is what would make the form wait.
    On SQLite, FTS5 ranks every match: by ``bm25()`` of the title alone, then of the
    whole article.
    """
    words = _WORD.findall(clean(text))[:MAX_WORDS]
    if not words:
        return []
    articles = Article.objects.published().only("title", "slug", "summary")
    if connections[articles.db].vendor != "postgresql":
        match = _fts5_match(words, any_word=True, prefix=True)
        return list(_fts5(articles, match, titles_first=True)[:limit])
    query = SearchQuery(_any_word(words), config=SEARCH_CONFIG, search_type="raw")
    title_rank = SearchRank(F("search_title"), query)
    best_titled = (
        articles.filter(search_title=query)
        .annotate(title_rank=title_rank)
        .order_by("-title_rank", "title", "pk")
        .values("pk")[:TITLE_CANDIDATES]
    )
    found = list(
        articles.filter(pk__in=best_titled)
        .annotate(title_rank=title_rank, rank=SearchRank(F("search_document"), query))
        .order_by("-title_rank", "-rank", "title", "pk")[:limit]
    )
    if len(found) < limit:
        in_body = (
            articles.filter(search_document=query)
            .exclude(pk__in=[article.pk for article in found])
            .values("pk")[:BODY_CANDIDATES]
        )
        found += (
            articles.filter(pk__in=in_body)
            .annotate(rank=SearchRank(F("search_document"), query))
            .order_by("-rank", "title", "pk")[: limit - len(found)]
        )
    return found


def _any_word(words: list[str]) -> str:
    """A ``to_tsquery`` text: any of ``words`` (each stemmed; stop words drop out),
    the last one also as a prefix when it has ``MIN_PREFIX`` characters or more.
    ``words`` are runs of word characters, so nothing in them is tsquery syntax."""
    terms = list(words)
    if len(terms[-1]) >= MIN_PREFIX:
        terms[-1] += ":*"
    return " | ".join(terms)


def _ranked(text: str, *, queryset: QuerySet[Article] | None) -> QuerySet[Article]:
    articles = (queryset if queryset is not None else Article.objects).published()
    words = _WORD.findall(text)
    if not words:
        return articles.none()
    if connections[articles.db].vendor == "postgresql":
        query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
        return (
            articles.filter(search_document=query)
            .annotate(rank=SearchRank(F("search_document"), query))
            .order_by("-rank", "title")
        )
    return _fts5(articles, _fts5_match(words, any_word=False, prefix=False))


def _fts5_match(words: list[str], *, any_word: bool, prefix: bool) -> str:
    """An FTS5 query: every word quoted, so no input is read as FTS5 syntax; the
    last one a prefix (``"word" *``) if asked and long enough."""
    terms = [f'"{word}"' for word in words]
    if prefix and len(words[-1]) >= MIN_PREFIX:
        terms[-1] += " *"
    return (" OR " if any_word else " ").join(terms)


def _fts5(
    articles: QuerySet[Article], match: str, *, titles_first: bool = False
) -> QuerySet[Article]:
    """SQLite: the articles the FTS5 table matches, best first (``bm25()``, the
    title weighted ``BM25_WEIGHTS``), annotated with ``rank``; with
    ``titles_first``, ordered first by how well the title alone matches."""
    ranked = articles.filter(
        pk__in=RawSQL(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match]
        )
    ).annotate(rank=_bm25(match, BM25_WEIGHTS))
    if titles_first:
        return ranked.annotate(title_rank=_bm25(match, (1.0, 0.0))).order_by(
            "-title_rank", "-rank", "title"
        )
    return ranked.order_by("-rank", "title")


def _bm25(match: str, weights: tuple[float, float]) -> RawSQL:
    """The article's ``bm25()`` score for ``match`` (higher is better), its title
    and body weighted ``weights``."""
    table = Article._meta.db_table
    return RawSQL(
        f"SELECT -bm25({FTS_TABLE}, {', '.join(str(w) for w in weights)})"
        f" FROM {FTS_TABLE}"
        f" WHERE {FTS_TABLE} MATCH %s AND {FTS_TABLE}.rowid = {table}.id",
        [match],
        output_field=FloatField(),
    )
