"""Leave room in each clock page on PostgreSQL (fillfactor 85): a clock row is
rewritten at every transition and by every sweep that alerts it, and a new row
version that fits on its own page saves reading and dirtying another (in
bench/slo_sweep.py the UPDATE of 10,000 clocks stopped reading, and evicting, some
9,000 pages). Existing pages follow as they are rewritten."""

from django.db import migrations

TABLE = "helpdesk_sloclock"


def leave_room(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} SET (fillfactor = 85)")


def fill_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {TABLE} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0008_clock_assignee"),
    ]

    operations = [migrations.RunPython(leave_room, fill_up)]
