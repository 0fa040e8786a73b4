"""How far behind now the minutely SLO sweep has recorded alerts."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone

from helpdesk import clock_display
from helpdesk.models import SLOSweep


@admin.register(SLOSweep)
class SLOSweepAdmin(admin.ModelAdmin):
    """How far the minutely sweep has recorded SLO alerts: a sweep that lags more
    than a few minutes behind now means beat or the workers are down (nothing is
    lost: the next sweep takes up the whole window)."""

    list_display = ["swept_until", "swept_at", "behind"]
    readonly_fields = ["swept_until", "swept_at", "behind"]

    @admin.display(description="behind now")
    def behind(self, obj: SLOSweep) -> str:
        lag = timezone.now() - obj.swept_until
        return clock_display.span(max(lag, timedelta(0)))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
