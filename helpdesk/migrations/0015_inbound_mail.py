# Reserved for inbound e-mail (issue 13); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0014_console_urgency_indexes_and_search")]

    operations = []
