"""A Support Administrator files a Sev2 ticket with an attachment, finds it in the
list with its reference and due instant, and replies: Playwright driving Debian's
headless Chromium against the live server."""

import re
from zoneinfo import ZoneInfo

import pytest

from helpdesk.models import Ticket
from tests.accounts.factories import PASSWORD
from tests.helpdesk.factories import PNG, administrator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(phone_page):
    return phone_page


def test_file_a_sev2_ticket_with_an_attachment_find_it_and_reply(
    live_server, page, tmp_path
):
    admin = administrator("janrain-platinum")
    screenshot = tmp_path / "error.png"
    screenshot.write_bytes(PNG)

    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))

    page.click("text=New ticket")
    page.fill("#id_summary", "Sign-in widget times out for many users")
    page.check("input[name=severity] >> nth=1")  # Severity 2
    page.check("input[name=environment][value=production]")
    page.fill("#id_description", "Since 09:00 PT logins take 30 s and then fail.")
    page.fill("#id_customer_contact", "Ada Admin, +1 555 0100, on call all day")
    page.set_input_files("#id_attachments", str(screenshot))
    page.click("text=File the ticket")

    page.wait_for_url(re.compile(r"/portal/tickets/HD-\d{6}/$"))
    ticket = Ticket.objects.get()
    assert ticket.severity.level == 2
    assert ticket.attachments.get().original_name == "error.png"
    assert page.locator("h1").inner_text().startswith(ticket.reference)

    page.click("nav >> text=Tickets")
    row = page.locator("table.tickets tbody tr", has_text=ticket.reference)
    due = ticket.first_response_due_at.astimezone(
        ZoneInfo(admin.organization.time_zone)
    )
    assert row.count() == 1
    assert f"{due:%H:%M}" in row.inner_text()

    row.locator("a").click()
    page.fill("#id_body", "It also fails on the mobile app.")
    page.click("text=Send the reply")
    page.wait_for_selector("text=Your reply was added.")
    assert page.locator(".conversation").inner_text().count("mobile app") == 1
    assert ticket.messages.get().body == "It also fails on the mobile app."


def test_customer_accepts_a_proposed_downgrade_and_sees_the_new_targets(
    live_server, page
):
    from helpdesk import services, severity
    from tests.accounts.factories import AgentFactory
    from tests.helpdesk.factories import draft

    admin = administrator("jelastic")
    plan = admin.organization.support_plan
    ticket = services.open_ticket(
        admin.organization,
        draft(severity=plan.severities.get(level=2), customer_contact="Bo"),
        requester=admin.user,
        filed_by=admin.user,
    )
    severity.request_severity_change(
        ticket,
        plan.severities.get(level=4),
        actor=AgentFactory(),
        reason="Only a how-to question remains.",
        expected=plan.severities.get(level=2),
    )

    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    assert "First response: 6 h" in page.locator(".service-levels").inner_text()
    page.click("text=Agree to Level 4")

    page.wait_for_selector("text=Severity is now Level 4.")
    assert "First response: 24 h" in page.locator(".service-levels").inner_text()
    assert page.locator("#pending-change").count() == 0
    ticket.refresh_from_db()
    assert ticket.severity.level == 4
