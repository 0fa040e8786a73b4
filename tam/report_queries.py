"""The aggregate queries behind the TAM hours reports: a constant number per page.

The database sums the entries (``GROUP BY`` bucket, activity, agent); Python only
folds the few hundred resulting rows (``tam.reports``). A month's report is three
queries whatever the number of contracts or entries.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F, Q, Sum

from accounts.models import User
from tam import reports
from tam.models import IN_SCOPE, OUT_OF_SCOPE, HourBucket, TAMContract, TimeEntry


@dataclass(frozen=True)
class BucketTotals:
    used: int
    change_order: int
    best_effort: int


def bucket_totals(bucket_ids: Iterable[int]) -> dict[int, BucketTotals]:
    """Return per bucket the in-scope, change-order and best-effort minutes."""
    rows = (
        TimeEntry.objects.filter(bucket_id__in=list(bucket_ids))
        .values("bucket_id")
        .annotate(
            used=Sum("minutes", filter=Q(activity__in=IN_SCOPE)),
            change_order=Sum("minutes", filter=Q(activity__in=OUT_OF_SCOPE)),
            best_effort=Sum("best_effort_minutes"),
        )
        .order_by()
    )
    return {
        row["bucket_id"]: BucketTotals(
            row["used"] or 0, row["change_order"] or 0, row["best_effort"] or 0
        )
        for row in rows
    }


def month_bounds(month: date) -> tuple[date, date]:
    """Return the first day of ``month`` and of the month after."""
    first = month.replace(day=1)
    days = calendar.monthrange(first.year, first.month)[1]
    return first, first + timedelta(days=days)


@dataclass
class MonthReport:
    month: date
    lines: list[reports.ReportLine]

    @property
    def totals(self) -> reports.TermTotals:
        return reports.term_totals([line.figures for line in self.lines])

    @property
    def chart(self) -> list[reports.ChartBar]:
        return reports.chart_bars(self.lines)


def _bucket_rows(buckets) -> list[reports.Bucket]:
    return [
        reports.Bucket(
            pk=row["pk"],
            contract_id=row["contract_id"],
            organization=row["contract__organization__name"],
            tam=row["contract__tam__full_name"] or row["contract__tam__email"],
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            allotted=row["allotted_minutes"],
            rollover=row["rollover_minutes"],
            banked=row["banked_minutes"],
        )
        for row in buckets.values(
            "pk",
            "contract_id",
            "contract__organization__name",
            "contract__tam__full_name",
            "contract__tam__email",
            "starts_on",
            "ends_on",
            "allotted_minutes",
            "rollover_minutes",
            "banked_minutes",
        )
    ]


def _lines(buckets: list[reports.Bucket], entries) -> list[reports.ReportLine]:
    rows = list(
        entries.values("bucket_id", "activity", "agent_id")
        .annotate(minutes=Sum("minutes"))
        .order_by()
    )
    agent_ids = {row["agent_id"] for row in rows}
    names = (
        {
            u["pk"]: u["full_name"] or u["email"]
            for u in User.objects.filter(pk__in=agent_ids).values(
                "pk", "full_name", "email"
            )
        }
        if agent_ids
        else {}
    )
    return reports.lines_from_rows(buckets, rows, names, IN_SCOPE)


def month_report(month: date) -> MonthReport:
    """Return every contract's bucket that starts in ``month`` with its figures.

    Buckets of a cancelled renewal after the day it was cancelled are left out:
    there was no service then. Three queries.
    """
    first, after = month_bounds(month)
    buckets = (
        HourBucket.objects.filter(starts_on__gte=first, starts_on__lt=after)
        .exclude(
            contract__status=TAMContract.Status.CANCELLED,
            starts_on__gt=F("contract__cancelled_on"),
        )
        .order_by("contract__organization__name", "contract_id")
    )
    bucket_rows = _bucket_rows(buckets)
    if not bucket_rows:
        return MonthReport(first, [])
    entries = TimeEntry.objects.filter(
        bucket__starts_on__gte=first, bucket__starts_on__lt=after
    )
    return MonthReport(first, _lines(bucket_rows, entries))


@dataclass
class ContractReport:
    contract: TAMContract
    lines: list[reports.ReportLine]

    @property
    def totals(self) -> reports.TermTotals:
        return reports.term_totals([line.figures for line in self.lines])

    @property
    def chart(self) -> list[reports.ChartBar]:
        return reports.chart_bars(
            self.lines, label=lambda line: f"{line.starts_on:%b %Y}"
        )

    @property
    def bank_unscheduled(self) -> int:
        """Return the banked minutes not yet scheduled into a month of the term."""
        scheduled = sum(line.figures.banked for line in self.lines)
        return max(self.contract.banked_minutes - scheduled, 0)


def contract_report(contract: TAMContract) -> ContractReport:
    """Return a contract's term month by month, with the term's totals."""
    buckets = contract.buckets.order_by("starts_on")
    bucket_rows = _bucket_rows(buckets)
    entries = TimeEntry.objects.filter(contract=contract)
    return ContractReport(contract, _lines(bucket_rows, entries))
