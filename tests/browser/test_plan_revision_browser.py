"""A Support Administrator opens "My plan" and reads the upcoming change in plain
words, with its date: Playwright driving Debian's headless Chromium."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts import roles
from policies import revisions
from tests.accounts.factories import PASSWORD, AgentFactory
from tests.helpdesk.factories import administrator, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_customer_sees_the_upcoming_change_on_my_plan(
    live_server, desktop_page, tmp_path
):
    page = desktop_page
    admin = administrator("janrain-platinum")
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    revision = revisions.draft_revision(plan("janrain-platinum"), actor=manager)
    content = revision.content
    next(t for t in content["targets"] if t["severity"] == 3)[
        "response_business_days"
    ] = 2
    revisions.update_draft(revision, content, actor=manager)
    effective = timezone.now() + timedelta(days=45)
    revisions.schedule_revision(revision, effective, actor=manager)
    local = timezone.localtime(effective, ZoneInfo(admin.organization.time_zone))

    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    page.click("nav >> text=My plan")
    page.wait_for_url(re.compile(r"/portal/plan/$"))

    upcoming = page.locator("#upcoming-changes")
    text = upcoming.inner_text()
    assert "Upcoming changes" in text
    assert (
        "Severity 3 initial response: 1 business day → 2 business days, from "
        f"{local.day} {local:%B %Y}" in text
    )
    upcoming.screenshot(path=str(tmp_path / "my-plan-upcoming.png"))
