"""Load the support-policy packs under policies/packs/ (all, or the slugs given)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from policies.loader import PackError, load_policy_packs


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
