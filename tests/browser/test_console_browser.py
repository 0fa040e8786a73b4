"""An agent's day in the console, end to end: open the most urgent ticket from the
list, answer it with a canned reply that sets "waiting on customer", and the
customer sees the reply in the portal with the resolution clock paused.
Playwright driving Debian's headless Chromium against the live server."""

import re

import pytest
from django.urls import reverse

from accounts import roles
from helpdesk import macros
from helpdesk.models import Macro, SLOClock, Ticket
from tests.accounts.factories import PASSWORD, AgentFactory
from tests.browser.test_csp_browser import Watch
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HAR = (
    "Hello {requester_first_name},\n\nThank you for reporting {reference}. Could you "
    "record a HAR file while it happens and attach it here?\n\n{agent_name}"
)


def test_an_agent_answers_the_most_urgent_ticket_with_a_canned_reply(
    live_server, browser
):
    from playwright.sync_api import expect  # installed with the dev tools

    admin = administrator("janrain-platinum", user__full_name="Ada Lovelace")
    admin.user.set_password(PASSWORD)
    admin.user.save()
    severities = admin.organization.support_plan.severities
    file_ticket(admin, summary="Exports are slow", severity=severities.get(level=3))
    urgent = file_ticket(
        admin,
        summary="Nobody can sign in",
        severity=severities.get(level=1),
        customer_contact="Ada, +1 555 0100",
    )
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    macros.save_macro(
        Macro(name="Ask for a HAR file", body=HAR, then_status="waiting"),
        shared=True,
        actor=manager,
    )
    macros.save_macro(
        Macro(name="Fixed: please confirm", body="Fixed.", then_status="resolved"),
        shared=True,
        actor=manager,
    )
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Sam Engineer")

    console = browser.new_context(viewport={"width": 1280, "height": 900})
    watch = Watch(console.new_page())
    page = watch.page
    page.set_default_timeout(15_000)
    watch.visit(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", agent.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))

    # The list is ordered by urgency: the Sev1 comes first.
    watch.visit(f"{live_server.url}{reverse('admin:helpdesk_ticket_changelist')}")
    page.locator("#result_list tbody tr").first.locator("th a").click()
    page.wait_for_url(re.compile(rf"/admin/helpdesk/ticket/{urgent.pk}/change/"))

    # Search the canned replies, choose one: the reply box is filled and its
    # "send and set waiting on customer" becomes the primary button.
    page.fill("#macro-search", "har")
    assert page.locator("#macro-choice option:not([hidden])").count() == 2  # + "—"
    page.select_option(
        "#macro-choice", label="Ask for a HAR file (shared) → waiting on customer"
    )
    # (expect polls without eval: the page's CSP refuses a string predicate)
    expect(page.locator("#reply-form textarea")).to_have_value(
        re.compile(r"^Hello Ada,")
    )
    primary = page.locator("#composer-actions button.default")
    assert primary.inner_text() == "Send and set waiting on customer"
    page.screenshot(path="/tmp/d/console-macro.png", full_page=False)
    primary.click()
    page.wait_for_selector("text=Reply added. Status: waiting on customer.")
    watch.assert_clean()

    urgent.refresh_from_db()
    assert urgent.status == Ticket.Status.WAITING_ON_CUSTOMER
    reply = urgent.messages.get()
    reply.body = reply.body.replace("\r\n", "\n")  # a form's text arrives as CRLF
    assert reply.body.startswith(
        f"Hello Ada,\n\nThank you for reporting {urgent.reference}"
    )
    assert reply.body.endswith("Sam Engineer")
    clock = urgent.clocks.get(metric=SLOClock.Metric.RESOLUTION)
    assert clock.status == SLOClock.Status.PAUSED
    console.close()

    # The customer reads the reply, and the resolution clock is paused.
    portal = browser.new_context(viewport={"width": 390, "height": 844})
    customer = portal.new_page()
    customer.set_default_timeout(15_000)
    customer.goto(f"{live_server.url}{reverse('portal:login')}")
    customer.fill("#id_username", admin.user.email)
    customer.fill("#id_password", PASSWORD)
    customer.click("button[type=submit]")
    customer.wait_for_url(re.compile(r"/portal/tickets/$"))
    customer.click(f"text={urgent.reference}")
    customer.wait_for_url(re.compile(rf"/portal/tickets/{urgent.reference}/$"))
    conversation = customer.locator(".conversation").inner_text()
    assert "record a HAR file" in conversation
    assert "Sam Engineer" in conversation
    resolution = customer.locator(".service-levels tr", has_text="Resolution")
    assert "Paused while we wait for you" in resolution.inner_text()
    customer.screenshot(path="/tmp/d/portal-ticket.png", full_page=True)
    portal.close()
