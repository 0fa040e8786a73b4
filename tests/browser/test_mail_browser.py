"""A customer answers the confirmation e-mail: the .eml dropped into the maildir
(the embedded door) is picked up by the poll beat runs, and the reply shows in the
portal, marked as sent by e-mail."""

import re

import pytest

from helpdesk import tasks
from helpdesk.mail import sources
from tests.accounts.factories import PASSWORD
from tests.helpdesk.factories import administrator, file_ticket
from tests.helpdesk.mail.conftest import eml

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reply_dropped_into_the_maildir_shows_in_the_portal(
    live_server, desktop_page, tmp_path, settings
):
    maildir = tmp_path / "mail-in"
    settings.INBOUND_MAIL_URL = f"maildir://{maildir}"
    admin = administrator(user__email="ada@acme.example", organization__slug="acme")
    ticket = file_ticket(admin)
    page = desktop_page
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))

    sources.ensure_maildir(maildir)
    (maildir / "new" / "reply.eml").write_bytes(eml("outlook_reply.eml", ticket=ticket))
    assert tasks.receive_inbound_mail() == {"replied": 1}

    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    message = page.locator(".conversation .message", has_text="München")
    assert message.count() == 1
    assert "by e-mail" in message.locator("header").inner_text()
    assert "We received your support request" not in message.inner_text()
    assert (maildir / "processed" / "reply.eml").exists()
    page.screenshot(path=str(tmp_path / "portal-reply-by-email.png"), full_page=True)


def test_the_console_lists_refused_mail_and_marks_the_reply_by_e_mail(
    live_server, desktop_page, tmp_path
):
    from django.urls import reverse

    from accounts import roles
    from helpdesk.mail.inbound import process_message
    from tests.accounts.factories import AgentFactory

    admin = administrator(user__email="ada@acme.example", organization__slug="acme")
    ticket = file_ticket(admin)
    process_message(eml("gmail_reply.eml", ticket=ticket))
    process_message(eml("secret_in_log.eml", ticket=ticket))
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    page = desktop_page
    page.goto(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", agent.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.goto(f"{live_server.url}{reverse('admin:helpdesk_inboundmessage_changelist')}")
    assert "E-mails refused in the last 30 days" in page.locator("h1").inner_text()
    row = page.locator("#result_list tbody tr")
    assert row.count() == 1
    assert "debug.log" in row.inner_text()
    assert ticket.reference in row.inner_text()
    page.screenshot(path=str(tmp_path / "console-refused-mail.png"), full_page=True)

    page.goto(
        f"{live_server.url}{reverse('admin:helpdesk_ticket_change', args=[ticket.pk])}"
    )
    entry = page.locator("#timeline li", has_text="Safari on iOS")
    assert "public reply by e-mail" in entry.inner_text().lower()  # CSS upper case
    with page.expect_download() as download:
        entry.locator("text=The e-mail as received (.eml)").click()
    saved = tmp_path / "original.eml"
    download.value.save_as(saved)
    assert saved.read_bytes() == eml("gmail_reply.eml", ticket=ticket)
    page.screenshot(path=str(tmp_path / "console-timeline.png"), full_page=True)
