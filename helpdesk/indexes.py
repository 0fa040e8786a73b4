"""Index types the SLO tables need beyond Django's B-tree."""

from __future__ import annotations

from django.db import models


class BrinOnPostgreSQL(models.Index):
    """A BRIN index on PostgreSQL, a B-tree elsewhere.

    For a column that grows with insertion order (a clock's start): a few pages
    instead of a B-tree over every row, and next to nothing to maintain when the
    sweep rewrites 10,000 clock rows (a B-tree entry each, a quarter of the
    UPDATE; bench/slo_sweep.py). Range filters such as the attainment report's
    months still skip the blocks outside the range.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "postgresql":
            using = " USING brin"
        return super().create_sql(model, schema_editor, using=using, **kwargs)
