# Incident links through a model (who linked, when, with history) and the fan-out
# mark of subscriber e-mails (issue 14: linking through the service, fan-out in a
# worker).
#
# The plain many-to-many table ``trust_incident_linked_tickets`` becomes the table of
# IncidentTicketLink: same table, columns, unique pair and indexes, so its rows are
# kept; the state learns the model (no database change), then two columns are added.
import django.db.models.deletion
import django.utils.timezone
import simple_history.models
from django.conf import settings
from django.db import migrations, models


def mark_existing_updates_notified(apps, schema_editor):
    """Updates posted before this migration were e-mailed in their request: the
    sweep must not send them again."""
    IncidentUpdate = apps.get_model("trust", "IncidentUpdate")
    IncidentUpdate.objects.filter(subscribers_notified_at__isnull=True).update(
        subscribers_notified_at=models.F("posted_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0014_console_urgency_indexes_and_search"),
        ("trust", "0002_suggestions_speed"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="IncidentTicketLink",
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
                            "incident",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="ticket_links",
                                to="trust.incident",
                            ),
                        ),
                        (
                            "ticket",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="incident_links",
                                to="helpdesk.ticket",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "trust_incident_linked_tickets",
                        "ordering": ["linked_at", "pk"],
                        "unique_together": {("incident", "ticket")},
                    },
                ),
                migrations.AlterField(
                    model_name="incident",
                    name="linked_tickets",
                    field=models.ManyToManyField(
                        blank=True,
                        help_text="Tickets filed about this incident: each gets a "
                        "public reply when the incident is resolved.",
                        related_name="incidents",
                        through="trust.IncidentTicketLink",
                        to="helpdesk.ticket",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="incidentticketlink",
            name="linked_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="incidentticketlink",
            name="linked_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.CreateModel(
            name="HistoricalIncidentTicketLink",
            fields=[
                (
                    "id",
                    models.BigIntegerField(
                        auto_created=True, blank=True, db_index=True, verbose_name="ID"
                    ),
                ),
                ("linked_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                (
                    "history_change_reason",
                    models.CharField(max_length=100, null=True),
                ),
                (
                    "history_type",
                    models.CharField(
                        choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")],
                        max_length=1,
                    ),
                ),
                (
                    "history_user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "incident",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="trust.incident",
                    ),
                ),
                (
                    "linked_by",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "ticket",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="helpdesk.ticket",
                    ),
                ),
            ],
            options={
                "verbose_name": "historical incident ticket link",
                "verbose_name_plural": "historical incident ticket links",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddField(
            model_name="incidentupdate",
            name="subscribers_notified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="incidentupdate",
            index=models.Index(
                condition=models.Q(("subscribers_notified_at__isnull", True)),
                fields=["posted_at"],
                name="trust_update_unnotified",
            ),
        ),
        migrations.RunPython(
            mark_existing_updates_notified, migrations.RunPython.noop, elidable=True
        ),
    ]
