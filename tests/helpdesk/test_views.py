import pytest

pytestmark = pytest.mark.django_db


def test_home_page_links_to_the_agent_console(client):
    response = client.get("/")

    assert response.status_code == 200
    assert b"/admin/" in response.content


def test_healthz_reports_ok(client):
    response = client.get("/healthz")

    # Broker and mail are reported too (tests/helpdesk/test_error_pages.py); a
    # broker that is down here only degrades the answer.
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["status"] in {"ok", "degraded"}
    assert "no-cache" in response["Cache-Control"]
