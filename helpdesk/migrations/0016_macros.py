# Reserved for canned replies (issue 12); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0015_inbound_mail")]

    operations = []
