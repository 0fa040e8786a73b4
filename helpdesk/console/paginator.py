"""A paginator that does not count a million rows on every page load.

Django's admin asks its paginator for ``count`` on every list page: a full scan of
the filtered rows. Here:

- the unfiltered list on PostgreSQL reads the planner's row estimate of the table
  (``pg_class.reltuples``, kept by autovacuum and ANALYZE): one catalogue row;
- a filtered list (a view, a filter, a search) counts exactly, but at most
  ``CAP`` + 1 rows, so a broad filter costs a bounded walk of its index; beyond
  that the list says "more than 10,000" and pages up to there;
- SQLite, the embedded default, counts the unfiltered table exactly (it walks its
  smallest index, milliseconds at 100,000 tickets);
- a ranked search counts up to ``search.RANK_LIMIT`` + 1: when there are more
  matches, ranking them all would read every one, so the page keeps the list's
  urgency order instead (and says so).
"""

from __future__ import annotations

from functools import cached_property

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import F
from django.db.models.expressions import OrderBy
from django.utils.formats import number_format

from helpdesk.console import search

CAP = 10_000
# Below this estimate the table is small: an exact count costs next to nothing.
EXACT_BELOW = 50_000


class ConsolePaginator(Paginator):
    """Counts as described in the module docstring; ``count_is`` says which."""

    count_is = "exact"  # or "estimated", "capped"
    is_ranked = False  # a word search ordered by relevance
    unranked = False  # a word search with too many matches to rank

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not queryset.query.where:
            estimated, count = self._count_table(queryset)
            if estimated:
                self.count_is = "estimated"
            return count
        ranked = _ranks(queryset)
        cap = search.RANK_LIMIT if ranked else CAP
        found = queryset.order_by().values("pk")[: cap + 1].count()
        if found > cap:
            self.count_is = "capped"
            return cap
        self.is_ranked = ranked
        return found

    def page(self, number):
        if self.count_is == "capped" and _ranks(self.object_list):
            # Too many matches to rank: the list's own order, on its index.
            queryset = self.object_list
            self.unranked = True
            self.object_list = search.in_urgency_order(
                queryset.order_by(
                    *(o for o in queryset.query.order_by if not _is_rank(o))
                )
            )
        return super().page(number)

    def count_label(self, singular: str, plural: str) -> str:
        """Return "42 tickets", "about 1,000,000 tickets" or "more than 10,000"."""
        shown = number_format(self.count, force_grouping=True)
        noun = singular if self.count == 1 else plural
        if self.count_is == "estimated":
            return f"about {shown} {noun}"
        if self.count_is == "capped" and self.unranked:
            return f"more than {shown} {plural}, most urgent first"
        if self.count_is == "capped":
            return f"more than {shown} {plural}"
        if self.is_ranked:
            return f"{shown} {noun}, best matches first"
        return f"{shown} {noun}"

    @staticmethod
    def _count_table(queryset) -> tuple[bool, int]:
        """Return (estimated, rows) for the whole table, in one query either way.

        On PostgreSQL the exact count is a scalar subquery in the CASE branch that
        needs it, which the executor runs only when the estimate is small (or -1,
        before the table is first analysed).
        """
        connection = connections[queryset.db]
        if connection.vendor != "postgresql":
            return False, queryset.count()
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples >= %s, CASE WHEN reltuples >= %s"
                " THEN reltuples::bigint"
                f" ELSE (SELECT COUNT(*) FROM {table}) END"
                " FROM pg_class WHERE oid = %s::regclass",
                [EXACT_BELOW, EXACT_BELOW, queryset.model._meta.db_table],
            )
            estimated, rows = cursor.fetchone()
        return estimated, rows


def _is_rank(order) -> bool:
    return (
        isinstance(order, OrderBy)
        and isinstance(order.expression, F)
        and order.expression.name == "search_rank"
    )


def _ranks(queryset) -> bool:
    return any(_is_rank(order) for order in queryset.query.order_by)
