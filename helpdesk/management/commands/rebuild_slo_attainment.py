"""manage.py rebuild_slo_attainment: recompute the monthly SLO attainment roll-ups
from the clocks (after a bulk import, or to check them: the counts it prints are
those the report shows)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from helpdesk.attainment import rollups


class Command(BaseCommand):
    help = "Rebuild the monthly SLO attainment roll-ups from the SLO clocks."

    def handle(self, *args, **options) -> None:
        rows = rollups.rebuild()
        self.stdout.write(f"Rebuilt {rows} monthly attainment rows from the clocks.")
