# Reserved for effective-dated plan revisions (issue 15 section 1); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]

    operations = []
