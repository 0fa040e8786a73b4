# Effective-dated plan revisions and staffed hours for alerts (issue 15 sections 1
# and 2).
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalseverity",
            name="pages_at_once",
            field=models.BooleanField(default=True, help_text="Its SLO warnings and breaches are e-mailed at once, day or night. Off: held until the plan's staffed hours open."),
        ),
        migrations.AddField(
            model_name="historicalsupportplan",
            name="staffed_calendar",
            field=models.ForeignKey(blank=True, db_constraint=False, help_text="When someone is on shift to read SLO alerts (issue 15): alerts of severities that do not page at once wait for it to open. Empty: alerts follow the clocks' own calendars.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="policies.businesscalendar"),
        ),
        migrations.AddField(
            model_name="severity",
            name="pages_at_once",
            field=models.BooleanField(default=True, help_text="Its SLO warnings and breaches are e-mailed at once, day or night. Off: held until the plan's staffed hours open."),
        ),
        migrations.AddField(
            model_name="supportplan",
            name="staffed_calendar",
            field=models.ForeignKey(blank=True, help_text="When someone is on shift to read SLO alerts (issue 15): alerts of severities that do not page at once wait for it to open. Empty: alerts follow the clocks' own calendars.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="policies.businesscalendar"),
        ),
        migrations.CreateModel(
            name="HistoricalPlanRevision",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("status", models.CharField(choices=[("draft", "Draft"), ("scheduled", "Scheduled"), ("applied", "Live"), ("cancelled", "Cancelled")], default="draft", editable=False, max_length=10)),
                ("content", models.JSONField(editable=False)),
                ("note", models.TextField(blank=True, help_text="Why the plan changes; shown to customers with it.")),
                ("is_marked_material", models.BooleanField(default=False, help_text="Treat as material even if the diff alone is not: it then needs the full notice period.", verbose_name="material (marked by hand)")),
                ("is_material", models.BooleanField(default=False, editable=False)),
                ("changes", models.JSONField(default=list, editable=False)),
                ("effective_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("scheduled_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("applied_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                ("created_by", models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("plan", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="policies.supportplan")),
                ("scheduled_by", models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "historical plan revision",
                "verbose_name_plural": "historical plan revisions",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="PlanRevision",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("status", models.CharField(choices=[("draft", "Draft"), ("scheduled", "Scheduled"), ("applied", "Live"), ("cancelled", "Cancelled")], default="draft", editable=False, max_length=10)),
                ("content", models.JSONField(editable=False)),
                ("note", models.TextField(blank=True, help_text="Why the plan changes; shown to customers with it.")),
                ("is_marked_material", models.BooleanField(default=False, help_text="Treat as material even if the diff alone is not: it then needs the full notice period.", verbose_name="material (marked by hand)")),
                ("is_material", models.BooleanField(default=False, editable=False)),
                ("changes", models.JSONField(default=list, editable=False)),
                ("effective_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("scheduled_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("applied_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("created_by", models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("plan", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="revisions", to="policies.supportplan")),
                ("scheduled_by", models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "plan revision",
                "ordering": ["plan", "-created_at"],
            },
        ),
        migrations.AddIndex(
            model_name="planrevision",
            index=models.Index(condition=models.Q(("status", "scheduled")), fields=["effective_at"], name="revision_scheduled_due"),
        ),
        migrations.AddConstraint(
            model_name="planrevision",
            constraint=models.CheckConstraint(condition=models.Q(("status__in", ["draft", "cancelled"]), ("effective_at__isnull", False), _connector="OR"), name="revision_scheduled_has_effective_at"),
        ),
    ]
