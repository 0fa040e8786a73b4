import pytest

pytestmark = pytest.mark.django_db


def test_home_page_links_to_the_agent_console(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"/admin/" in response.content


def test_healthz_reports_ok(client):
    response = client.get("/healthz")

    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
