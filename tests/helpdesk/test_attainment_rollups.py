"""The monthly SLO attainment roll-ups: kept by each transition that decides a
clock's outcome, always equal to a rebuild from the clocks, and what the report
shows."""

import importlib
import random
import threading
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection

from helpdesk import alerts, clocks, reports, services, severity
from helpdesk.attainment import rollups
from helpdesk.models import SeverityChange, SLOAttainmentMonth, SLOClock, Ticket
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 27, 17, tzinfo=UTC)  # a Tuesday, four days before February
JUSTIFIED = "Since 09:05 every production login fails for all users."


def counted() -> dict:
    """The roll-up rows with anything in them (an increment can leave a row at 0)."""
    return {
        (r.month, r.plan_id, r.severity_id, r.metric): (
            r.met,
            r.breached,
            r.reclassified,
            r.best_effort,
            r.total,
        )
        for r in SLOAttainmentMonth.objects.all()
        if any((r.met, r.breached, r.reclassified, r.best_effort, r.total))
    }


def assert_equal_to_a_rebuild() -> dict:
    incremental = counted()
    rollups.rebuild()
    assert counted() == incremental
    return incremental


def file(admin, level: int) -> Ticket:
    return services.open_ticket(
        admin.organization,
        draft(
            severity=admin.organization.support_plan.severities.get(level=level),
            customer_contact="Ada, +1 555 0100",
        ),
        requester=admin.user,
        filed_by=admin.user,
    )


def change_severity(ticket: Ticket, level: int, agent) -> None:
    ticket.refresh_from_db()
    severity.request_severity_change(
        ticket,
        ticket.plan.severities.get(level=level),
        actor=agent,
        reason=JUSTIFIED,
        expected=ticket.severity,
        customer_contact="Ada, +1 555 0100, on call",
    )


def test_a_resolved_ticket_counts_its_clocks_once_and_a_reopen_takes_the_met_back():
    admin = administrator("janrain-platinum")
    agent = AgentFactory()
    with time_machine.travel(T0, tick=False) as traveller:
        ticket = file(admin, 3)
        assert counted() == {}  # running clocks are counted live, not here
        traveller.shift(timedelta(minutes=10))
        services.post_reply(ticket, author=agent, body="Looking now.")
        sev3 = ticket.severity_id
        key = (date(2026, 1, 1), ticket.plan_id, sev3)
        assert counted() == {(*key, "first_response"): (1, 0, 0, 0, 1)}

        traveller.shift(timedelta(hours=1))
        services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)
        assert counted() == {
            (*key, "first_response"): (1, 0, 0, 0, 1),
            (*key, "resolution"): (1, 0, 0, 0, 1),
        }

        traveller.shift(timedelta(hours=1))
        services.change_status(ticket, Ticket.Status.OPEN, actor=agent)
        assert counted() == {(*key, "first_response"): (1, 0, 0, 0, 1)}
    assert_equal_to_a_rebuild()


def test_a_late_upgrade_counts_a_reclassification_breach_under_the_new_severity():
    admin = administrator("janrain-platinum")
    agent = AgentFactory()
    with time_machine.travel(T0, tick=False) as traveller:
        ticket = file(admin, 3)
        sev3 = ticket.severity_id
        traveller.shift(timedelta(minutes=10))
        services.post_reply(ticket, author=agent, body="Looking now.")
        before = counted()
        # Sev1's resolution target (hours, every hour counting) has passed when the
        # upgrade comes; the next sweep records that breach.
        traveller.shift(timedelta(hours=30))
        change_severity(ticket, 1, agent)
        alerts.sweep()
    ticket.refresh_from_db()

    resolution = ticket.clocks.get(metric="resolution")
    assert resolution.breached_at is not None
    assert resolution.is_reclassification_breach
    january = date(2026, 1, 1)
    assert before == {
        (january, ticket.plan_id, sev3, "first_response"): (1, 0, 0, 0, 1)
    }
    assert counted() == {
        # The response met under Sev3 moved with the ticket.
        (january, ticket.plan_id, ticket.severity_id, "first_response"): (
            1,
            0,
            0,
            0,
            1,
        ),
        (january, ticket.plan_id, ticket.severity_id, "resolution"): (0, 0, 1, 0, 1),
    }
    assert ticket.severity_id != sev3
    assert_equal_to_a_rebuild()


def test_the_sweep_counts_the_breaches_it_records_and_best_effort_counts_apart():
    admin = administrator("jelastic")  # Level 1: 2 h response, every hour counts
    with time_machine.travel(T0, tick=False) as traveller:
        tickets = [file(admin, 1) for _ in range(3)]
        traveller.shift(timedelta(hours=3))
        alerts.sweep()
        clocks.make_best_effort(tickets[0], at=T0 + timedelta(hours=3), note="TAM")

    [(key, row)] = counted().items()
    assert key[3] == "first_response"
    # three breaches, one of them now best effort too (as the report always showed)
    assert row == (0, 3, 0, 1, 3)
    assert_equal_to_a_rebuild()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_leave_the_roll_ups_equal_to_a_rebuild(seed):
    rng = random.Random(seed)
    admins = [administrator("janrain-platinum"), administrator("jelastic")]
    agent = AgentFactory()
    tickets: list[Ticket] = []
    done: list[str] = []
    now = T0
    with time_machine.travel(now, tick=False) as traveller:
        for _ in range(70):
            now += timedelta(minutes=rng.choice([5, 20, 60, 180, 600, 1440]))
            traveller.move_to(now)
            action = rng.choice(
                ["file"] * 3
                + ["reply", "waiting", "open", "resolve", "resolve", "close"]
                + ["reopen", "upgrade", "downgrade", "best_effort", "sweep", "sweep"]
            )
            if action == "file" or not tickets:
                admin = rng.choice(admins)
                tickets.append(file(admin, rng.randint(1, 3)))
                continue
            resolved = list(Ticket.objects.filter(status=Ticket.Status.RESOLVED))
            if action == "reopen" and resolved:
                ticket = rng.choice(resolved)
            else:
                ticket = rng.choice(tickets)
                ticket.refresh_from_db()
            try:
                if action == "reply":
                    services.post_reply(ticket, author=agent, body="On it.")
                elif action in ("waiting", "open", "reopen", "resolve", "close"):
                    status = {
                        "waiting": Ticket.Status.WAITING_ON_CUSTOMER,
                        "open": Ticket.Status.OPEN,
                        "reopen": Ticket.Status.OPEN,
                        "resolve": Ticket.Status.RESOLVED,
                        "close": Ticket.Status.CLOSED,
                    }[action]
                    action = "reopen" if ticket.status == "resolved" else action
                    services.change_status(ticket, status, actor=agent)
                elif action in ("upgrade", "downgrade"):
                    levels = sorted(s.level for s in ticket.plan.severities.all())
                    current = ticket.severity.level
                    step = -1 if action == "upgrade" else 1
                    if current + step not in levels:
                        continue
                    change_severity(ticket, current + step, agent)
                elif action == "best_effort":
                    clocks.make_best_effort(ticket, at=now, note="TAM hours used up")
                else:
                    alerts.sweep()
            except ValidationError:
                continue  # not allowed now (the lifecycle, a cap, a pending change)
            done.append(action)
            assert_equal_to_a_rebuild()

    rows = assert_equal_to_a_rebuild()
    # The history did what the test is about: outcomes decided, undone and moved.
    assert {"reopen", "resolve", "sweep"} <= set(done)
    assert SeverityChange.objects.filter(state="applied").exists()
    assert sum(r[4] for r in rows.values()) > 0  # outcomes decided
    assert sum(r[1] + r[2] for r in rows.values()) > 0  # breaches among them
    assert len({key[0] for key in rows}) >= 2  # across a month boundary
    # The report over the roll-ups says what the aggregation over every clock says.
    since, until = datetime(2025, 12, 1, tzinfo=UTC), now + timedelta(days=1)
    fast, slow = (
        reports.attainment(since, until),
        reports.attainment_from_clocks(since, until),
    )
    columns = ["month", "plan", "severity", "metric", "met", "breached"]
    columns += ["reclassified", "best_effort", "attainment"]

    def pick(rows: list[dict]) -> list[tuple]:
        return [
            tuple(str(r[c]) if c == "month" else r[c] for c in columns) for r in rows
        ]

    assert pick(fast) == [
        tuple(str(r["month"].date()) if c == "month" else r[c] for c in columns)
        for r in slow
    ]
    # "Still open": the clocks without an outcome, each once.
    assert (
        sum(r["open"] for r in fast)
        == SLOClock.objects.filter(rollups.UNFINISHED).count()
    )


def test_the_command_rebuilds_lost_or_wrong_rows():
    admin = administrator("janrain-platinum")
    agent = AgentFactory()
    with time_machine.travel(T0, tick=False):
        ticket = file(admin, 3)
        services.post_reply(ticket, author=agent, body="Looking now.")
    expected = counted()
    SLOAttainmentMonth.objects.update(met=7)
    SLOAttainmentMonth.objects.create(
        month=date(2020, 1, 1), plan=ticket.plan, metric="resolution", total=3
    )
    out = StringIO()

    call_command("rebuild_slo_attainment", stdout=out)

    assert counted() == expected
    assert (
        out.getvalue().strip() == "Rebuilt 1 monthly attainment rows from the clocks."
    )


def test_a_failed_transition_counts_nothing(monkeypatch):
    admin = administrator("janrain-platinum")
    agent = AgentFactory()
    with time_machine.travel(T0, tick=False):
        ticket = file(admin, 3)

        def broken(*args, **kwargs):
            raise RuntimeError("outbox down")

        monkeypatch.setattr(services, "_notify_reply", broken)
        with pytest.raises(RuntimeError):
            services.post_reply(ticket, author=agent, body="Looking now.")

    assert counted() == {}
    assert ticket.clocks.get(metric="first_response").status == "running"


def test_the_month_is_the_utc_month_the_clock_started():
    assert rollups.month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(
        2026, 3, 1
    )
    new_york = datetime(2026, 3, 31, 20, 30, tzinfo=ZoneInfo("America/New_York"))
    assert rollups.month_of(new_york) == date(2026, 4, 1)  # 00:30 UTC


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")
def test_concurrent_resolutions_in_one_bucket_are_all_counted():
    admin = administrator("janrain-platinum")
    agents = [AgentFactory() for _ in range(6)]
    tickets = [file(admin, 3) for _ in agents]  # now: resolved within target
    barrier = threading.Barrier(len(agents))
    errors: list[BaseException] = []

    def resolve(ticket: Ticket, agent) -> None:
        try:
            barrier.wait()
            services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=resolve, args=pair)
        for pair in zip(tickets, agents, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = assert_equal_to_a_rebuild()
    assert sorted(rows.values()) == [(6, 0, 0, 0, 6), (6, 0, 0, 0, 6)]


def test_the_migration_backfills_what_a_rebuild_counts():
    admin = administrator("jelastic")
    agent = AgentFactory()
    with time_machine.travel(T0, tick=False) as traveller:
        first, second = file(admin, 1), file(admin, 3)
        services.post_reply(first, author=agent, body="On it.")
        traveller.shift(timedelta(days=2))
        alerts.sweep()
    expected = assert_equal_to_a_rebuild()
    SLOAttainmentMonth.objects.all().delete()
    migration = importlib.import_module("helpdesk.migrations.0017_attainment_rollups")

    migration.backfill(django_apps, SimpleNamespace(connection=connection))

    assert counted() == expected
    assert {key[3] for key in expected} == {"first_response"}
    assert second.clocks.get().breached_at is not None
