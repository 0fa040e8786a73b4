"""The site's icon: linked from the public, portal and agent console pages, and at
/favicon.ico for whatever asks there (feeds, downloads, crawlers)."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db

ICON = "/static/helpdesk/favicon.svg"


def test_favicon_ico_leads_to_the_svg_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 302
    assert response["Location"] == ICON
    with open(finders.find("helpdesk/favicon.svg"), encoding="utf-8") as icon:
        assert icon.read().startswith("<svg ")


@pytest.mark.parametrize("name", ["home", "portal:login", "admin:login"])
def test_every_kind_of_page_links_the_icon(client, name):
    response = client.get(reverse(name))

    assert response.status_code == 200
    assert f'<link rel="icon" href="{ICON}" type="image/svg+xml">' in (
        response.content.decode()
    )
