"""SLO attainment: met vs breached per plan, severity, metric and month, computed by
aggregation in the database. Reclassification breaches and best-effort clocks are
counted apart, never as misses."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from helpdesk.models import SLOClock

_MET = Q(status=SLOClock.Status.MET, breached_at__isnull=True)
_BREACHED = Q(breached_at__isnull=False, is_reclassification_breach=False)
_RECLASSIFIED = Q(breached_at__isnull=False, is_reclassification_breach=True)


def attainment(since: datetime, until: datetime) -> list[dict]:
    """Return one row per (month, plan, severity, metric) of clocks started in
    [since, until): met, breached, reclassification breaches, best effort, open,
    and the attainment percentage of met / (met + breached)."""
    rows = (
        SLOClock.objects.filter(started_at__gte=since, started_at__lt=until)
        .annotate(month=TruncMonth("started_at"))
        .values(
            "month",
            "ticket__plan__name",
            "ticket__severity__level",
            "ticket__severity__name",
            "metric",
        )
        .annotate(
            met=Count("pk", filter=_MET),
            breached=Count("pk", filter=_BREACHED),
            reclassified=Count("pk", filter=_RECLASSIFIED),
            best_effort=Count("pk", filter=Q(status=SLOClock.Status.BEST_EFFORT)),
            total=Count("pk"),
        )
        .order_by("-month", "ticket__plan__name", "ticket__severity__level", "metric")
    )
    result = []
    for row in rows:
        decided = row["met"] + row["breached"]
        result.append(
            {
                "month": row["month"],
                "plan": row["ticket__plan__name"],
                "severity": row["ticket__severity__name"] or "all tickets",
                "metric": SLOClock.Metric(row["metric"]).label,
                "met": row["met"],
                "breached": row["breached"],
                "reclassified": row["reclassified"],
                "best_effort": row["best_effort"],
                "open": row["total"]
                - decided
                - row["reclassified"]
                - row["best_effort"],
                "attainment": round(100 * row["met"] / decided, 1) if decided else None,
            }
        )
    return result
