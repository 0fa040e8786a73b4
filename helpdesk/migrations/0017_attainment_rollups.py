# SLO attainment roll-ups (issue 12 §4): the monthly table, its backfill from the
# clocks, and the partial index the report's "still open" column reads.
from datetime import UTC

import django.db.models.deletion
import django.db.models.functions.comparison
from django.db import migrations, models
from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth


def backfill(apps, schema_editor):
    """Count every clock with an outcome into its month, plan, severity and metric
    (as helpdesk.attainment.rollups.rebuild does, with this migration's models)."""
    SLOClock = apps.get_model("helpdesk", "SLOClock")
    SLOAttainmentMonth = apps.get_model("helpdesk", "SLOAttainmentMonth")
    breached = Q(breached_at__isnull=False)
    rows = (
        SLOClock.objects.using(schema_editor.connection.alias)
        .filter(Q(status__in=["met", "best_effort"]) | breached)
        .order_by()
        .annotate(
            month=TruncMonth("started_at", output_field=models.DateField(), tzinfo=UTC)
        )
        .values(
            "month",
            "metric",
            plan_id=F("ticket__plan_id"),
            severity_id=F("ticket__severity_id"),
        )
        .annotate(
            met=Count("pk", filter=Q(status="met", breached_at__isnull=True)),
            breached=Count("pk", filter=breached & Q(is_reclassification_breach=False)),
            reclassified=Count(
                "pk", filter=breached & Q(is_reclassification_breach=True)
            ),
            best_effort=Count("pk", filter=Q(status="best_effort")),
            total=Count("pk"),
        )
    )
    SLOAttainmentMonth.objects.using(schema_editor.connection.alias).bulk_create(
        [SLOAttainmentMonth(**row) for row in rows], batch_size=1000
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0016_macros"),
        ("policies", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SLOAttainmentMonth",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "month",
                    models.DateField(
                        help_text="The first day of the month the clocks started."
                    ),
                ),
                (
                    "metric",
                    models.CharField(
                        choices=[
                            ("first_response", "First response"),
                            ("resolution", "Resolution"),
                        ],
                        max_length=16,
                    ),
                ),
                ("met", models.IntegerField(default=0)),
                ("breached", models.IntegerField(default=0)),
                ("reclassified", models.IntegerField(default=0)),
                ("best_effort", models.IntegerField(default=0)),
                ("total", models.IntegerField(default=0)),
                (
                    "plan",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="policies.supportplan",
                    ),
                ),
                (
                    "severity",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="policies.severity",
                    ),
                ),
            ],
            options={
                "verbose_name": "SLO attainment month",
            },
        ),
        migrations.AddConstraint(
            model_name="sloattainmentmonth",
            constraint=models.UniqueConstraint(
                models.F("month"),
                models.F("plan"),
                django.db.models.functions.comparison.Coalesce(
                    models.F("severity"), models.Value(0)
                ),
                models.F("metric"),
                name="one_attainment_row_per_bucket",
            ),
        ),
        migrations.AddIndex(
            model_name="sloclock",
            index=models.Index(
                condition=models.Q(("status__in", ["running", "paused"])),
                fields=["started_at"],
                name="clock_unfinished_started",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
