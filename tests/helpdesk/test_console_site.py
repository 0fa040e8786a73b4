"""The console's admin site (helpdesk.console.site): named for the helpdesk, and the
list of apps an agent may open built only on the pages that show it."""

from unittest import mock

import pytest
from django.contrib import admin
from django.contrib.admin.sites import AdminSite
from django.urls import reverse

from accounts import roles
from helpdesk.console.site import ConsoleSite
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(client):
    """How many times a page built the app list."""
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))
    real = AdminSite._build_app_dict
    with mock.patch.object(
        AdminSite, "_build_app_dict", autospec=True, side_effect=real
    ) as spy:
        yield spy


def test_admin_site_is_the_consoles():
    assert isinstance(admin.site, ConsoleSite)
    assert admin.site.site_header == "Helpdesk agent console"


def test_the_ticket_pages_do_not_build_the_app_list(client, built):
    ticket = file_ticket()

    listed = client.get(reverse("admin:helpdesk_ticket_changelist"))
    opened = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    assert (listed.status_code, opened.status_code) == (200, 200)
    assert built.call_count == 0


def test_the_index_and_the_sidebar_still_list_the_apps(client, built):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
    index = client.get(reverse("admin:index"))
    app = client.get(reverse("admin:app_list", args=["helpdesk"]))
    staff = client.get(reverse("slo_attainment"))

    assert built.call_count >= 3
    # The report's frame has the navigation sidebar of what the agent may open.
    for page in (index, app, staff):
        assert page.status_code == 200
        assert reverse("admin:helpdesk_ticket_changelist") in page.content.decode()
    assert 'id="nav-sidebar"' in staff.content.decode()


def test_an_app_the_agent_may_not_open_is_still_not_found(client, built):
    assert client.get(reverse("admin:app_list", args=["axes"])).status_code == 404
