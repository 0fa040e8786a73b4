"""Keep SQLite's full-text triggers in place after every migration.

SQLite drops a table's triggers when Django rebuilds the table, and Django rebuilds
it for many schema changes (adding a foreign key, altering or removing a field). The
FTS5 tables of migration 0014 are external-content tables kept by those triggers, so
a later migration on ``helpdesk_ticket`` or ``helpdesk_message`` would silently stop
the search from seeing new text. After every ``migrate`` (``post_migrate``) this
module creates the missing triggers again and, if any was missing, rebuilds the index
from the table, so nothing written in between is lost. PostgreSQL keeps its triggers
through ``ALTER TABLE``: nothing to do there.
"""

from __future__ import annotations

# (table, columns) of each FTS5 table: the same as migration 0014's.
INDEXED = {
    "helpdesk_ticket": ("summary", "description"),
    "helpdesk_message": ("body",),
}


def trigger_sql(table: str, columns: tuple[str, ...]) -> dict[str, str]:
    """Return ``{trigger name: CREATE TRIGGER statement}`` for ``table``'s index."""
    fts = f"{table}_fts"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete = (
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    )
    insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    return {
        f"{fts}_insert": f"CREATE TRIGGER IF NOT EXISTS {fts}_insert AFTER INSERT "
        f"ON {table} BEGIN {insert} END",
        f"{fts}_delete": f"CREATE TRIGGER IF NOT EXISTS {fts}_delete AFTER DELETE "
        f"ON {table} BEGIN {delete} END",
        f"{fts}_update": f"CREATE TRIGGER IF NOT EXISTS {fts}_update AFTER UPDATE "
        f"OF {cols} ON {table} BEGIN {delete} {insert} END",
    }


def restore_triggers(connection) -> list[str]:
    """Create the FTS triggers that a table rebuild dropped, rebuild those indexes,
    and return the names of the triggers created (none on other databases, or
    before migration 0014 made the FTS tables)."""
    if connection.vendor != "sqlite":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, type FROM sqlite_master")
        present = {name for name, _ in cursor.fetchall()}
        created = []
        for table, columns in INDEXED.items():
            fts = f"{table}_fts"
            if fts not in present:
                continue
            missing = {
                name: sql
                for name, sql in trigger_sql(table, columns).items()
                if name not in present
            }
            if not missing:
                continue
            for sql in missing.values():
                cursor.execute(sql)
            cursor.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
            created.extend(missing)
    return created


def on_post_migrate(sender, using="default", **kwargs) -> None:
    from django.db import connections

    restore_triggers(connections[using])
