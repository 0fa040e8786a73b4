"""The console's "Unassigned" view on an index of its own, and PostgreSQL statistics
on how the views' columns go together.

PostgreSQL estimates ``status = 'waiting' AND resolved_at IS NULL`` as if the two
were independent: 0.17% of tickets wait and 0.65% are open, so it expected 11 of
the 1,603 waiting tickets of a 1,000,000-ticket table, sorted them all rather than
walk ``tkt_open_status`` to the first 50 (10 ms against 0.6 ms). Statistics on each
view column with ``resolved_at`` (most common combinations) tell it that nearly
every waiting, assigned or team-routed ticket is open. The migration analyses the
table to build them (about a second at 1,000,000 tickets) rather than wait for
autovacuum to. SQLite has no such statistics.

The index is built in the migration's transaction, not CONCURRENTLY: new tickets
wait for it (the whole migration took 5 s at 1,000,000 tickets on the bench
machine).
"""

import importlib

import django.db.models.functions.comparison
from django.conf import settings
from django.db import migrations, models

RunSQLOn = importlib.import_module(
    "helpdesk.migrations.0014_console_urgency_indexes_and_search"
).RunSQLOn
# The console views' columns, each with resolved_at (an open ticket has none).
STATISTICS = [("status", "status"), ("assignee", "assignee_id"), ("team", "team_id")]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_teams"),
        ("helpdesk", "0021_ticket_created_at_from_filing"),
        ("policies", "0003_catalogue_and_lint"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                models.Case(
                    models.When(
                        resolved_at__isnull=True,
                        then=django.db.models.functions.comparison.Least(
                            django.db.models.functions.comparison.Coalesce(
                                models.Case(
                                    models.When(
                                        first_responded_at__isnull=True,
                                        then=models.F("first_response_due_at"),
                                    ),
                                    output_field=models.DateTimeField(),
                                ),
                                models.F("resolution_due_at"),
                                output_field=models.DateTimeField(),
                            ),
                            django.db.models.functions.comparison.Coalesce(
                                models.F("resolution_due_at"),
                                models.Case(
                                    models.When(
                                        first_responded_at__isnull=True,
                                        then=models.F("first_response_due_at"),
                                    ),
                                    output_field=models.DateTimeField(),
                                ),
                                output_field=models.DateTimeField(),
                            ),
                            output_field=models.DateTimeField(),
                        ),
                    ),
                    output_field=models.DateTimeField(),
                ),
                models.OrderBy(models.F("id"), descending=True),
                condition=models.Q(
                    ("assignee__isnull", True), ("resolved_at__isnull", True)
                ),
                name="tkt_open_unassigned",
            ),
        ),
        RunSQLOn(
            "postgresql",
            [
                f"CREATE STATISTICS tkt_{name}_open (mcv) ON {column}, resolved_at"
                " FROM helpdesk_ticket"
                for name, column in STATISTICS
            ]
            + ["ANALYZE helpdesk_ticket"],  # else they wait for autovacuum's
            [f"DROP STATISTICS IF EXISTS tkt_{name}_open" for name, _ in STATISTICS],
        ),
    ]
