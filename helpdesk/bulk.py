"""Set-based reads and writes for the SLO sweep: thousands of rows per statement.

On PostgreSQL the rows travel as one typed array per column, bound on the server in
binary (``unnest(%b::type[])``). The ORM's bulk_create and bulk_update build a model
instance per row and a placeholder or CASE WHEN per value, and psycopg's text format
quotes every element of an array: each cost more than the database work itself in a
10,000-clock sweep (bench/slo_sweep.py). Elsewhere (SQLite) one executemany per
statement.

Callers pass plain values (aware datetimes, timedeltas, ints, strings, None) in the
order of ``columns``; no model instances, no signals, no ``auto_now``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
from django.db import connection


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def cursor(*, binary_results: bool = False) -> Iterator:
    """Yield a Django cursor for the statements below: on PostgreSQL one that binds
    parameters on the server (so ``%b`` works), still seen by ``connection.queries``
    and execute wrappers like any other. ``binary_results``: rows come back in
    binary, which psycopg loads faster than text (timestamps above all)."""
    if not _on_postgresql():
        with connection.cursor() as django_cursor:
            yield django_cursor
        return
    connection.ensure_connection()
    # Prepares statements only as the connection is told to (Django: never, unless
    # OPTIONS sets prepare_threshold), so connection poolers keep working.
    raw = psycopg.Cursor(connection.connection)
    if binary_results:
        raw.format = psycopg.pq.Format.BINARY
    wrapped = (
        connection.make_debug_cursor(raw)
        if connection.queries_logged
        else connection.make_cursor(raw)
    )
    try:
        yield wrapped
    finally:
        raw.close()


def _columns(model, columns: Sequence[str]) -> list:
    return [model._meta.get_field(column) for column in columns]


def _sql_type(field) -> str:
    """The type to send ``field``'s values as: its column type, but text for
    varchar(n), which an explicit cast would silently cut to length (storing text
    into the column checks the length and fails instead)."""
    db_type = field.db_type(connection)
    return "text" if db_type.startswith("varchar") else db_type


def _arrays(fields, rows: Sequence[tuple]) -> tuple[str, list]:
    """Return ``unnest(...)`` over one binary array parameter per field, and the
    arrays (the columns of ``rows``)."""
    casts = ", ".join(f"%b::{_sql_type(field)}[]" for field in fields)
    arrays = [list(column) for column in zip(*rows, strict=True)]
    return f"unnest({casts})", arrays


def fetch(queryset) -> list[tuple]:
    """Return the rows of a ``values_list`` queryset as plain tuples, fetched in
    binary on PostgreSQL. For field types the driver loads as Django would (no
    ``from_db_value`` converters: dates, numbers, text, intervals)."""
    if not _on_postgresql():
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    with cursor(binary_results=True) as db:
        db.execute(sql, params)
        return db.fetchall()


def insert(
    model,
    columns: Sequence[str],
    rows: Sequence[tuple],
    *,
    constants: dict[str, object] | None = None,
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert ``rows`` into ``model``'s table, with ``constants`` (column: value)
    the same in every row; with ``ignore_conflicts`` a row that would break a
    unique constraint is left out, not an error. Return the ``returning`` columns
    of the rows actually inserted (none asked: an empty list)."""
    if not rows:
        return []
    constants = constants or {}
    qn = connection.ops.quote_name
    fields = _columns(model, columns)
    fixed = _columns(model, constants)
    names = ", ".join(qn(field.column) for field in [*fields, *fixed])
    table = qn(model._meta.db_table)
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    back = ", ".join(qn(field.column) for field in _columns(model, returning))
    back = f" RETURNING {back}" if back else ""
    with cursor() as db:
        if _on_postgresql():
            source, arrays = _arrays(fields, rows)
            scalars = "".join(f", %b::{_sql_type(field)}" for field in fixed)
            db.execute(
                f"INSERT INTO {table} ({names}) SELECT *{scalars} FROM {source}"
                f"{conflict}{back}",
                [*constants.values(), *arrays],  # in the order of the placeholders
            )
            return db.fetchall() if back else []
        width = len(fields) + len(fixed)
        one_row = f"({', '.join(['%s'] * width)})"
        values = [
            _prepared([*fields, *fixed], (*row, *constants.values())) for row in rows
        ]
        if not back:
            db.executemany(
                f"INSERT INTO {table} ({names}) VALUES {one_row}{conflict}", values
            )
            return []
        # executemany returns no rows: multi-row INSERTs, as many rows each as the
        # parameter limit allows.
        per_statement = max(1, connection.features.max_query_params // width)
        inserted = []
        for start in range(0, len(values), per_statement):
            batch = values[start : start + per_statement]
            db.execute(
                f"INSERT INTO {table} ({names}) VALUES "
                f"{', '.join([one_row] * len(batch))}{conflict}{back}",
                [value for row in batch for value in row],
            )
            inserted += db.fetchall()
        return inserted


def update(model, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """Set ``columns`` of the rows given as (primary key, *values)."""
    if not rows:
        return
    qn = connection.ops.quote_name
    pk = model._meta.pk
    fields = _columns(model, columns)
    table = qn(model._meta.db_table)
    with cursor() as db:
        if _on_postgresql():
            source, arrays = _arrays([pk, *fields], rows)
            names = [f"c{i}" for i in range(len(fields) + 1)]
            assignments = ", ".join(
                f"{qn(field.column)} = v.{name}"
                for field, name in zip(fields, names[1:], strict=True)
            )
            db.execute(
                f"UPDATE {table} AS t SET {assignments} FROM {source} "
                f"AS v({', '.join(names)}) WHERE t.{qn(pk.column)} = v.c0",
                arrays,
            )
            return
        assignments = ", ".join(f"{qn(field.column)} = %s" for field in fields)
        db.executemany(
            f"UPDATE {table} SET {assignments} WHERE {qn(pk.column)} = %s",
            [[*_prepared(fields, values), key] for key, *values in rows],
        )


def _prepared(fields, row: tuple) -> list:
    return [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, row, strict=True)
    ]
