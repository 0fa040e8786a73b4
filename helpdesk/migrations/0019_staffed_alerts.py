# Reserved for staffed-hours alerts (issue 15 section 2); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0018_policy_rules")]

    operations = []
