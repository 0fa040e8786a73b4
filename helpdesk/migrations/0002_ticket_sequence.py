"""Create the ticket reference counter, so the first filings lock an existing row."""

from django.db import migrations


def create_sequence(apps, schema_editor):
    TicketSequence = apps.get_model("helpdesk", "TicketSequence")
    TicketSequence.objects.get_or_create(name="HD", defaults={"last_number": 0})


def remove_sequence(apps, schema_editor):
    apps.get_model("helpdesk", "TicketSequence").objects.filter(
        name="HD", last_number=0
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]

    operations = [migrations.RunPython(create_sequence, remove_sequence)]
