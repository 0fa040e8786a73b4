"""A Support Administrator types a summary on the new-ticket form, sees a matching
article and the active incident, opens the article and does not file (a
deflection): Playwright driving Debian's headless Chromium against the live server,
on a phone-sized screen."""

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import Ticket
from helpdesk.trust import deflection
from helpdesk.trust.models import DeflectionSession
from tests.accounts.factories import PASSWORD
from tests.helpdesk.factories import administrator
from tests.trust.factories import ArticleFactory, ComponentFactory, incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_matching_article_and_the_incident_deflect_a_ticket(live_server, phone_page):
    page = phone_page
    admin = administrator("janrain-platinum")
    article = ArticleFactory(
        title="The login widget times out",
        summary="Check allowed domains and third-party cookies.",
        body="## Allowed domains\n\nAdd your site's domain under **Allowed domains**.",
    )
    ArticleFactory(title="Rotate a client secret", body="Rotate it in the console.")
    incident(ComponentFactory(name="Login widget"), title="Slow sign-in on the widget")

    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    page.click("text=New ticket")

    panel = page.locator("#deflection")
    assert "Slow sign-in on the widget" in panel.inner_text()  # before typing
    expect(page.locator("#check-answers")).to_be_hidden()  # the script runs
    page.type("#id_summary", "Login widget times out", delay=20)
    suggestion = panel.locator(".suggested-article a", has_text=article.title)
    suggestion.wait_for()
    assert panel.locator(".suggested-article", has_text="Rotate").count() == 0
    assert "Slow sign-in on the widget" in panel.inner_text()

    suggestion.click()
    page.wait_for_url(re.compile(rf"/kb/{article.slug}/\?suggested="))
    assert page.locator("h1").inner_text() == article.title
    assert page.locator("h2", has_text="Allowed domains").count() == 1

    assert not Ticket.objects.exists()
    session = DeflectionSession.objects.get(user=admin.user)
    assert session.viewed_article == article
    assert session.ticket is None
    (month,) = deflection.monthly_figures(now=session.started_at)
    assert (month.visits, month.deflected, month.filed) == (1, 1, 0)


def test_choosing_a_product_narrows_the_known_issues(live_server, phone_page):
    """Jelastic's customer sees the incidents on their plan's products; choosing a
    product on the form narrows them to its components (and the platform-wide)."""
    page = phone_page
    admin = administrator("jelastic")
    catalogue = admin.organization.support_plan.catalogue
    php, mysql = catalogue.get(name="PHP"), catalogue.get(name="MySQL / MariaDB")
    runtimes = ComponentFactory(name="Application runtimes")
    runtimes.catalogue_entries.set([php])
    databases = ComponentFactory(name="Managed databases")
    databases.catalogue_entries.set([mysql])
    incident(runtimes, title="PHP workers restart")
    incident(databases, title="Slow MySQL nodes")
    incident(ComponentFactory(name="Dashboard"), title="Dashboard unreachable")

    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    page.click("text=New ticket")

    panel = page.locator("#deflection")
    for title in ("PHP workers restart", "Slow MySQL nodes", "Dashboard unreachable"):
        assert title in panel.inner_text()
    page.select_option("#id_product", label="PHP")
    narrowed = panel.locator("h3", has_text="Known issues right now for PHP")
    expect(narrowed).to_be_visible(timeout=15_000)  # a shared, busy machine
    assert "Slow MySQL nodes" not in panel.inner_text()
    assert "PHP workers restart" in panel.inner_text()
    assert "Dashboard unreachable" in panel.inner_text()
