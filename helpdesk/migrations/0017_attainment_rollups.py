# Reserved for SLO attainment roll-ups (issue 12); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0016_macros")]

    operations = []
