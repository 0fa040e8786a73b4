"""The agent console's ticket list in a 1280 px browser window (helpdesk.console)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpdesk import escalations, services
from tests.accounts.factories import PASSWORD, AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

URL = "/admin/helpdesk/ticket/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_list_fits_1280_px_with_every_row_on_one_line(live_server, desktop_page):
    """Long summaries and names are cut (whole in the tooltip), the reference never
    wraps, and nothing scrolls sideways in a 1280 px window."""
    agent = AgentFactory(is_superuser=True, full_name="Maximiliana Fitzgerald-Odhiambo")
    admin = administrator("janrain-platinum")
    admin.organization.name = "Consolidated Intercontinental Widget Holdings Ltd"
    admin.organization.save()
    for i in range(12):
        ticket = file_ticket(
            admin,
            summary=f"Checkout {i} returns 500 for every customer on the EU cluster "
            "after the deployment of the new payment provider integration",
        )
        services.assign_ticket(ticket, agent, actor=agent)
    escalations.request_escalation(ticket, actor=admin.user, reason="Stuck")
    services.change_status(ticket, "waiting", actor=agent)

    page = desktop_page
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", agent.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))
    page.goto(f"{live_server.url}{URL}")

    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    heights = page.eval_on_selector_all(
        "#result_list tbody tr", "rows => rows.map(r => r.offsetHeight)"
    )
    assert len(heights) == 12
    assert max(heights) - min(heights) <= 1
    assert max(heights) < 40  # one line of text, not one word a line
    references = page.eval_on_selector_all(
        ".field-reference a", "links => links.map(a => a.getClientRects().length)"
    )
    assert set(references) == {1}
    cut = page.eval_on_selector_all(
        ".field-summary_cell .hd-cut",
        "cells => cells.map(c => c.scrollWidth > c.clientWidth && !!c.title)",
    )
    assert all(cut)
