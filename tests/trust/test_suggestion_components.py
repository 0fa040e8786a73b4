"""The new-ticket form's known issues are the customer's (issue 14 §4): status
components are mapped to the plans' catalogue entries; a customer sees the incidents
and maintenance on the components of their plan's entries and on the platform-wide
ones (mapped to none), narrowed to the product chosen on the form, with JavaScript
(the fragment) and without (the form page itself)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.trust import deflection
from helpdesk.trust.models import Component, DeflectionSession, Incident
from policies.loader import load_policy_packs
from policies.models import CatalogueEntry
from tests.helpdesk.factories import administrator, plan
from tests.trust.factories import (
    ArticleFactory,
    ComponentFactory,
    incident,
    maintenance,
)

pytestmark = pytest.mark.django_db

SUGGESTIONS = reverse("portal:new_ticket_suggestions")
NEW_TICKET = reverse("portal:new_ticket")


@pytest.fixture
def status():
    """Jelastic's catalogue (from its pack) and an entry of another plan's; a
    component of each, a platform-wide one, and an incident on each."""
    jelastic = plan("jelastic")
    php = jelastic.catalogue.get(name="PHP")
    mysql = jelastic.catalogue.get(name="MySQL / MariaDB")
    widget_entry = CatalogueEntry.objects.create(
        plan=plan("janrain-platinum"), name="Login widget"
    )
    runtimes = ComponentFactory(name="Application runtimes")
    runtimes.catalogue_entries.set([php])
    databases = ComponentFactory(name="Managed databases")
    databases.catalogue_entries.set([mysql])
    widget = ComponentFactory(name="Login widget")
    widget.catalogue_entries.set([widget_entry])
    dashboard = ComponentFactory(name="Status of everything")  # platform-wide
    return {
        "php": php,
        "mysql": mysql,
        "widget_entry": widget_entry,
        "runtimes": incident(runtimes, title="PHP workers restart"),
        "databases": incident(databases, title="Slow MySQL nodes"),
        "widget": incident(widget, title="Slow sign-in on the login widget"),
        "everyone": incident(dashboard, title="Dashboard unreachable"),
        "unassigned": incident(title="Something is wrong somewhere"),
    }


def fragment(client, admin, **params) -> str:
    client.force_login(admin.user)
    response = client.get(SUGGESTIONS, params)
    assert response.status_code == 200
    return response.content.decode()


def test_only_the_customers_and_the_platform_wide_incidents_are_shown(client, status):
    html = fragment(client, administrator("jelastic"), summary="")
    assert "PHP workers restart" in html
    assert "Slow MySQL nodes" in html
    assert "Dashboard unreachable" in html  # mapped to nothing: everyone's
    assert "Something is wrong somewhere" in html  # no component: everyone's
    assert "Slow sign-in on the login widget" not in html  # another plan's entry

    html = fragment(client, administrator("janrain-platinum"), summary="")
    assert "Slow sign-in on the login widget" in html
    assert "Dashboard unreachable" in html
    assert "PHP workers restart" not in html
    assert "Slow MySQL nodes" not in html


def test_choosing_a_product_narrows_to_its_components(client, status):
    admin = administrator("jelastic")
    html = fragment(client, admin, summary="", product=str(status["php"].pk))
    assert "PHP workers restart" in html
    assert "Known issues right now for PHP" in html
    assert "Dashboard unreachable" in html
    assert "Slow MySQL nodes" not in html
    assert "Slow sign-in on the login widget" not in html
    # An entry with no component: only the platform-wide ones.
    net = admin.organization.support_plan.catalogue.get(name=".Net")
    html = fragment(client, admin, summary="", product=str(net.pk))
    assert "Dashboard unreachable" in html
    assert "PHP workers restart" not in html


@pytest.mark.parametrize("product", ["widget_entry", "nonsense", "999999"])
def test_a_product_not_of_the_customers_plan_is_no_choice(client, status, product):
    value = str(status[product].pk) if product in status else product
    html = fragment(client, administrator("jelastic"), summary="", product=value)
    assert "Slow sign-in on the login widget" not in html  # never another plan's
    assert "PHP workers restart" in html
    assert "Slow MySQL nodes" in html
    assert "Known issues right now for" not in html


def test_maintenance_is_filtered_the_same_way(client, status):
    now = timezone.now()
    ours = Component.objects.get(name="Managed databases")
    theirs = Component.objects.get(name="Login widget")
    maintenance(ours, starts_at=now + timedelta(hours=2), title="MySQL upgrade")
    maintenance(theirs, starts_at=now - timedelta(hours=1), title="Widget upgrade")
    maintenance(starts_at=now + timedelta(hours=30), title="Far away")
    admin = administrator("jelastic")
    html = fragment(client, admin, summary="")
    assert "Maintenance: MySQL upgrade" in html
    assert "Widget upgrade" not in html
    assert "Far away" not in html  # more than 24 hours ahead
    html = fragment(client, admin, summary="", product=str(status["php"].pk))
    assert "MySQL upgrade" not in html
    html = fragment(client, administrator("janrain-platinum"), summary="")
    assert "Maintenance: Widget upgrade" in html
    assert "MySQL upgrade" not in html


def test_the_form_page_without_javascript_applies_the_same_filter(client, status):
    admin = administrator("jelastic")
    client.force_login(admin.user)
    page = client.get(NEW_TICKET).content.decode()
    assert 'id="id_product"' in page
    assert "PHP workers restart" in page
    assert "Slow MySQL nodes" in page
    assert "Slow sign-in on the login widget" not in page
    # "Check for answers" submits the form by GET: the product narrows, and stays.
    page = client.get(
        NEW_TICKET, {"summary": "workers", "product": status["php"].pk}
    ).content.decode()
    assert "PHP workers restart" in page
    assert "Slow MySQL nodes" not in page
    assert f'<option value="{status["php"].pk}" selected>' in page


def test_a_form_sent_back_with_errors_keeps_the_filter(client, status):
    admin = administrator("jelastic")
    client.force_login(admin.user)
    page = client.post(
        NEW_TICKET, {"summary": "", "product": status["mysql"].pk}
    ).content.decode()
    assert "Slow MySQL nodes" in page
    assert "PHP workers restart" not in page


def test_the_fragment_shows_nothing_of_another_organisation(client, status):
    """Another organisation's visit (its token) is neither shown nor written to."""
    ArticleFactory(title="Restart PHP workers", body="Use the dashboard.")
    theirs = administrator("janrain-platinum")
    token = uuid.uuid4()
    fragment(client, theirs, summary="php workers", token=str(token))
    ours = administrator("jelastic")
    html = fragment(client, ours, summary="php workers", token=str(token))
    assert "Restart PHP workers" in html
    assert theirs.organization.name not in html
    assert theirs.user.email not in html
    assert "Slow sign-in on the login widget" not in html
    session = DeflectionSession.objects.get()
    assert session.user == theirs.user
    assert session.organization == theirs.organization


def test_the_same_person_in_another_organisation_gets_no_record_of_the_first(
    client, status
):
    """A visit's record belongs to one organisation: with the same token in another
    of the person's organisations, nothing is added to it."""
    ArticleFactory(title="Restart PHP workers", body="Use the dashboard.")
    first = administrator("jelastic")
    token = uuid.uuid4()
    user = first.user
    session = DeflectionSession.objects.create(
        token=token, user=user, organization=administrator().organization
    )
    found = deflection.suggestions(
        "php",
        token=token,
        user=user,
        organization=first.organization,
        now=timezone.now(),
    )
    assert [a.title for a in found.articles] == ["Restart PHP workers"]
    assert not session.shown_articles.exists()


def test_the_trust_admin_maps_a_component_to_catalogue_entries(admin_client, status):
    component = Component.objects.get(name="Application runtimes")
    url = reverse("admin:trust_component_change", args=[component.pk])
    page = admin_client.get(url).content.decode()
    assert "Jelastic · PHP" in page  # names repeat across plans: the plan is shown
    assert "selectfilter" in page  # filter_horizontal
    response = admin_client.post(
        url,
        {
            "name": component.name,
            "group": component.group,
            "description": "",
            "position": 0,
            "catalogue_entries": [status["php"].pk, status["mysql"].pk],
        },
    )
    assert response.status_code == 302
    assert set(component.catalogue_entries.all()) == {status["php"], status["mysql"]}
    listing = admin_client.get(reverse("admin:trust_component_changelist"))
    assert "every customer" in listing.content.decode()  # the platform-wide ones


def test_the_demo_maps_its_components_to_the_demo_plans(client):
    from helpdesk.trust import demo

    load_policy_packs(["janrain-platinum", "jelastic"])
    demo.seed()
    databases = Component.objects.get(name="Managed databases")
    assert {e.name for e in databases.catalogue_entries.all()} == {
        "MS-SQL",
        "MySQL / MariaDB",
        "PostgreSQL",
    }
    assert not Component.objects.get(name="Login widget").catalogue_entries.exists()
    hosting = Incident.objects.get(title__startswith="Slow start of new MySQL")
    html = fragment(client, administrator("jelastic"), summary="")
    assert hosting.title in html
    assert "Elevated error rates on the Registration API" in html  # platform-wide
    html = fragment(client, administrator("janrain-platinum"), summary="")
    assert hosting.title not in html
    assert "Elevated error rates on the Registration API" in html
    demo.seed()  # again: nothing changes
    assert databases.catalogue_entries.count() == 3


def test_the_fragment_takes_as_many_queries_for_many_rows_as_for_few(client):
    """The form asks at every pause in typing: a constant, small number of queries
    (the session, user and organisation; the articles; the visit and what it was
    shown; the incidents with their components' names; the maintenance)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = administrator()
    client.force_login(admin.user)
    token = str(uuid.uuid4())
    now = timezone.now()

    def count(summary) -> int:
        client.get(SUGGESTIONS, {"summary": summary, "token": token})  # the visit
        with CaptureQueriesContext(connection) as queries:
            response = client.get(SUGGESTIONS, {"summary": summary, "token": token})
        assert response.status_code == 200
        return len(queries)

    for n in range(5):
        ArticleFactory(title=f"Widget guide {n}")
    few = count("widget")
    for n in range(5, 12):
        ArticleFactory(title=f"Widget guide {n}")
        ComponentFactory()
    components = list(Component.objects.all())
    for n in range(6):
        incident(*components[n : n + 3], title=f"Incident {n}")
        maintenance(*components[n : n + 2], starts_at=now, title=f"Window {n}")
    assert count("widget") == few <= 8
