# The seeds' rules (issue 15 section 3): the ticket's team, its catalogue product,
# and the Sev1 continuous-effort state (paged, workaround provided).
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TEAM_HELP = "Routed by environment: production or deployment support, or the TAM."
PRODUCT_HELP = "From the plan's catalogue; its severity cap applies."
SINCE_HELP = "Since when the ticket is worked 24x7 (a Sev1); empty when not."
PAGED_HELP = (
    "When the managers were paged about this Sev1 ticket being unassigned or "
    "unanswered."
)
WORKAROUND_HELP = "Ends the continuous effort; the resolution clock runs on."


def _fields(historical: bool) -> list[tuple[str, models.Field]]:
    def fk(to, on_delete, **kwargs):
        if historical:
            return models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=to,
                **kwargs,
            )
        return models.ForeignKey(
            blank=True, null=True, on_delete=on_delete, to=to, **kwargs
        )

    return [
        (
            "team",
            fk(
                "accounts.team",
                django.db.models.deletion.SET_NULL,
                help_text=TEAM_HELP,
                **({} if historical else {"related_name": "tickets"}),
            ),
        ),
        (
            "product",
            fk(
                "policies.catalogueentry",
                django.db.models.deletion.PROTECT,
                help_text=PRODUCT_HELP,
                **({} if historical else {"related_name": "+"}),
            ),
        ),
        (
            "continuous_effort_since_at",
            models.DateTimeField(blank=True, null=True, help_text=SINCE_HELP),
        ),
        (
            "managers_paged_at",
            models.DateTimeField(blank=True, null=True, help_text=PAGED_HELP),
        ),
        (
            "workaround_provided_at",
            models.DateTimeField(blank=True, null=True, help_text=WORKAROUND_HELP),
        ),
        (
            "workaround_provided_by",
            fk(
                settings.AUTH_USER_MODEL,
                django.db.models.deletion.PROTECT,
                **({} if historical else {"related_name": "+"}),
            ),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0017_attainment_rollups"),
        ("accounts", "0005_teams"),
        ("policies", "0003_catalogue_and_lint"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *(
            migrations.AddField(model_name=model, name=name, field=field)
            for model, historical in (("historicalticket", True), ("ticket", False))
            for name, field in _fields(historical)
        ),
        migrations.AddIndex(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("continuous_effort_since_at__isnull", False)),
                fields=["continuous_effort_since_at"],
                name="tkt_continuous_effort",
            ),
        ),
    ]
