"""The agent console's list (helpdesk.console): urgency indexes and full-text search.

The indexes on Ticket serve the urgency order, the one-click views and the sort by
due instant. Full-text search lives in the database, for its own vendor only, and
in no Django field:

- PostgreSQL: a table of one tsvector per ticket (``helpdesk_ticket_search``: the
  summary, description, conversation and organisation) with a GIN index, kept by
  triggers on tickets, messages and organisations. Its first fill reads every
  ticket: minutes at a million.
- SQLite: FTS5 tables over the same text (external content, so the text is not
  stored twice), kept by triggers. SQLite drops a table's triggers when Django
  rebuilds the table (an AlterField or RemoveField on Ticket or Message does): a
  later migration that does so must create these triggers again;
  tests/helpdesk/test_console_list.py fails until it does.
"""

from django.db import migrations, models
from django.db.models.functions import Coalesce, Least


class RunSQLOn(migrations.RunSQL):
    """RunSQL on one database vendor only."""

    def __init__(self, vendor, sql, reverse_sql):
        super().__init__(sql, reverse_sql)
        self.vendor = vendor

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        return name, [self.vendor, *args], kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# One search document per ticket, in a table of its own: summary (weight A),
# description (B), the conversation (C), and the organisation's name and slug as
# verbatim lexemes marked "=" (no text lexeme starts so), which prefix queries
# ('=acm':*) find without touching the text's posting lists. One predicate, so the
# planner either reads the GIN index (a rare word) or walks the urgency order and
# stops at a page (a common one). Kept by triggers; the text is cut so that no
# document reaches tsvector's 1 MB limit.
POSTGRESQL_SEARCH = [
    """CREATE TABLE helpdesk_ticket_search (
        ticket_id bigint PRIMARY KEY,
        document tsvector NOT NULL
    )""",
    "CREATE INDEX tkt_search ON helpdesk_ticket_search USING gin (document)",
    """CREATE FUNCTION helpdesk_organisation_lexemes(name text, slug text)
    RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
        SELECT coalesce(array_agg(DISTINCT '=' || word), '{}')
        FROM regexp_split_to_table(
            lower(coalesce(name, '') || ' ' || coalesce(slug, '')), '[^[:alnum:]]+'
        ) AS word
        WHERE word <> ''
    $$""",
    """CREATE FUNCTION helpdesk_ticket_document(ticket bigint) RETURNS tsvector
    LANGUAGE sql STABLE AS $$
        SELECT setweight(to_tsvector('english', left(t.summary, 1000)), 'A')
            || setweight(to_tsvector('english', left(t.description, 50000)), 'B')
            || setweight(to_tsvector('english', left(coalesce((
                   SELECT string_agg(m.body, ' ' ORDER BY m.id)
                   FROM helpdesk_message m WHERE m.ticket_id = t.id), ''), 200000)), 'C')
            || array_to_tsvector(helpdesk_organisation_lexemes(o.name, o.slug))
        FROM helpdesk_ticket t
        LEFT JOIN accounts_organization o ON o.id = t.organization_id
        WHERE t.id = ticket
    $$""",
    """CREATE FUNCTION helpdesk_ticket_search_refresh() RETURNS trigger
    LANGUAGE plpgsql AS $$
    DECLARE
        tickets bigint[];
    BEGIN
        IF TG_TABLE_NAME = 'helpdesk_ticket' THEN
            tickets := ARRAY[NEW.id];
        ELSIF TG_OP = 'INSERT' THEN
            tickets := ARRAY[NEW.ticket_id];
        ELSIF TG_OP = 'DELETE' THEN
            tickets := ARRAY[OLD.ticket_id];
        ELSE
            tickets := ARRAY[OLD.ticket_id, NEW.ticket_id];
        END IF;
        INSERT INTO helpdesk_ticket_search (ticket_id, document)
        SELECT id, helpdesk_ticket_document(id) FROM helpdesk_ticket
        WHERE id = ANY (tickets)
        ON CONFLICT (ticket_id) DO UPDATE SET document = EXCLUDED.document;
        RETURN NULL;
    END
    $$""",
    """CREATE FUNCTION helpdesk_ticket_search_organization() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE helpdesk_ticket_search s
        SET document = ts_delete(
                s.document, helpdesk_organisation_lexemes(OLD.name, OLD.slug))
            || array_to_tsvector(helpdesk_organisation_lexemes(NEW.name, NEW.slug))
        FROM helpdesk_ticket t
        WHERE t.id = s.ticket_id AND t.organization_id = NEW.id;
        RETURN NULL;
    END
    $$""",
    """CREATE TRIGGER helpdesk_ticket_search_insert AFTER INSERT ON helpdesk_ticket
    FOR EACH ROW EXECUTE FUNCTION helpdesk_ticket_search_refresh()""",
    """CREATE TRIGGER helpdesk_ticket_search_update
    AFTER UPDATE OF summary, description, organization_id ON helpdesk_ticket
    FOR EACH ROW WHEN (OLD.summary IS DISTINCT FROM NEW.summary
        OR OLD.description IS DISTINCT FROM NEW.description
        OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION helpdesk_ticket_search_refresh()""",
    """CREATE TRIGGER helpdesk_ticket_search_message
    AFTER INSERT OR DELETE OR UPDATE OF body, ticket_id ON helpdesk_message
    FOR EACH ROW EXECUTE FUNCTION helpdesk_ticket_search_refresh()""",
    """CREATE TRIGGER helpdesk_ticket_search_organization
    AFTER UPDATE OF name, slug ON accounts_organization
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name
        OR OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION helpdesk_ticket_search_organization()""",
    """INSERT INTO helpdesk_ticket_search (ticket_id, document)
    SELECT id, helpdesk_ticket_document(id) FROM helpdesk_ticket""",
]
POSTGRESQL_SEARCH_REVERSE = [
    "DROP TRIGGER IF EXISTS helpdesk_ticket_search_organization ON accounts_organization",
    "DROP TRIGGER IF EXISTS helpdesk_ticket_search_message ON helpdesk_message",
    "DROP TRIGGER IF EXISTS helpdesk_ticket_search_update ON helpdesk_ticket",
    "DROP TRIGGER IF EXISTS helpdesk_ticket_search_insert ON helpdesk_ticket",
    "DROP FUNCTION IF EXISTS helpdesk_ticket_search_organization()",
    "DROP FUNCTION IF EXISTS helpdesk_ticket_search_refresh()",
    "DROP FUNCTION IF EXISTS helpdesk_ticket_document(bigint)",
    "DROP FUNCTION IF EXISTS helpdesk_organisation_lexemes(text, text)",
    "DROP TABLE IF EXISTS helpdesk_ticket_search",
]


def _fts5(table, columns):
    """An FTS5 table over ``table``'s ``columns``, its triggers and its first fill."""
    fts = f"{table}_fts"
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    delete = (
        f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.id, {old});"
    )
    insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.id, {new});"
    forwards = [
        f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}',"
        " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {cols} ON {table}"
        f" BEGIN {delete} {insert} END",
        f"INSERT INTO {fts}({fts}) VALUES ('rebuild')",
    ]
    backwards = [
        f"DROP TRIGGER IF EXISTS {fts}_update",
        f"DROP TRIGGER IF EXISTS {fts}_delete",
        f"DROP TRIGGER IF EXISTS {fts}_insert",
        f"DROP TABLE IF EXISTS {fts}",
    ]
    return forwards, backwards


_TICKET_FTS, _TICKET_FTS_REVERSE = _fts5("helpdesk_ticket", ["summary", "description"])
_MESSAGE_FTS, _MESSAGE_FTS_REVERSE = _fts5("helpdesk_message", ["body"])
SQLITE_SEARCH = _TICKET_FTS + _MESSAGE_FTS
SQLITE_SEARCH_REVERSE = _MESSAGE_FTS_REVERSE + _TICKET_FTS_REVERSE


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0003_organization_support_plan"),  # its table has a trigger
        ("helpdesk", "0013_outbox_retries"),
    ]

    operations = [
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.Case(models.When(resolved_at__isnull=True, then=Least(Coalesce(models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), models.F('resolution_due_at'), output_field=models.DateTimeField()), Coalesce(models.F('resolution_due_at'), models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), output_field=models.DateTimeField()), output_field=models.DateTimeField())), output_field=models.DateTimeField()), models.OrderBy(models.F('id'), descending=True), name='tkt_urgency'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('assignee'), models.Case(models.When(resolved_at__isnull=True, then=Least(Coalesce(models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), models.F('resolution_due_at'), output_field=models.DateTimeField()), Coalesce(models.F('resolution_due_at'), models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), output_field=models.DateTimeField()), output_field=models.DateTimeField())), output_field=models.DateTimeField()), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('resolved_at__isnull', True)), name='tkt_open_assignee'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.F('status'), models.Case(models.When(resolved_at__isnull=True, then=Least(Coalesce(models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), models.F('resolution_due_at'), output_field=models.DateTimeField()), Coalesce(models.F('resolution_due_at'), models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), output_field=models.DateTimeField()), output_field=models.DateTimeField())), output_field=models.DateTimeField()), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('resolved_at__isnull', True)), name='tkt_open_status'),
        ),
        migrations.AddIndex(
            model_name='ticket',
            index=models.Index(models.Case(models.When(resolved_at__isnull=True, then=Least(Coalesce(models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), models.F('resolution_due_at'), output_field=models.DateTimeField()), Coalesce(models.F('resolution_due_at'), models.Case(models.When(first_responded_at__isnull=True, then=models.F('first_response_due_at')), output_field=models.DateTimeField()), output_field=models.DateTimeField()), output_field=models.DateTimeField())), output_field=models.DateTimeField()), models.OrderBy(models.F('id'), descending=True), condition=models.Q(('is_escalated', True)), name='tkt_escalated'),
        ),
        RunSQLOn("postgresql", POSTGRESQL_SEARCH, POSTGRESQL_SEARCH_REVERSE),
        RunSQLOn("sqlite", SQLITE_SEARCH, SQLITE_SEARCH_REVERSE),
    ]
