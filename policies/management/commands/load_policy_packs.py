"""Load the support-policy packs under policies/packs/ (all, or the slugs given),
then lint the loaded plans: targets that invert are reported with the two instants
that show it (policies.lint), as warnings; the packs are loaded all the same."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from policies.lint import lint_plans
from policies.loader import PackError, load_policy_packs
from policies.models import SupportPlan


class Command(BaseCommand):
    help = "Load support-policy packs (idempotent; all packs or none are written)."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", help="pack slugs (default: all)")

    def handle(self, *args, slugs: list[str], **options):
        try:
            reports = load_policy_packs(slugs or None)
        except PackError as exc:
            raise CommandError(str(exc)) from None
        except ValidationError as exc:
            raise CommandError(f"a pack does not fit the database: {exc}") from None
        for slug, report in reports.items():
            self.stdout.write(f"{slug}: {report}")
        plans = SupportPlan.objects.filter(slug__in=list(reports)).select_related(
            "business_calendar"
        )
        for inversion in lint_plans(plans, now=timezone.now()):
            self.stderr.write(self.style.WARNING(f"Warning: {inversion.message()}"))
