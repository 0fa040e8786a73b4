# Reserved for product catalogue and caps (issue 15 section 3); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("policies", "0002_plan_revisions")]

    operations = []
