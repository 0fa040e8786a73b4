"""Every kind of page works under the Content-Security-Policy: a customer walks the
portal, an agent the console (and its own scripts: actions, autocomplete, date
shortcuts, a related-object popup, prepopulated slugs), anyone the public pages, and
Chromium reports no violation. Playwright driving Debian's headless Chromium.

Chromium reports a violation twice: as a console error ("... violates the following
Content Security Policy directive ...") and as a ``securitypolicyviolation`` event.
The event listener is an init script, which Playwright injects through DevTools, so
the policy does not block it."""

import re
from datetime import date

import pytest
from django.urls import reverse

from helpdesk.models import Ticket
from policies.models import BusinessCalendar
from tam import services as tam_services
from tam.models import TimeEntry
from tests.accounts.factories import PASSWORD, AgentFactory
from tests.helpdesk.factories import administrator, file_ticket
from tests.tam.factories import contract, tam

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolation({
    page: location.pathname,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    sample: event.sample,
  });
});
"""


class Watch:
    """What the browser said about the policy while a test walked its pages (the
    context's, so a popup is watched too)."""

    def __init__(self, page):
        self.page = page
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.documents: dict[str, str | None] = {}
        context = page.context
        context.expose_function("cspViolation", self._on_violation)
        context.add_init_script(REPORT_VIOLATIONS)
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.errors.append(str(error.error)))
        context.on("response", self._on_response)

    def _on_violation(self, report: dict) -> None:
        self.violations.append(f"event: {report}")

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"console: {message.text}")

    def _on_response(self, response) -> None:
        if response.request.resource_type == "document":
            path = re.sub(r"^https?://[^/]+", "", response.url)
            self.documents[path] = response.headers.get("content-security-policy")

    def visit(self, url: str) -> None:
        response = self.page.goto(url)
        assert response.ok, f"{url}: {response.status}"

    def assert_clean(self) -> None:
        """No violation, no script error, and every page had the policy (so that
        "no violation" is not just "no policy")."""
        self.page.evaluate("0")  # let pending violation reports arrive
        assert not self.violations, "\n".join(self.violations)
        assert not self.errors, "\n".join(self.errors)
        assert self.documents
        unguarded = [path for path, csp in self.documents.items() if not csp]
        assert not unguarded, f"pages without a policy: {unguarded}"


@pytest.fixture
def watch(desktop_page):
    return Watch(desktop_page)


def _log_in_to_console(watch: Watch, live_server, user) -> None:
    page = watch.page
    watch.visit(f"{live_server.url}{reverse('admin:login')}")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def test_the_watch_sees_what_the_policy_blocks(live_server, watch):
    """An inline script slipped into the home page is refused and reported both
    ways: the other tests' silence means something."""
    page = watch.page

    def add_inline_script(route):
        response = route.fetch()
        body = response.text().replace(
            "</body>", "<script>document.title = 'inline ran'</script></body>"
        )
        route.fulfill(response=response, body=body)

    page.route(f"{live_server.url}/", add_inline_script)
    watch.visit(f"{live_server.url}/")
    page.evaluate("0")

    assert page.title() != "inline ran"
    assert any(v.startswith("event:") and "script-src" in v for v in watch.violations)
    assert any(v.startswith("console:") for v in watch.violations)


def test_public_pages_keep_to_the_policy(live_server, watch):
    for name in ("home", "portal:login", "portal:password_reset", "admin:login"):
        watch.visit(f"{live_server.url}{reverse(name)}")

    watch.assert_clean()


def test_a_customer_walks_the_portal_under_the_policy(live_server, watch):
    page = watch.page
    admin = administrator("janrain-platinum")
    ticket = file_ticket(admin, summary="Exports stall at 99%")
    contract(admin.organization, tam=tam(user__full_name="Tara Tam"))

    watch.visit(f"{live_server.url}{reverse('portal:login')}")
    page.fill("#id_username", admin.user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/portal/tickets/$"))
    assert page.locator("table.tickets", has_text=ticket.reference).is_visible()
    for url in (
        reverse("portal:new_ticket"),
        ticket.get_absolute_url(),
        reverse("portal:plan"),
        reverse("portal:tam"),
    ):
        watch.visit(f"{live_server.url}{url}")
    # The TAM page's hours chart is inline SVG, drawn with its inline styles.
    assert page.locator("svg g.bar").first.is_visible()

    watch.assert_clean()


def test_an_agent_walks_the_console_under_the_policy(live_server, watch):
    page = watch.page
    agent = AgentFactory(is_superuser=True, full_name="Sam Super")
    ticket = file_ticket(administrator("janrain-platinum"))
    tara = tam(user__full_name="Tara Tam")
    acme = contract(administrator().organization, tam=tara, hours_per_month=10)
    tam_services.record_time_entry(
        acme,
        agent=tara,
        worked_on=date(2027, 2, 3),
        minutes=700,  # 11:40 of 10:00 h
        activity=TimeEntry.Activity.CONFIGURATION,
    )

    _log_in_to_console(watch, live_server, agent)
    for url in (
        reverse("admin:helpdesk_ticket_changelist"),
        reverse("admin:helpdesk_ticket_change", args=[ticket.pk]),
        reverse("admin:tam_tamcontract_change", args=[acme.pk]),
        reverse("slo_attainment"),
        reverse("tam:contract", args=[acme.pk]),
        reverse("two_factor:set_up"),
    ):
        watch.visit(f"{live_server.url}{url}")
    # The set-up page's QR code is inline SVG: no data: image needed.
    assert page.locator(".two-factor-qr svg").is_visible()

    watch.visit(f"{live_server.url}{reverse('tam:month', args=[2027, 2])}")
    assert page.locator("#month-chart g.bar.over").count() == 1
    # The legend's swatches are sized by style= attributes ('unsafe-inline' CSS).
    swatch = page.locator(".tam-chart figcaption span").first.bounding_box()
    assert round(swatch["width"]) == 10

    watch.visit(f"{live_server.url}{reverse('admin:policies_slo_calculator')}")
    page.select_option("#id_plan", label="Janrain Platinum")
    page.fill("#id_opened_at", "2026-03-06T10:00")
    page.click("input[type=submit][value=Calculate]")
    page.wait_for_selector("#due-instants")

    watch.assert_clean()


def test_the_consoles_own_scripts_work_under_the_policy(live_server, watch):
    page = watch.page
    agent = AgentFactory(is_superuser=True, full_name="Sam Super")
    AgentFactory(role="Support Engineer", full_name="Erin Engineer")
    ticket = file_ticket(administrator("janrain-platinum"))
    acme = contract(administrator().organization)

    _log_in_to_console(watch, live_server, agent)

    # Changelist actions (actions.js): "select all" ticks the rows and counts them.
    watch.visit(f"{live_server.url}{reverse('admin:helpdesk_ticket_changelist')}")
    page.check("#action-toggle")
    assert page.locator(".action-counter").inner_text().startswith("1 of 1")

    # The ticket page: the assignee autocomplete (select2, a same-origin fetch),
    # then the page's own reply form posts (form-action 'self').
    change = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    watch.visit(f"{live_server.url}{change}")
    page.click("#id_assignee + .select2 .select2-selection")
    page.fill(".select2-search__field", "Erin")
    page.locator(".select2-results__option", has_text="Erin Engineer").click()
    assert "Erin Engineer" in page.locator("#id_assignee + .select2").inner_text()
    page.fill("#composer textarea[name=body]", "Looking into it now.")
    page.click("#composer button.default")
    page.wait_for_selector("text=Reply added.")
    assert Ticket.objects.get().messages.get().body == "Looking into it now."

    # Date shortcuts (DateTimeShortcuts.js with the jsi18n catalogue).
    contract_page = reverse("admin:tam_tamcontract_change", args=[acme.pk])
    watch.visit(f"{live_server.url}{contract_page}")
    assert page.input_value("#id_notice_received_on") == ""
    page.locator(
        ".field-notice_received_on .datetimeshortcuts a", has_text="Today"
    ).click()
    assert re.fullmatch(r"[\d/-]{10}", page.input_value("#id_notice_received_on"))

    # A related-object popup: add a calendar from the plan form. Its name fills in
    # the slug (prepopulate.js), and saving closes the popup and selects the new
    # calendar in the opener (popup_response.js, its data in a data- attribute).
    watch.visit(f"{live_server.url}{reverse('admin:policies_supportplan_add')}")
    with page.expect_popup() as opened:
        page.click("#add_id_business_calendar")
    popup = opened.value
    popup.locator("#id_name").press_sequentially("Night Shift Desk")
    assert popup.input_value("#id_slug") == "night-shift-desk"
    popup.select_option("#id_kind", "24x7")
    popup.click("input[name=_save]")
    popup.wait_for_event("close")
    calendar = BusinessCalendar.objects.get(slug="night-shift-desk")
    assert page.input_value("#id_business_calendar") == str(calendar.pk)

    watch.assert_clean()
