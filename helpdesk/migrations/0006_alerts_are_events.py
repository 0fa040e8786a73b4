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


def refill_alerts(apps, schema_editor):
    """Going back: an SLOAlert row for each warning and breach event, so the old code
    does not alert again what was alerted."""
    SLOAlert = apps.get_model("helpdesk", "SLOAlert")
    SLOEvent = apps.get_model("helpdesk", "SLOEvent")
    SLOAlert.objects.bulk_create(
        [
            SLOAlert(
                clock_id=clock_id,
                threshold=threshold,
                due_version=version,
                due_at=due_at,
                created_at=recorded_at,
            )
            for clock_id, threshold, version, due_at, recorded_at in (
                SLOEvent.objects.filter(threshold__isnull=False)
                .values_list(
                    "clock_id", "threshold", "due_version", "due_after", "recorded_at"
                )
                .iterator()
            )
        ],
        batch_size=5000,  # the events' unique constraint: no duplicates to skip
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0005_fewer_clock_indexes"),
    ]

    operations = [
        # Backwards, this runs last: after SLOAlert is back.
        migrations.RunPython(migrations.RunPython.noop, refill_alerts),
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
