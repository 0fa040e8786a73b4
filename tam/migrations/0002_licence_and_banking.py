# TAM licence and banking (issue 15 §3 rules 6 and 7): what a contract does with its
# unused hours, the banked minutes of a term and the months they are scheduled into,
# and why a renewal was refused.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tam", "0001_contracts_hours_meetings")]

    operations = [
        migrations.AddField(
            model_name="historicalhourbucket",
            name="banked_minutes",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Banked minutes of the previous term scheduled into this month.",
            ),
        ),
        migrations.AddField(
            model_name="historicaltamcontract",
            name="banked_minutes",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Unused minutes of the previous term banked for scheduled use in this one (each use is scheduled into a month of this term).",
            ),
        ),
        migrations.AddField(
            model_name="historicaltamcontract",
            name="renewal_refusal",
            field=models.CharField(
                blank=True,
                help_text="Why the term was not renewed, when a rule refused the renewal.",
                max_length=300,
            ),
        ),
        migrations.AddField(
            model_name="historicaltamcontract",
            name="unused_hours",
            field=models.CharField(
                choices=[
                    ("roll-over", "Rolled into the renewal"),
                    ("bank", "Banked for scheduled use in the next term"),
                    ("lapse", "Lapse at the end of the term"),
                ],
                default="roll-over",
                help_text="What the contract says happens to hours a term leaves unused.",
                max_length=10,
                verbose_name="unused hours at renewal",
            ),
        ),
        migrations.AddField(
            model_name="hourbucket",
            name="banked_minutes",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Banked minutes of the previous term scheduled into this month.",
            ),
        ),
        migrations.AddField(
            model_name="tamcontract",
            name="banked_minutes",
            field=models.PositiveIntegerField(
                default=0,
                help_text="Unused minutes of the previous term banked for scheduled use in this one (each use is scheduled into a month of this term).",
            ),
        ),
        migrations.AddField(
            model_name="tamcontract",
            name="renewal_refusal",
            field=models.CharField(
                blank=True,
                help_text="Why the term was not renewed, when a rule refused the renewal.",
                max_length=300,
            ),
        ),
        migrations.AddField(
            model_name="tamcontract",
            name="unused_hours",
            field=models.CharField(
                choices=[
                    ("roll-over", "Rolled into the renewal"),
                    ("bank", "Banked for scheduled use in the next term"),
                    ("lapse", "Lapse at the end of the term"),
                ],
                default="roll-over",
                help_text="What the contract says happens to hours a term leaves unused.",
                max_length=10,
                verbose_name="unused hours at renewal",
            ),
        ),
        migrations.AddConstraint(
            model_name="tamcontract",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("unused_hours__in", ["roll-over", "bank", "lapse"])
                ),
                name="tam_unused_hours_choice",
            ),
        ),
    ]
