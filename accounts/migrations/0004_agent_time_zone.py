# Per-agent time zones (issue 12 section 3): the console shows instants in this zone.
import accounts.models
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_organization_support_plan")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="time_zone",
            field=models.CharField(
                blank=True,
                help_text="Agents: the console shows every time in this zone. Empty: "
                "HELPDESK_AGENT_TIME_ZONE.",
                max_length=64,
                validators=[accounts.models.validate_time_zone],
            ),
        ),
    ]
