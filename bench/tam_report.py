"""Benchmark the monthly TAM hours report on PostgreSQL: database aggregation against
summing in Python, on 200 contracts x 24 months x 1,000 entries (4.8 M entries).

Run from the repository root: `.venv/bin/python bench/tam_report.py [--fresh]`. It
creates (or reuses, when it already holds this data set) the database
`helpdesk_bench` on the server of DATABASE_URL (default
postgres://postgres@127.0.0.1:5432), migrates it, loads the entries with COPY and
prints, for one month's report (200 contracts, 200,000 entries), the time and query
count of `tam.report_queries.month_report` (GROUP BY in the database) and of a
baseline that fetches the month's entries and sums them in Python, the ratio, and
whether both give the same figures; then the per-contract term page and every one
of the 24 months. It exits 0 whatever the results: it is a report, not a gate.

The 200 contracts are 200 customers each with a 12-month term and its renewal, so
that every customer has 24 monthly buckets (a term is at most 12 months).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED = 20270201
CUSTOMERS = 200
MONTHS = 24
ENTRIES_PER_MONTH = 1_000
AGENTS = 20
FIRST_START = date(2025, 1, 1)
REPORT_MONTH = date(2025, 9, 1)
BENCH_DB = "helpdesk_bench"
ROUNDS = 5
GOAL_SECONDS = 1.0


def _database_urls() -> tuple[str, str]:
    """Return (server URL on the `postgres` database, URL of the bench database)."""
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        sys.exit(
            "bench/tam_report.py needs PostgreSQL: set DATABASE_URL=postgres://..."
        )
    server = urlunsplit(parts._replace(path="/postgres"))
    return server, urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def _loaded_entries(bench_url: str) -> int:
    """Return how many entries the bench database holds (0 if it is not there)."""
    import psycopg

    try:
        with psycopg.connect(bench_url) as conn:
            return conn.execute("SELECT count(*) FROM tam_timeentry").fetchone()[0]
    except psycopg.Error:
        return 0


def _create_database(server_url: str) -> None:
    """Create the bench database, dropping any previous one."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def _setup_django(bench_url: str) -> None:
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _expected_entries() -> int:
    return CUSTOMERS * MONTHS * ENTRIES_PER_MONTH


def _load() -> None:
    """Create customers, agents, contracts, buckets and change orders with the ORM,
    then COPY the entries in (foreign-key triggers off while copying)."""
    from django.db import connection, transaction

    from accounts.models import Organization, User
    from tam import terms
    from tam.models import IN_SCOPE, Activity, ChangeOrder, HourBucket, TAMContract

    rng = random.Random(SEED)
    started = time.perf_counter()
    with transaction.atomic():
        agents = User.objects.bulk_create(
            User(
                email=f"agent{i:02d}@bench.example",
                full_name=f"Agent {i:02d}",
                is_staff=True,
                password="!",
            )
            for i in range(AGENTS)
        )
        pm = User.objects.create(
            email="pm@bench.example", full_name="Bench PM", is_staff=True, password="!"
        )
        orgs = Organization.objects.bulk_create(
            Organization(
                name=f"Bench customer {i:03d}",
                slug=f"bench-{i:03d}",
                time_zone="America/Los_Angeles",
                licence_active_until=date(2030, 12, 31),
            )
            for i in range(CUSTOMERS)
        )
        first_terms = []
        for i, org in enumerate(orgs):
            hours = 10 + 5 * (i % 11)
            first_terms.append(
                TAMContract(
                    organization=org,
                    tam=agents[i % AGENTS],
                    backup_tam=agents[(i + 1) % AGENTS],
                    project_manager=pm if hours >= 30 else None,
                    signed_on=FIRST_START - timedelta(days=31),
                    starts_on=FIRST_START,
                    ends_on=terms.term_end(FIRST_START, 12),
                    term_months=12,
                    hours_per_month=hours,
                    time_zone="America/Los_Angeles",
                    status=TAMContract.Status.ENDED,
                )
            )
        first_terms = TAMContract.objects.bulk_create(first_terms)
        second_start = terms.add_months(FIRST_START, 12)
        renewals = TAMContract.objects.bulk_create(
            TAMContract(
                organization_id=c.organization_id,
                tam_id=c.tam_id,
                backup_tam_id=c.backup_tam_id,
                project_manager_id=c.project_manager_id,
                signed_on=c.signed_on,
                starts_on=second_start,
                ends_on=terms.term_end(second_start, 12),
                term_months=12,
                hours_per_month=c.hours_per_month,
                time_zone=c.time_zone,
                status=TAMContract.Status.ACTIVE,
                renews=c,
            )
            for c in first_terms
        )
        contracts = first_terms + renewals
        orders = ChangeOrder.objects.bulk_create(
            ChangeOrder(
                contract=c,
                reference=f"BENCH-CO-{c.pk}",
                title="Custom login flow",
                status=ChangeOrder.Status.APPROVED,
            )
            for c in contracts
        )
        order_of = {o.contract_id: o.pk for o in orders}
        buckets = HourBucket.objects.bulk_create(
            HourBucket(
                contract=c,
                index=p.index,
                starts_on=p.starts_on,
                ends_on=p.ends_on,
                allotted_minutes=c.hours_per_month * 60,
            )
            for c in contracts
            for p in terms.bucket_periods(c.starts_on, c.term_months)
        )
    print(
        f"  {len(orgs)} customers, {len(contracts)} contracts, {len(buckets)} "
        f"buckets in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    agent_of = {c.pk: (c.tam_id, c.backup_tam_id) for c in contracts}
    agent_ids = [a.pk for a in agents]
    in_scope = [str(a) for a in IN_SCOPE]
    columns = (
        "contract_id, bucket_id, agent_id, worked_on, minutes, activity, ticket_id, "
        "change_order_id, note, best_effort_minutes, created_at"
    )
    started = time.perf_counter()
    written = 0
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # skip FK triggers
        with cursor.copy(f"COPY tam_timeentry ({columns}) FROM STDIN") as copy:
            for bucket in buckets:
                tam_id, backup_id = agent_of[bucket.contract_id]
                days = (bucket.ends_on - bucket.starts_on).days + 1
                allowance = bucket.allotted_minutes
                used = 0
                lines = []
                for _ in range(ENTRIES_PER_MONTH):
                    roll = rng.random()
                    agent = (
                        tam_id
                        if roll < 0.6
                        else backup_id
                        if roll < 0.85
                        else (rng.choice(agent_ids))
                    )
                    minutes = rng.randint(1, 4)
                    worked_on = bucket.starts_on + timedelta(days=rng.randrange(days))
                    if rng.random() < 0.02:
                        activity, order, best = (
                            str(Activity.CUSTOMER_CODE),
                            str(order_of[bucket.contract_id]),
                            0,
                        )
                    else:
                        activity, order = rng.choice(in_scope), "\\N"
                        best = max(minutes - max(allowance - used, 0), 0)
                        used += minutes
                    lines.append(
                        f"{bucket.contract_id}\t{bucket.pk}\t{agent}\t{worked_on}\t"
                        f"{minutes}\t{activity}\t\\N\t{order}\t\t{best}\t"
                        "2027-01-01 00:00:00+00\n"
                    )
                copy.write("".join(lines))
                written += ENTRIES_PER_MONTH
                if written % 400_000 == 0:
                    rate = written / (time.perf_counter() - started)
                    print(f"  {written:>9,} entries copied ({rate:,.0f}/s)", flush=True)
        cursor.execute("SET session_replication_role = origin")
    raw.commit()
    print(f"  COPY done in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    with raw.cursor() as cursor:
        raw.autocommit = True
        cursor.execute("VACUUM ANALYZE tam_timeentry")
        cursor.execute("VACUUM ANALYZE tam_hourbucket")
        cursor.execute("VACUUM ANALYZE tam_tamcontract")
        raw.autocommit = False
    print(f"  VACUUM ANALYZE in {time.perf_counter() - started:.1f} s", flush=True)


def _count_entries() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tam_timeentry")
        return cursor.fetchone()[0]


def python_month_report(month: date):
    """The baseline: the same report, with the month's entries fetched and summed in
    Python (the buckets query is the same as the aggregated version's)."""
    from accounts.models import User
    from tam import report_queries, reports
    from tam.models import IN_SCOPE, HourBucket, TAMContract, TimeEntry

    first, after = report_queries.month_bounds(month)
    buckets = report_queries._bucket_rows(
        HourBucket.objects.filter(starts_on__gte=first, starts_on__lt=after)
        .exclude(contract__status=TAMContract.Status.CANCELLED)
        .order_by("contract__organization__name", "contract_id")
    )
    sums: dict[tuple[int, str, int], int] = {}
    for bucket_id, activity, agent_id, minutes in TimeEntry.objects.filter(
        bucket__starts_on__gte=first, bucket__starts_on__lt=after
    ).values_list("bucket_id", "activity", "agent_id", "minutes"):
        key = (bucket_id, activity, agent_id)
        sums[key] = sums.get(key, 0) + minutes
    rows = [
        {"bucket_id": b, "activity": a, "agent_id": g, "minutes": m}
        for (b, a, g), m in sums.items()
    ]
    names = {
        u["pk"]: u["full_name"] or u["email"]
        for u in User.objects.filter(pk__in={r["agent_id"] for r in rows}).values(
            "pk", "full_name", "email"
        )
    }
    return report_queries.MonthReport(
        first, reports.lines_from_rows(buckets, rows, names, IN_SCOPE)
    )


def _measure(
    fn: Callable[[], object], rounds: int = ROUNDS
) -> tuple[list[float], int, object]:
    """Return the wall times of `rounds` runs, the queries of one, and its result."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm caches: the comparison is steady state against steady state
    times = []
    result = None
    queries = 0
    for _ in range(rounds):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            result = fn()
            times.append(time.perf_counter() - started)
        queries = len(captured.captured_queries)
    return times, queries, result


def _figures(report) -> list[tuple]:
    return [
        (
            line.bucket_id,
            line.figures,
            sorted(line.by_activity.items()),
            sorted(line.by_agent.items()),
        )
        for line in report.lines
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fresh", action="store_true", help="drop and reload the bench database"
    )
    args = parser.parse_args()
    server_url, bench_url = _database_urls()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; database "
        f"{BENCH_DB} on {urlsplit(server_url).hostname}"
    )
    expected = _expected_entries()
    reuse = not args.fresh and _loaded_entries(bench_url) == expected
    if not reuse:
        _create_database(server_url)
    _setup_django(bench_url)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        print(f"PostgreSQL {cursor.fetchone()[0]}")
    if reuse:
        print(
            f"Reusing the {expected:,} entries already loaded (--fresh reloads them)."
        )
    else:
        print(
            f"Loading {expected:,} entries "
            f"({CUSTOMERS} customers x {MONTHS} months x {ENTRIES_PER_MONTH:,})..."
        )
        _load()
    have = _count_entries()

    from tam import report_queries
    from tam.models import TAMContract

    month = REPORT_MONTH
    print(
        f"\nThe monthly report for {month:%B %Y} "
        f"({CUSTOMERS} contracts, {CUSTOMERS * ENTRIES_PER_MONTH:,} entries), "
        f"best and median of {ROUNDS} runs:"
    )
    db_times, db_queries, db_report = _measure(
        lambda: report_queries.month_report(month)
    )
    py_times, py_queries, py_report = _measure(
        lambda: python_month_report(month), rounds=3
    )
    same = _figures(db_report) == _figures(py_report)
    best_db, best_py = min(db_times), min(py_times)
    print(
        f"  aggregated in the database: {best_db * 1000:8.1f} ms best, "
        f"{statistics.median(db_times) * 1000:8.1f} ms median, {db_queries} queries"
    )
    print(
        f"  summed in Python (baseline): {best_py * 1000:7.1f} ms best, "
        f"{statistics.median(py_times) * 1000:8.1f} ms median, {py_queries} queries"
    )
    print(f"  ratio: the database aggregation is {best_py / best_db:.1f}x faster")
    print(
        f"  same figures: {'yes' if same else 'NO'} "
        f"({len(db_report.lines)} lines, {db_report.totals.used:,} minutes used)"
    )

    contract = TAMContract.objects.order_by("pk").first()
    term_times, term_queries, _ = _measure(
        lambda: report_queries.contract_report(contract)
    )
    print(
        f"\nOne contract's term page (12 months, {12 * ENTRIES_PER_MONTH:,} entries): "
        f"{min(term_times) * 1000:.1f} ms, {term_queries} queries"
    )

    per_month = []
    counts = set()
    for i in range(MONTHS):
        first = date(FIRST_START.year + i // 12, i % 12 + 1, 1)
        times, queries, report = _measure(
            lambda first=first: report_queries.month_report(first), rounds=1
        )
        per_month.append(times[0])
        counts.add(queries)
        assert len(report.lines) == CUSTOMERS
    print(
        f"Every one of the {MONTHS} months: slowest {max(per_month) * 1000:.1f} ms, "
        f"median {statistics.median(per_month) * 1000:.1f} ms; queries per month "
        f"{sorted(counts)}"
    )

    print("\nGoals:")
    print(
        f"  [{'pass' if best_db < GOAL_SECONDS else 'FAIL'}] the monthly report in "
        f"under {GOAL_SECONDS:.0f} s on {have:,} entries ({best_db * 1000:.0f} ms)"
    )
    print(
        f"  [{'pass' if len(counts) == 1 else 'FAIL'}] a constant number of queries "
        f"({sorted(counts)} for every month)"
    )
    print(f"  [{'pass' if same else 'FAIL'}] the same figures as the Python baseline")


if __name__ == "__main__":
    main()
