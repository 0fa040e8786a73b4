# Canned replies (issue 12 section 1): shared or personal texts with placeholders.
import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0015_inbound_mail"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="HistoricalMacro",
            fields=[
                ("id", models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("body", models.TextField(help_text="Placeholders such as {requester_first_name}, {reference} and {first_response_due_at} are filled in from the ticket.")),
                ("then_status", models.CharField(blank=True, choices=[("waiting", "Waiting on customer"), ("resolved", "Resolved")], help_text="Empty: sending it leaves the status as it is.", max_length=10, verbose_name="then set status")),
                ("created_at", models.DateTimeField(blank=True, editable=False)),
                ("updated_at", models.DateTimeField(blank=True, editable=False)),
                ("history_id", models.AutoField(primary_key=True, serialize=False)),
                ("history_date", models.DateTimeField(db_index=True)),
                ("history_change_reason", models.CharField(max_length=100, null=True)),
                ("history_type", models.CharField(choices=[("+", "Created"), ("~", "Changed"), ("-", "Deleted")], max_length=1)),
                ("history_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("owner", models.ForeignKey(blank=True, db_constraint=False, help_text="Empty: shared with every agent.", null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "historical canned reply",
                "verbose_name_plural": "historical canned replies",
                "ordering": ("-history_date", "-history_id"),
                "get_latest_by": ("history_date", "history_id"),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name="Macro",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=120)),
                ("body", models.TextField(help_text="Placeholders such as {requester_first_name}, {reference} and {first_response_due_at} are filled in from the ticket.")),
                ("then_status", models.CharField(blank=True, choices=[("waiting", "Waiting on customer"), ("resolved", "Resolved")], help_text="Empty: sending it leaves the status as it is.", max_length=10, verbose_name="then set status")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("owner", models.ForeignKey(blank=True, help_text="Empty: shared with every agent.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name="macros", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "canned reply",
                "verbose_name_plural": "canned replies",
                "ordering": ["name", "pk"],
                "permissions": [("share_macro", "Can add and change shared canned replies")],
                "constraints": [
                    models.UniqueConstraint(condition=models.Q(("owner__isnull", True)), fields=("name",), name="macro_shared_name_unique", violation_error_message="A shared canned reply has this name."),
                    models.UniqueConstraint(condition=models.Q(("owner__isnull", False)), fields=("owner", "name"), name="macro_personal_name_unique", violation_error_message="You have a canned reply with this name."),
                    models.CheckConstraint(condition=models.Q(("then_status__in", ["", "waiting", "resolved"])), name="macro_then_status_valid"),
                ],
            },
        ),
    ]
