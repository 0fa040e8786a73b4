# Reserved for TAM licence and banking (issue 15 section 3); filled in by that work. Empty until then.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tam", "0001_contracts_hours_meetings")]

    operations = []
