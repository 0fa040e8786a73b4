# Product catalogue and caps, agreement to upgrades, continuous-effort severities
# (issue 15 section 3).
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models

UPGRADE_AGREEMENT_HELP = (
    "An upgrade an agent makes applies only once the customer agrees "
    "(Jelastic: changes after assessment need the customer's agreement)."
)
CONTINUOUS_HELP = (
    "Worked 24x7 until a workaround, a resolution or a downgrade (Janrain Sev1): "
    "always assigned, and on-call agents are paged."
)
ALIASES_HELP = "Other names for it, one per line (e.g. MSSQL)."
ENTRY_HELP = "The catalogue entry capped: its name and every alias."


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0002_plan_revisions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalseverity",
            name="is_continuous_effort",
            field=models.BooleanField(default=False, help_text=CONTINUOUS_HELP, verbose_name="continuous effort"),
        ),
        migrations.AddField(
            model_name="severity",
            name="is_continuous_effort",
            field=models.BooleanField(default=False, help_text=CONTINUOUS_HELP, verbose_name="continuous effort"),
        ),
        migrations.AddField(
            model_name="historicalsupportplan",
            name="upgrade_needs_customer_agreement",
            field=models.BooleanField(default=False, help_text=UPGRADE_AGREEMENT_HELP),
        ),
        migrations.AddField(
            model_name="supportplan",
            name="upgrade_needs_customer_agreement",
            field=models.BooleanField(default=False, help_text=UPGRADE_AGREEMENT_HELP),
        ),
        migrations.CreateModel(
            name="CatalogueEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("aliases", models.TextField(blank=True, help_text=ALIASES_HELP)),
                ("plan", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="catalogue", to="policies.supportplan")),
            ],
            options={
                "verbose_name": "catalogue entry",
                "verbose_name_plural": "catalogue entries",
                "ordering": ["plan", "name"],
            },
        ),
        migrations.AddConstraint(
            model_name="catalogueentry",
            constraint=models.UniqueConstraint(fields=("plan", "name"), name="one_catalogue_entry_per_plan_name"),
        ),
        migrations.CreateModel(
            name="HistoricalCatalogueEntry",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("aliases", models.TextField(blank=True, help_text=ALIASES_HELP)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("plan", models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="policies.supportplan")),
            ],
            options={
                "verbose_name": "historical catalogue entry",
                "verbose_name_plural": "historical catalogue entries",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.AddField(
            model_name="historicalseveritycap",
            name="entry",
            field=models.ForeignKey(blank=True, db_constraint=False, help_text=ENTRY_HELP, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="policies.catalogueentry"),
        ),
        migrations.AddField(
            model_name="severitycap",
            name="entry",
            field=models.ForeignKey(blank=True, help_text=ENTRY_HELP, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="caps", to="policies.catalogueentry"),
        ),
    ]
