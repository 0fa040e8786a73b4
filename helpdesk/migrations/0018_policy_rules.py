# Reserved for the seeds' rules (issue 15 section 3); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0017_attainment_rollups")]

    operations = []
