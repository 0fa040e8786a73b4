"""Clocks carry a copy of their ticket's assignee (kept by helpdesk.clocks), so the
sweep finds who to warn without reading the tickets."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_assignees(apps, schema_editor):
    SLOClock = apps.get_model("helpdesk", "SLOClock")
    Ticket = apps.get_model("helpdesk", "Ticket")
    SLOClock.objects.update(
        assignee_id=Subquery(
            Ticket.objects.filter(pk=OuterRef("ticket_id")).values("assignee_id")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0007_brin_clock_started"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="sloclock",
            name="assignee",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(copy_assignees, migrations.RunPython.noop),
    ]
