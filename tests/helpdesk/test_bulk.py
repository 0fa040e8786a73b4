"""The sweep's set-based statements (helpdesk.bulk) and the event log's constraints:
the same rows whichever database runs them (SQLite here, PostgreSQL in CI)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from helpdesk import alerts, bulk
from helpdesk.models import SLOClock, SLOEvent
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def two_clocks() -> list[SLOClock]:
    """The first-response and resolution clocks of a Janrain Platinum ticket."""
    admin = administrator("janrain-platinum")
    severity = admin.organization.support_plan.severities.get(level=1)
    ticket = file_ticket(admin, severity=severity, customer_contact="Ada, +1 555 0100")
    clocks_by_metric = {clock.metric: clock for clock in ticket.clocks.all()}
    return [clocks_by_metric["first_response"], clocks_by_metric["resolution"]]


def alert_row(clock: SLOClock, threshold: int, version: int = 1, note: str = ""):
    kind = "breach" if threshold == 100 else "warning"
    at = T0 + timedelta(minutes=threshold)
    return (clock.pk, kind, at, T0, T0, version, threshold, None, note)


ALERT_CONSTANTS = {"target": None, "target_label": "", "actor_id": None}


def test_insert_writes_rows_and_constants_and_leaves_out_conflicts(two_clocks):
    response, resolution = two_clocks
    recorded = T0 + timedelta(hours=1)
    constants = {**ALERT_CONSTANTS, "recorded_at": recorded}
    bulk.insert(
        SLOEvent,
        alerts._EVENT_COLUMNS,
        [alert_row(response, 75), alert_row(resolution, 100, note="caused by x")],
        constants=constants,
        ignore_conflicts=True,
    )
    # The same alert again, with a new one: only the new one is written.
    bulk.insert(
        SLOEvent,
        alerts._EVENT_COLUMNS,
        [alert_row(response, 75), alert_row(response, 90)],
        constants=constants,
        ignore_conflicts=True,
    )

    rows = list(
        SLOEvent.objects.alerts()
        .order_by("clock", "threshold")
        .values_list("clock", "kind", "threshold", "note", "recorded_at", "actor")
    )
    assert rows == [
        (response.pk, "warning", 75, "", recorded, None),
        (response.pk, "warning", 90, "", recorded, None),
        (resolution.pk, "breach", 100, "caused by x", recorded, None),
    ]
    event = SLOEvent.objects.get(clock=response, threshold=75)
    assert event.at == T0 + timedelta(minutes=75)
    assert event.due_before == event.due_after == T0


def test_insert_returns_what_it_inserted_and_not_what_it_left_out(two_clocks):
    response, resolution = two_clocks
    constants = {**ALERT_CONSTANTS, "recorded_at": T0}
    columns = ("clock_id", "threshold", "due_version")
    first = bulk.insert(
        SLOEvent,
        alerts._EVENT_COLUMNS,
        [alert_row(response, 75)],
        constants=constants,
        ignore_conflicts=True,
        returning=columns,
    )
    again = bulk.insert(
        SLOEvent,
        alerts._EVENT_COLUMNS,
        [alert_row(response, 75), alert_row(resolution, 90)],
        constants=constants,
        ignore_conflicts=True,
        returning=columns,
    )
    assert first == [(response.pk, 75, 1)]
    assert again == [(resolution.pk, 90, 1)]
    assert bulk.insert(SLOEvent, alerts._EVENT_COLUMNS, [], returning=columns) == []


def test_insert_returning_spans_statements_on_parameter_limits(two_clocks):
    """More rows than one SQLite statement takes (999 parameters): all returned."""
    response, _ = two_clocks
    rows = [alert_row(response, 75, version=v) for v in range(1, 301)]
    kwargs = {
        "constants": {**ALERT_CONSTANTS, "recorded_at": T0},
        "ignore_conflicts": True,
        "returning": ("due_version",),
    }
    inserted = bulk.insert(SLOEvent, alerts._EVENT_COLUMNS, rows, **kwargs)
    assert sorted(v for (v,) in inserted) == list(range(1, 301))
    assert bulk.insert(SLOEvent, alerts._EVENT_COLUMNS, rows, **kwargs) == []


def test_insert_without_ignore_conflicts_raises_and_writes_nothing(two_clocks):
    response, _ = two_clocks
    constants = {**ALERT_CONSTANTS, "recorded_at": T0}
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(
            SLOEvent,
            alerts._EVENT_COLUMNS,
            [alert_row(response, 75), alert_row(response, 75)],
            constants=constants,
        )
    assert not SLOEvent.objects.alerts().exists()


def test_update_sets_columns_by_primary_key_including_nulls(two_clocks):
    response, resolution = two_clocks
    later = T0 + timedelta(days=3)
    bulk.update(
        SLOClock,
        ("warning_90_at", "due_version", "breached_at"),
        [(response.pk, None, 4, T0), (resolution.pk, later, 2, None)],
    )
    response.refresh_from_db()
    resolution.refresh_from_db()
    assert (response.warning_90_at, response.due_version) == (None, 4)
    assert response.breached_at == T0
    assert (resolution.warning_90_at, resolution.due_version) == (later, 2)
    assert resolution.breached_at is None


def test_fetch_returns_typed_values(two_clocks):
    _, resolution = two_clocks
    rows = bulk.fetch(
        SLOClock.objects.filter(pk=resolution.pk).values_list(
            "pk", "started_at", "target", "metric", "is_reclassification_breach"
        )
    )
    assert rows == [
        (
            resolution.pk,
            resolution.started_at,
            resolution.target,
            "resolution",
            False,
        )
    ]
    assert isinstance(rows[0][2], timedelta)


def test_bulk_statements_show_in_the_query_log(two_clocks):
    response, _ = two_clocks
    with CaptureQueriesContext(connection) as queries:
        bulk.update(SLOClock, ("due_version",), [(response.pk, 2)])
    assert any("UPDATE" in query["sql"] for query in queries.captured_queries)


def test_an_alert_is_recorded_once_per_threshold_and_due_version(two_clocks):
    response, _ = two_clocks
    SLOEvent.objects.create(
        clock=response, kind="warning", at=T0, due_version=1, threshold=75
    )
    SLOEvent.objects.create(  # a later due version is armed again
        clock=response, kind="warning", at=T0, due_version=2, threshold=75
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        SLOEvent.objects.create(
            clock=response, kind="warning", at=T0, due_version=1, threshold=75
        )
    # Other events carry no threshold and repeat freely.
    for _ in range(2):
        SLOEvent.objects.create(clock=response, kind="pause", at=T0, due_version=1)
    assert SLOEvent.objects.filter(clock=response, kind="pause").count() == 2


@pytest.mark.parametrize(
    ("kind", "threshold"), [("warning", None), ("breach", None), ("pause", 75)]
)
def test_alerts_and_only_alerts_carry_a_threshold(two_clocks, kind, threshold):
    response, _ = two_clocks
    with pytest.raises(IntegrityError), transaction.atomic():
        SLOEvent.objects.create(
            clock=response, kind=kind, at=T0, due_version=1, threshold=threshold
        )


def test_clock_pages_keep_room_for_new_row_versions_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL storage parameter")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE relname = 'helpdesk_sloclock'"
        )
        (options,) = cursor.fetchone()
    assert "fillfactor=85" in options


def test_the_clock_start_index_is_brin_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("BRIN is PostgreSQL's; elsewhere the index is a B-tree")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'clock_started'"
        )
        (definition,) = cursor.fetchone()
    assert "USING brin (started_at)" in definition


def test_deleting_a_clock_deletes_its_events(two_clocks):
    """No database foreign key on SLOEvent.clock: Django's CASCADE does it."""
    response, resolution = two_clocks
    assert response.events.exists()
    response.delete()
    assert not SLOEvent.objects.filter(clock_id=response.pk).exists()
    assert resolution.events.exists()


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's binding and lengths"
)


@needs_postgresql
def test_a_value_too_long_for_its_column_fails_rather_than_being_cut(two_clocks):
    response, _ = two_clocks
    too_long = "x" * 201  # SLOEvent.note is varchar(200)
    with pytest.raises(DataError), transaction.atomic():
        bulk.insert(
            SLOEvent,
            alerts._EVENT_COLUMNS,
            [alert_row(response, 75, note=too_long)],
            constants={**ALERT_CONSTANTS, "recorded_at": T0},
        )


@needs_postgresql
def test_bulk_statements_are_never_prepared(two_clocks):
    """As Django's own cursors: a pooler in transaction mode (PgBouncer) cannot
    keep prepared statements."""
    response, _ = two_clocks
    for version in range(1, 8):  # psycopg would prepare from the fifth run
        bulk.update(SLOClock, ("due_version",), [(response.pk, version)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0
