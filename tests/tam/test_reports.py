"""The monthly hours report: figures against hand-computed ones, CSV, the staff pages,
a constant number of queries, and the monthly e-mail to the Support Managers."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts import roles
from helpdesk.models import OutboundEmail
from tam import report_queries, reports, services, tasks
from tam.models import TimeEntry
from tests.accounts.factories import AgentFactory, OrganizationFactory, UserFactory
from tests.tam.factories import ChangeOrderFactory, contract, tam

pytestmark = pytest.mark.django_db

Activity = TimeEntry.Activity
FEBRUARY = date(2027, 2, 1)


def log(signed, agent, on, minutes, activity, **kw):
    return services.record_time_entry(
        signed, agent=agent, worked_on=on, minutes=minutes, activity=activity, **kw
    )


@pytest.fixture
def world():
    """Acme: 10 h a month from 1 Feb; Globex: 20 h a month from 15 Feb 2027."""
    tara = tam(user__full_name="Tara Tam")
    bob = tam(user__full_name="Bob Backup")
    acme = contract(
        OrganizationFactory(name="Acme"),
        tam=tara,
        backup_tam=bob,
        hours_per_month=10,
    )
    globex = contract(
        OrganizationFactory(name="Globex"),
        tam=tara,
        backup_tam=bob,
        hours_per_month=20,
        signed_on=date(2027, 1, 25),
        starts_on=date(2027, 2, 15),
    )
    log(acme, tara, date(2027, 2, 3), 240, Activity.CONFIGURATION)
    log(acme, tara, date(2027, 2, 4), 180, Activity.TICKETS)
    log(acme, bob, date(2027, 2, 5), 300, Activity.TRAINING)  # 120 min over
    order = ChangeOrderFactory(contract=acme)
    log(acme, bob, date(2027, 2, 8), 90, Activity.CUSTOMER_CODE, change_order=order)
    log(acme, tara, date(2027, 3, 2), 60, Activity.REPORTING)  # next month
    log(globex, tara, date(2027, 3, 1), 300, Activity.CONSULTATION)  # Feb 15 bucket
    return {"acme": acme, "globex": globex, "tara": tara, "bob": bob}


def test_the_months_figures_match_the_hand_computed_ones(world):
    report = report_queries.month_report(FEBRUARY)

    acme, globex = report.lines
    assert (acme.organization, globex.organization) == ("Acme", "Globex")
    assert (acme.starts_on, acme.ends_on) == (date(2027, 2, 1), date(2027, 2, 28))
    assert (globex.starts_on, globex.ends_on) == (date(2027, 2, 15), date(2027, 3, 14))
    a, g = acme.figures, globex.figures
    assert (a.allotted, a.rollover, a.used, a.remaining, a.over) == (
        600,
        0,
        720,
        0,
        120,
    )
    assert a.change_order == 90
    assert (g.allotted, g.used, g.remaining, g.over) == (1200, 300, 900, 0)
    assert acme.by_activity == {
        "configuration": 240,
        "tickets": 180,
        "training": 300,
        "customer-code": 90,
    }
    assert acme.by_agent == {"Tara Tam": 420, "Bob Backup": 390}
    assert globex.by_agent == {"Tara Tam": 300}
    totals = report.totals
    assert (totals.allotted, totals.used, totals.unused, totals.over) == (
        1800,
        1020,
        900,
        120,
    )
    # The entries' own best-effort marks add up to the same over-allotment.
    assert (
        sum(
            TimeEntry.objects.filter(bucket_id=acme.bucket_id).values_list(
                "best_effort_minutes", flat=True
            )
        )
        == 120
    )


def test_the_report_takes_three_queries_however_many_entries(
    world, django_assert_num_queries
):
    with django_assert_num_queries(3):
        report_queries.month_report(FEBRUARY)
    for day in range(9, 28):
        # Names of their own: the report groups by agent name, and two random
        # names can be the same.
        agent = AgentFactory(
            role=roles.SUPPORT_ENGINEER, full_name=f"Engineer of February {day}"
        )
        log(world["acme"], agent, date(2027, 2, day), 15, Activity.POC)
    with django_assert_num_queries(3):
        report = report_queries.month_report(FEBRUARY)
    assert len(report.lines[0].by_agent) == 2 + 19


def test_a_month_without_contracts_is_one_query(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert report_queries.month_report(FEBRUARY).lines == []


def test_term_totals_for_invoicing(world):
    report = report_queries.contract_report(world["acme"])

    totals = report.totals
    assert totals.months == 6
    assert (totals.allotted, totals.used, totals.within_allowance) == (3600, 780, 660)
    assert (totals.over, totals.unused, totals.change_order) == (120, 2940, 90)
    assert services.unused_minutes(world["acme"]) == 2940


def test_hours_and_chart_geometry():
    assert reports.hh_mm(95) == "1:35"
    assert str(reports.hours(95)) == "1.58"
    line = reports.ReportLine(
        1,
        1,
        "Acme",
        "Tara",
        FEBRUARY,
        date(2027, 2, 28),
        reports.BucketFigures(600, 0, 720),
    )
    other = reports.ReportLine(
        2,
        2,
        "Globex",
        "Tara",
        FEBRUARY,
        date(2027, 3, 14),
        reports.BucketFigures(1200, 0, 300),
    )
    acme, globex = reports.chart_bars([line, other])
    assert (acme.allowance_pct, acme.within_pct, acme.over_pct) == (50.0, 50.0, 10.0)
    assert (globex.allowance_pct, globex.within_pct, globex.over_pct) == (
        100.0,
        25.0,
        0,
    )
    assert acme.is_over
    assert not globex.is_over


# --- the staff pages ------------------------------------------------------------


@pytest.fixture
def manager():
    return AgentFactory(role=roles.SUPPORT_MANAGER, full_name="Morgan Lead")


STAFF_URLS = [
    ("tam:index", []),
    ("tam:month", [2027, 2]),
    ("tam:month_csv", [2027, 2]),
    ("tam:contract", ["acme"]),
    ("tam:contract_csv", ["acme"]),
    ("tam:contract_ics", ["acme"]),
]


def _url(name, args, world):
    return reverse(name, args=[world[a].pk if a in world else a for a in args])


@pytest.mark.parametrize(("name", "args"), STAFF_URLS)
@pytest.mark.parametrize("who", ["anonymous", "customer", "engineer"])
def test_staff_pages_are_for_agents_who_read_tam_contracts(
    client, world, name, args, who
):
    if who == "customer":
        client.force_login(UserFactory())
    elif who == "engineer":
        client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    response = client.get(_url(name, args, world))

    if who == "engineer":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize(("name", "args"), STAFF_URLS)
def test_support_managers_read_every_staff_page(client, world, manager, name, args):
    client.force_login(manager)

    response = client.get(_url(name, args, world), follow=True)

    assert response.status_code == 200


def test_the_month_page_shows_figures_and_a_chart(client, world, manager):
    client.force_login(manager)

    response = client.get(reverse("tam:month", args=[2027, 2]))

    text = response.content.decode()
    assert "TAM hours, February 2027" in text
    assert "<svg" in text
    assert text.count('class="bar') == 2
    assert 'class="bar over"' in text
    assert "12:00 of 10:00 h" in text  # Acme's bar caption
    assert "Training: 5:00" in text
    assert "Bob Backup: 6:30" in text


def test_the_month_page_runs_a_constant_number_of_queries(
    client, world, manager, django_assert_max_num_queries
):
    client.force_login(manager)
    client.get(reverse("tam:month", args=[2027, 2]))  # warm the session
    with django_assert_max_num_queries(8) as few:
        client.get(reverse("tam:month", args=[2027, 2]))
    for i in range(5):
        contract(
            OrganizationFactory(name=f"More {i}"),
            starts_on=date(2027, 2, 1),
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("tam:month", args=[2027, 2]))


def test_the_csv_export(client, world, manager):
    client.force_login(manager)

    response = client.get(reverse("tam:month_csv", args=[2027, 2]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="tam-hours-2027-02.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    acme = rows[0]
    assert acme["organisation"] == "Acme"
    assert (acme["allotted h"], acme["used h"], acme["remaining h"]) == (
        "10.00",
        "12.00",
        "0.00",
    )
    assert acme["over allotment h (best effort)"] == "2.00"
    assert acme["change-order h"] == "1.50"
    assert acme["Training h"] == "5.00"
    assert acme["hours by agent"] == "Tara Tam: 7.00; Bob Backup: 6.50"


def test_the_term_csv_ends_with_the_totals_for_invoicing(client, world, manager):
    client.force_login(manager)

    response = client.get(reverse("tam:contract_csv", args=[world["acme"].pk]))

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert len(rows) == 1 + 6 + 1
    assert rows[-1][:13] == [
        "TERM TOTAL",
        str(world["acme"].pk),
        "2027-02-01",
        "2027-07-31",
        "",
        "60.00",
        "0.00",
        "0.00",  # banked
        "60.00",
        "13.00",
        "49.00",
        "2.00",
        "1.50",
    ]


# --- the monthly e-mail ---------------------------------------------------------


def at(year, month, day):
    return datetime(year, month, day, 17, tzinfo=UTC)  # 09:00 Pacific


def test_the_report_is_mailed_on_the_first_business_day_after_a_holiday(
    world, manager, django_capture_on_commit_callbacks
):
    """1 March 2027 is a Monday; 1 January 2027 a holiday (the report waits)."""
    other = AgentFactory(role=roles.SUPPORT_MANAGER)
    AgentFactory(role=roles.TAM)  # not a manager: no mail

    assert services.send_monthly_hours_report(now=at(2027, 1, 1))["waiting"]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.send_monthly_hours_report(now=at(2027, 3, 1))

    assert result == {"month": "2027-02", "queued": 2, "waiting": False}
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager.email, other.email])
    email = next(m for m in mail.outbox if m.to == [manager.email])
    assert email.subject == "TAM hours report for February 2027"
    assert "Acme (TAM Tara Tam, 1 Feb-28 Feb 2027)" in email.body
    assert "used 12:00, remaining 0:00, over allotment 2:00" in email.body
    assert "/staff/tam/reports/2027/2/" in email.body
    assert (
        OutboundEmail.objects.filter(
            key__startswith="tam-hours-report:2027-02:"
        ).count()
        == 2
    )


def test_the_report_is_queued_once_however_often_the_task_runs(world, manager):
    services.send_monthly_hours_report(now=at(2027, 3, 1))
    again = services.send_monthly_hours_report(now=at(2027, 3, 2))

    assert again["queued"] == 0
    assert OutboundEmail.objects.count() == 1


def test_a_missed_first_business_day_is_caught_up(world, manager):
    result = services.send_monthly_hours_report(now=at(2027, 3, 9))

    assert result["queued"] == 1


def test_the_monthly_task_wraps_the_service(world, manager):
    import time_machine

    with time_machine.travel(at(2027, 3, 1), tick=False):
        result = tasks.send_monthly_hours_report.delay().get()

    assert result["queued"] == 1


# --- CSV cells a spreadsheet would run as formulas ---------------------------------

FORMULA_NAMES = ["+cmd", "-x", "@SUM", "\tx", "\rx"]


def test_text_cells_that_start_a_formula_are_escaped_and_numbers_are_not(
    client, manager
):
    rogue = contract(
        OrganizationFactory(name='=HYPERLINK("https://evil.example","Click")'),
        hours_per_month=10,
    )
    for n, name in enumerate(FORMULA_NAMES):
        agent = tam(user__full_name=name)
        signed = contract(
            OrganizationFactory(name=f"Customer {n}"), tam=agent, hours_per_month=10
        )
        log(signed, agent, date(2027, 2, 3), 60, Activity.CONFIGURATION)
    log(rogue, rogue.tam, date(2027, 2, 3), 30, Activity.TRAINING)
    client.force_login(manager)

    month = client.get(reverse("tam:month_csv", args=[2027, 2]))
    term = client.get(reverse("tam:contract_csv", args=[rogue.pk]))

    rows = list(csv.DictReader(io.StringIO(month.content.decode(), newline="")))
    by_org = {row["organisation"]: row for row in rows}
    assert by_org['\'=HYPERLINK("https://evil.example","Click")']["used h"] == "0.50"
    for n, name in enumerate(FORMULA_NAMES):
        row = by_org[f"Customer {n}"]
        assert row["TAM"] == f"'{name}"
        assert row["hours by agent"] == f"'{name}: 1.00"
        assert row["used h"] == "1.00"  # figures are not text
    term_rows = list(csv.reader(io.StringIO(term.content.decode(), newline="")))
    assert term_rows[1][0].startswith("'=HYPERLINK(")
    assert term_rows[-1][0] == "TERM TOTAL"
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c.startswith(reports.FORMULA_TRIGGERS)]


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-x", "'-x"),
        ("-3.5", "'-3.5"),  # text that looks like a number is still text
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Acme = fine", "Acme = fine"),
        ("", ""),
        (Decimal("-3.50"), Decimal("-3.50")),
        (-3, -3),
        (None, None),
    ],
)
def test_csv_cell(value, safe):
    assert reports.csv_cell(value) == safe
