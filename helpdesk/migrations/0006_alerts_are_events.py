"""Warnings and breaches are recorded once as SLO events: the separate SLOAlert
table, which held the same facts, goes, and its unique constraint moves to the
event log (one row, one foreign-key check and one index fewer per alert)."""

import django.db.models.deletion
from django.db import migrations, models


def drop_repeated_alert_events(apps, schema_editor):
    """Keep the first event of each (clock, threshold, due version) alert: before
    this migration only the alert row was unique."""
    SLOEvent = apps.get_model("helpdesk", "SLOEvent")
    seen = set()
    repeated = []
    rows = (
        SLOEvent.objects.filter(threshold__isnull=False)
        .order_by("pk")
        .values_list("pk", "clock_id", "threshold", "due_version")
    )
    for pk, *key in rows.iterator():
        if tuple(key) in seen:
            repeated.append(pk)
        else:
            seen.add(tuple(key))
    SLOEvent.objects.filter(pk__in=repeated).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0005_fewer_clock_indexes"),
    ]

    operations = [
        migrations.DeleteModel(name="SLOAlert"),
        migrations.RunPython(drop_repeated_alert_events, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="sloevent",
            name="clock",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="events",
                to="helpdesk.sloclock",
            ),
        ),
        migrations.AddConstraint(
            model_name="sloevent",
            constraint=models.UniqueConstraint(
                fields=("clock", "threshold", "due_version"),
                name="one_alert_per_version",
            ),
        ),
        migrations.AddConstraint(
            model_name="sloevent",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind__in", ["warning", "breach"]),
                        ("threshold__isnull", False),
                    ),
                    models.Q(
                        models.Q(("kind__in", ["warning", "breach"]), _negated=True),
                        ("threshold__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="alerts_and_only_alerts_have_a_threshold",
            ),
        ),
    ]
