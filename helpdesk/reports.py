"""SLO attainment: met vs breached per plan, severity, metric and month.
Reclassification breaches and best-effort clocks are counted apart, never as misses.

``attainment`` reads the monthly roll-ups (``helpdesk.attainment.rollups``) and
counts only the clocks still without an outcome; ``attainment_from_clocks``
aggregates every clock, as the report did before the roll-ups (the benchmark's
baseline, and what the tests hold the roll-ups to)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncMonth

from helpdesk.attainment import rollups
from helpdesk.models import SLOAttainmentMonth, SLOClock

_MET = Q(status=SLOClock.Status.MET, breached_at__isnull=True)
_BREACHED = Q(breached_at__isnull=False, is_reclassification_breach=False)
_RECLASSIFIED = Q(breached_at__isnull=False, is_reclassification_breach=True)


def attainment(since: datetime, until: datetime) -> list[dict]:
    """Return one row per (month, plan, severity, metric) of the months (UTC) from
    ``since``'s to the one before ``until``: met, breached, reclassification
    breaches, best effort, open, and the attainment percentage of met / (met +
    breached). Two queries: the roll-ups, and the clocks still running or paused
    without a breach (the backlog, by the partial index on their start)."""
    first = rollups.month_of(since)
    last = rollups.month_of(until - timedelta(microseconds=1))
    buckets: dict[tuple, dict] = {}

    def bucket(month, metric, plan, severity_level, severity_name) -> dict:
        key = (month, plan, severity_level, metric)
        if key not in buckets:
            buckets[key] = {
                "month": month,
                "plan": plan,
                "level": severity_level,
                "severity": severity_name or "all tickets",
                "metric": SLOClock.Metric(metric).label,
                "met": 0,
                "breached": 0,
                "reclassified": 0,
                "best_effort": 0,
                "open": 0,
            }
        return buckets[key]

    counted = SLOAttainmentMonth.objects.filter(
        month__gte=first, month__lte=last
    ).values_list(
        "month",
        "metric",
        "plan__name",
        "severity__level",
        "severity__name",
        *rollups.COUNTERS[:-1],
    )
    for month, metric, plan, level, name, *counts in counted:
        row = bucket(month, metric, plan, level, name)
        for counter, value in zip(rollups.COUNTERS, counts, strict=False):
            row[counter] += value
    unfinished = (
        SLOClock.objects.filter(
            rollups.UNFINISHED,
            started_at__gte=datetime.combine(first, datetime.min.time(), tzinfo=UTC),
            started_at__lt=until,
        )
        .order_by()
        .annotate(month=rollups.MONTH)
        .values_list(
            "month",
            "metric",
            "ticket__plan__name",
            "ticket__severity__level",
            "ticket__severity__name",
        )
        .annotate(clocks=Count("pk"))
    )
    for month, metric, plan, level, name, clocks in unfinished:
        bucket(month, metric, plan, level, name)["open"] += clocks
    rows = sorted(
        buckets.values(),
        key=lambda r: (
            -r["month"].toordinal(),
            r["plan"],
            r["level"] is None,
            r["level"] or 0,
            r["metric"],
        ),
    )
    for row in rows:
        decided = row["met"] + row["breached"]
        row["attainment"] = round(100 * row["met"] / decided, 1) if decided else None
        del row["level"]
    return rows


def attainment_from_clocks(since: datetime, until: datetime) -> list[dict]:
    """Return one row per (month, plan, severity, metric) of clocks started in
    [since, until): met, breached, reclassification breaches, best effort, open,
    and the attainment percentage of met / (met + breached), aggregated from every
    clock (months in UTC)."""
    rows = (
        SLOClock.objects.filter(started_at__gte=since, started_at__lt=until)
        .annotate(month=TruncMonth("started_at", tzinfo=UTC))
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
