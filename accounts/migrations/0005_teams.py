# Reserved for teams (issue 15 section 3.5); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_agent_time_zone")]

    operations = []
