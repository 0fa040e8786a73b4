# Reserved for per-agent time zones (issue 12); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_organization_support_plan")]

    operations = []
