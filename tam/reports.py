"""Monthly TAM hours reports from aggregated figures: pure values, no ORM.

``tam.report_queries`` runs the few aggregate queries; this module turns their rows
into report lines, term totals, CSV rows and chart geometry. Minutes are integers
everywhere; hours appear only when formatted.

A month with 20 h allotted, 2 h rolled over and 25 h of in-scope work:
allowance 22 h, used 25 h, remaining 0, over the allotment (best effort) 3 h.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

__all__ = [
    "BucketFigures",
    "ChartBar",
    "ReportLine",
    "SvgChart",
    "TermTotals",
    "chart_bars",
    "csv_cell",
    "csv_header",
    "csv_row",
    "csv_safe",
    "hh_mm",
    "hours",
    "lines_from_rows",
    "own_allowance_and_use",
    "svg_layout",
    "term_totals",
    "unused_of_term",
]


def hours(minutes: int) -> Decimal:
    """Return minutes as hours with two decimals: 95 -> Decimal('1.58')."""
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))


def hh_mm(minutes: int) -> str:
    """Return minutes as h:mm: 95 -> '1:35', 0 -> '0:00'."""
    sign = "-" if minutes < 0 else ""
    whole, rest = divmod(abs(minutes), 60)
    return f"{sign}{whole}:{rest:02d}"


@dataclass(frozen=True)
class BucketFigures:
    """One contract month: its allowance and what was logged against it."""

    allotted: int
    rollover: int = 0
    used: int = 0  # in-scope minutes: billable, drawing down the allowance
    change_order: int = 0  # out-of-scope minutes, billed through change orders
    banked: int = 0  # the previous term's banked minutes scheduled into this month

    @property
    def allowance(self) -> int:
        return self.allotted + self.rollover + self.banked

    @property
    def unused(self) -> int:
        """Minutes of the month's own allowance left unused: what the contract's
        choice (roll over, bank, lapse) applies to. Banked minutes are used first
        and are never carried again."""
        own, used = own_allowance_and_use(self.allowance, self.banked, self.used)
        return max(own - used, 0)

    @property
    def remaining(self) -> int:
        return max(self.allowance - self.used, 0)

    @property
    def over(self) -> int:
        """Minutes beyond the allowance: worked on a best-effort basis."""
        return max(self.used - self.allowance, 0)

    @property
    def is_exhausted(self) -> bool:
        return self.used >= self.allowance


@dataclass
class ReportLine:
    """One contract's month in a report."""

    contract_id: int
    bucket_id: int
    organization: str
    tam: str
    starts_on: date
    ends_on: date
    figures: BucketFigures
    by_activity: dict[str, int] = field(default_factory=dict)
    by_agent: dict[str, int] = field(default_factory=dict)

    @property
    def agents_sorted(self) -> list[tuple[str, int]]:
        return sorted(self.by_agent.items(), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True)
class Bucket:
    """What a report needs of a bucket row (``report_queries`` builds these)."""

    pk: int
    contract_id: int
    organization: str
    tam: str
    starts_on: date
    ends_on: date
    allotted: int
    rollover: int
    banked: int = 0


def lines_from_rows(
    buckets: Sequence[Bucket],
    rows: Iterable[Mapping],
    agent_names: Mapping[int, str],
    in_scope: Iterable[str],
) -> list[ReportLine]:
    """Fold aggregate rows into one line per bucket.

    ``rows`` are ``{"bucket_id", "activity", "agent_id", "minutes"}`` sums (one per
    bucket, activity and agent); buckets without rows get zero lines.
    """
    in_scope = frozenset(in_scope)
    used: dict[int, int] = {}
    change_order: dict[int, int] = {}
    by_activity: dict[int, dict[str, int]] = {}
    by_agent: dict[int, dict[str, int]] = {}
    for row in rows:
        pk, minutes, activity = row["bucket_id"], row["minutes"] or 0, row["activity"]
        target = used if activity in in_scope else change_order
        target[pk] = target.get(pk, 0) + minutes
        acts = by_activity.setdefault(pk, {})
        acts[activity] = acts.get(activity, 0) + minutes
        name = agent_names.get(row["agent_id"], f"agent {row['agent_id']}")
        agents = by_agent.setdefault(pk, {})
        agents[name] = agents.get(name, 0) + minutes
    return [
        ReportLine(
            contract_id=b.contract_id,
            bucket_id=b.pk,
            organization=b.organization,
            tam=b.tam,
            starts_on=b.starts_on,
            ends_on=b.ends_on,
            figures=BucketFigures(
                allotted=b.allotted,
                rollover=b.rollover,
                banked=b.banked,
                used=used.get(b.pk, 0),
                change_order=change_order.get(b.pk, 0),
            ),
            by_activity=by_activity.get(b.pk, {}),
            by_agent=by_agent.get(b.pk, {}),
        )
        for b in buckets
    ]


def unused_of_term(months: Iterable[tuple[int, int]]) -> int:
    """Return the minutes a term left unused, from (allowance, used) per month.

    A month's overrun does not eat another month's allowance:
    [(600, 700), (600, 500)] -> 100.
    """
    return sum(max(allowance - used, 0) for allowance, used in months)


def own_allowance_and_use(allowance: int, banked: int, used: int) -> tuple[int, int]:
    """Return a month's (allowance, used) without its scheduled banked minutes,
    which work draws on first: 600 allotted + 120 banked, 200 used -> (600, 80)."""
    return allowance - banked, max(used - banked, 0)


@dataclass(frozen=True)
class TermTotals:
    """A term's totals, for invoicing at renewal or at the end of the contract."""

    months: int
    allotted: int
    rollover: int
    used: int
    banked: int
    within_allowance: int
    over: int
    unused: int
    change_order: int
    remaining: int = 0  # every month's allowance left, banked minutes included


def term_totals(figures: Sequence[BucketFigures]) -> TermTotals:
    """Return the totals of a term's months.

    Two months of 600 allotted, using 700 and 500: used 1,200, within the
    allowance 1,100, over 100, unused 100 (rolled into a renewal, banked or lapsed,
    as the contract says; banked minutes left over lapse and are not counted).
    """
    return TermTotals(
        months=len(figures),
        allotted=sum(f.allotted for f in figures),
        rollover=sum(f.rollover for f in figures),
        used=sum(f.used for f in figures),
        banked=sum(f.banked for f in figures),
        within_allowance=sum(min(f.used, f.allowance) for f in figures),
        over=sum(f.over for f in figures),
        unused=sum(f.unused for f in figures),
        change_order=sum(f.change_order for f in figures),
        remaining=sum(f.remaining for f in figures),
    )


@dataclass(frozen=True)
class ChartBar:
    """Geometry of one horizontal bar, in percent of the chart's width."""

    label: str
    allowance_pct: float
    within_pct: float
    over_pct: float
    caption: str
    is_over: bool


def chart_bars(
    lines: Sequence[ReportLine], label: Callable[[ReportLine], str] | None = None
) -> list[ChartBar]:
    """Return one bar per line, all on one scale (the largest allowance or use),
    labelled by organisation unless ``label`` says otherwise.

    A manager reads it at a glance: the grey box is the allowance, the green fill
    what was used within it and the red tail what went beyond it.
    """
    scale = max(
        [max(line.figures.allowance, line.figures.used) for line in lines] or [0]
    )
    if scale <= 0:
        scale = 1
    bars = []
    for line in lines:
        f = line.figures
        within = min(f.used, f.allowance)
        bars.append(
            ChartBar(
                label=label(line) if label else line.organization,
                allowance_pct=round(100 * f.allowance / scale, 2),
                within_pct=round(100 * within / scale, 2),
                over_pct=round(100 * f.over / scale, 2),
                caption=f"{hh_mm(f.used)} of {hh_mm(f.allowance)} h",
                is_over=f.over > 0,
            )
        )
    return bars


def csv_header(activities: Sequence[tuple[str, str]]) -> list[str]:
    """Return the CSV header: figures in hours, then one column per activity."""
    return [
        "organisation",
        "contract",
        "month starts",
        "month ends",
        "TAM",
        "allotted h",
        "rollover h",
        "banked h",
        "allowance h",
        "used h",
        "remaining h",
        "over allotment h (best effort)",
        "change-order h",
        *(f"{label} h" for _, label in activities),
        "hours by agent",
    ]


CsvCell = str | int | Decimal


def csv_row(line: ReportLine, activities: Sequence[tuple[str, str]]) -> list[CsvCell]:
    """Return one line's CSV cells: text as ``str``, figures as numbers (so that
    ``csv_safe`` escapes the text and leaves the figures alone)."""
    f = line.figures
    return [
        line.organization,
        line.contract_id,
        line.starts_on.isoformat(),
        line.ends_on.isoformat(),
        line.tam,
        hours(f.allotted),
        hours(f.rollover),
        hours(f.banked),
        hours(f.allowance),
        hours(f.used),
        hours(f.remaining),
        hours(f.over),
        hours(f.change_order),
        *(hours(line.by_activity.get(value, 0)) for value, _ in activities),
        "; ".join(f"{name}: {hours(m)}" for name, m in line.agents_sorted),
    ]


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV
# Injection"): =HYPERLINK(...) in an organisation's name would run on the
# manager's machine when the export is opened.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: CsvCell | None) -> CsvCell | None:
    """Return a cell safe to open in a spreadsheet.

    Text (``str``) that starts with a formula trigger gets a leading single quote,
    which spreadsheets show as text; numbers are figures and stay numbers:
    '=SUM(A1)' -> "'=SUM(A1)", '-x' -> "'-x", 'Acme' -> 'Acme',
    Decimal('-3.50') -> Decimal('-3.50').
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return f"'{value}"
    return value


def csv_safe(row: Iterable[CsvCell | None]) -> list[CsvCell | None]:
    """Return ``row`` with every text cell made safe by ``csv_cell``."""
    return [csv_cell(value) for value in row]


@dataclass(frozen=True)
class SvgRow:
    label: str
    caption: str
    y: int
    text_y: int
    allowance_width: float
    within_width: float
    over_x: float
    over_width: float
    is_over: bool


@dataclass(frozen=True)
class SvgChart:
    width: int
    height: int
    bar_x: int
    caption_x: int
    rows: list[SvgRow]


def svg_layout(
    bars: Sequence[ChartBar],
    *,
    label_width: int = 240,
    bar_width: int = 520,
    caption_width: int = 160,
    row_height: int = 28,
) -> SvgChart:
    """Return the coordinates of an inline SVG bar chart, one row per bar.

    Labels on the left, the bar in the middle (a grey allowance box, the green
    part used within it, a red tail beyond it), the "used of allowance" caption on
    the right.
    """
    rows = []
    for i, bar in enumerate(bars):
        y = i * row_height
        allowance = bar_width * bar.allowance_pct / 100
        within = bar_width * bar.within_pct / 100
        rows.append(
            SvgRow(
                label=bar.label,
                caption=bar.caption,
                y=y + 6,
                text_y=y + row_height // 2 + 5,
                allowance_width=round(allowance, 1),
                within_width=round(within, 1),
                over_x=round(label_width + allowance, 1),
                over_width=round(bar_width * bar.over_pct / 100, 1),
                is_over=bar.is_over,
            )
        )
    return SvgChart(
        width=label_width + bar_width + caption_width,
        height=max(len(bars), 1) * row_height,
        bar_x=label_width,
        caption_x=label_width + bar_width + 8,
        rows=rows,
    )
