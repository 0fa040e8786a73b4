"""A Support Manager reads the monthly TAM hours report: logs in to the console,
opens February 2027, reads the chart and the table, follows a contract and
downloads the CSV. Playwright driving Debian's headless Chromium."""

import re
from datetime import date
from pathlib import Path

import pytest

from accounts import roles
from tam import services
from tam.models import TimeEntry
from tests.accounts.factories import PASSWORD, AgentFactory, OrganizationFactory
from tests.tam.factories import contract, tam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(desktop_page):
    return desktop_page


def test_a_manager_reads_the_monthly_hours_report(live_server, page):
    manager = AgentFactory(role=roles.SUPPORT_MANAGER, full_name="Morgan Lead")
    tara = tam(user__full_name="Tara Tam")
    acme = contract(OrganizationFactory(name="Acme"), tam=tara, hours_per_month=10)
    contract(OrganizationFactory(name="Globex"), tam=tara, hours_per_month=20)
    for day, minutes in [(3, 400), (4, 300)]:  # 11:40 of 10:00 h: 1:40 over
        services.record_time_entry(
            acme,
            agent=tara,
            worked_on=date(2027, 2, day),
            minutes=minutes,
            activity=TimeEntry.Activity.CONFIGURATION,
        )

    page.goto(f"{live_server.url}/admin/login/?next=/staff/tam/reports/2027/2/")
    page.fill("#id_username", manager.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/staff/tam/reports/2027/2/$"))

    assert page.locator("h1").inner_text() == "TAM hours, February 2027"
    bars = page.locator("#month-chart g.bar")
    assert bars.count() == 2
    over = page.locator("#month-chart g.bar.over")
    assert over.count() == 1
    assert "Acme" in over.text_content()
    assert "11:40 of 10:00 h" in over.text_content()
    acme_row = page.locator("#hours tbody tr", has_text="Acme")
    assert "1:40" in acme_row.inner_text()
    assert "Tara Tam: 11:40" in acme_row.inner_text()
    red = over.locator("rect").nth(2)
    assert float(red.get_attribute("width")) > 0

    with page.expect_download() as download:
        page.click("#csv-link")
    body = Path(download.value.path()).read_text()
    assert body.splitlines()[1].startswith("Acme,")

    page.click("#hours >> text=Acme")
    page.wait_for_url(re.compile(rf"/staff/tam/contracts/{acme.pk}/$"))
    assert "Term totals, for invoicing at renewal" in page.content()
    assert page.locator("#months tbody tr").count() == 6
