"""Error pages, a database outage and /healthz (reliability §3).

The 400, 403, 404 and 500 pages are the site's own, say what happened and where to
go next, and never query: the 500 handler answers while the database is down. A
database outage is a 503 that says so. /healthz reports the database, the broker
and the mail server one by one.
"""

from __future__ import annotations

import socket
import threading
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk import errors, views
from helpdesk.trust import views as front_page  # serves "/"
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

OUTAGE = "We're having trouble — your last change may not have been saved; try again"


@pytest.fixture
def client() -> Client:
    """A client that answers a view's exception as production does: with a page."""
    return Client(raise_request_exception=False)


@pytest.fixture
def customer(client):
    admin = administrator()
    client.force_login(admin.user)
    return admin


def _links_back(content: bytes) -> bool:
    return all(
        f'href="{url}"'.encode() in content
        for url in ("/", "/portal/tickets/", "/admin/")
    )


def _styled(content: bytes) -> bool:
    return b'<header class="site-header">' in content and b"site.css" in content


# --- the pages ------------------------------------------------------------------------


def test_a_missing_page_is_the_sites_own_404_with_the_ways_back(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert _styled(response.content)
    assert _links_back(response.content)


def test_another_organisations_ticket_is_the_portals_404(client, customer):
    theirs = file_ticket()

    response = client.get(theirs.get_absolute_url())

    assert response.status_code == 404
    assert b"not one of your organisation" in response.content


@pytest.mark.parametrize(
    "reference",
    ["HD-0%2000001", "HD-" + "0" * 300, "HD-%C3%A9", "HD_000001"],
    ids=["space", "over-long", "non-ascii", "underscore"],
)
def test_a_malformed_ticket_reference_is_a_404_before_any_ticket_query(
    client, customer, reference
):
    file_ticket(customer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/portal/tickets/{reference}/")

    assert response.status_code == 404
    assert not [q for q in queries if "helpdesk_ticket" in q["sql"]]


def test_a_nul_byte_in_the_url_is_a_400_before_anything_queries(
    client, customer, django_assert_num_queries
):
    """PostgreSQL refuses NUL in a query; the reference used to reach one (a 500)."""
    file_ticket(customer)

    with django_assert_num_queries(0):
        in_path = client.get("/portal/tickets/HD-0%00001/")
        in_query = client.get("/admin/helpdesk/ticket/?status__exact=%00")

    assert in_path.status_code == 400
    assert in_query.status_code == 400
    assert b"We could not read that request" in in_path.content
    assert _styled(in_path.content)


def test_an_agent_without_the_permission_gets_the_403_page(client):
    client.force_login(AgentFactory())

    response = client.get("/staff/slo/attainment/")

    assert response.status_code == 403
    assert b"You may not open this page" in response.content
    assert b"support manager" in response.content  # the console's advice
    assert _links_back(response.content)


def test_an_expired_form_is_the_403_page_that_says_to_reload():
    client = Client(enforce_csrf_checks=True)

    response = client.post("/portal/login/", {"username": "a@b.example"})

    assert response.status_code == 403
    assert b"This form has expired" in response.content
    assert _styled(response.content)


def test_a_crashing_view_is_the_500_page(client):
    with mock.patch.object(front_page, "render", side_effect=RuntimeError("bug")):
        response = client.get("/")

    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert _styled(response.content)
    assert _links_back(response.content)


@pytest.mark.parametrize(
    ("handler", "status"),
    [
        (errors.bad_request, 400),
        (errors.permission_denied, 403),
        (errors.page_not_found, 404),
        (errors.server_error, 500),
    ],
)
def test_no_error_page_needs_the_database(rf, django_db_blocker, handler, status):
    request = rf.get("/portal/tickets/", HTTP_COOKIE="sessionid=abc")
    arguments = () if status == 500 else (Exception(),)

    with django_db_blocker.block():  # any query would raise
        response = handler(request, *arguments)

    assert response.status_code == status
    assert b"Support portal" in response.content


# --- a database outage ----------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("server closed the connection unexpectedly"),
        InterfaceError("connection already closed"),
    ],
)
def test_a_view_that_loses_the_database_answers_503_try_again(client, error):
    with mock.patch.object(front_page, "render", side_effect=error):
        response = client.get("/")

    assert response.status_code == 503
    assert OUTAGE.encode() in response.content
    assert response["Retry-After"] == "60"
    assert "no-store" in response["Cache-Control"]
    assert _styled(response.content)


def test_a_database_that_refuses_connections_is_the_503_page_not_a_500(customer):
    """A real outage: every connection attempt fails, so the session lookup in the
    middleware fails first; the 500 handler turns it into the outage page."""
    client = Client(raise_request_exception=False)
    client.force_login(customer.user)
    ticket = file_ticket(customer)
    refused = OperationalError('connection to server at "db" failed: refused')

    with mock.patch.object(connection, "ensure_connection", side_effect=refused):
        page = client.get("/portal/tickets/")
        reply = client.post(ticket.get_absolute_url(), {"body": "Still failing"})

    for response in (page, reply):
        assert response.status_code == 503
        assert OUTAGE.encode() in response.content


def test_an_error_that_is_not_the_database_stays_a_500(client):
    with mock.patch.object(front_page, "render", side_effect=ValueError("bug")):
        response = client.get("/")

    assert response.status_code == 500
    assert OUTAGE.encode() not in response.content


# --- /healthz -------------------------------------------------------------------------


@pytest.fixture
def mail_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def broker_in_folders(settings, tmp_path):
    """The embedded broker (kombu's filesystem transport) in a temporary folder."""
    folders = {
        "data_folder_in": tmp_path / "queue",
        "data_folder_out": tmp_path / "queue",
        "control_folder": tmp_path / "control",
    }
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    settings.CELERY_BROKER_URL = "filesystem://localhost//"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {k: str(v) for k, v in folders.items()}
    return folders


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_port():
    """A local TCP port that accepts connections, like an SMTP server's."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_healthz_is_ok_when_every_dependency_answers(
    client, broker_in_folders, mail_in_memory
):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "database": "ok",
        "broker": "ok",
        "mail": "ok",
        "status": "ok",
    }
    assert "no-cache" in response["Cache-Control"]


def test_healthz_pings_redis_when_it_is_the_broker(
    client, settings, redis_url, mail_in_memory
):
    settings.CELERY_BROKER_URL = redis_url

    assert client.get("/healthz").json()["broker"] == "ok"


def test_a_broker_that_is_down_degrades_but_keeps_the_process(
    client, settings, closed_port, mail_in_memory
):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port}/0"

    response = client.get("/healthz")

    assert response.status_code == 200  # the load balancer keeps this process
    assert response.json()["broker"] == "error: ConnectionError"
    assert response.json()["status"] == "degraded"


def test_a_missing_broker_folder_is_reported(client, broker_in_folders, mail_in_memory):
    broker_in_folders["control_folder"].rmdir()

    body = client.get("/healthz").json()

    assert body["broker"] == "error: the control_folder is missing or not writable"
    assert body["status"] == "degraded"


def test_healthz_connects_to_the_smtp_server(
    client, settings, broker_in_folders, smtp_port, closed_port
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"

    settings.EMAIL_PORT = smtp_port
    up = client.get("/healthz").json()
    settings.EMAIL_PORT = closed_port
    down = client.get("/healthz")

    assert up["mail"] == "ok"
    assert down.status_code == 200
    assert down.json()["mail"] == "error: ConnectionRefusedError"
    assert down.json()["status"] == "degraded"


def test_healthz_checks_the_mail_folder(client, settings, broker_in_folders, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path / "mail" / "not-yet-made"

    assert client.get("/healthz").json()["mail"] == "ok"


def test_a_database_that_is_down_takes_the_process_out(
    client, broker_in_folders, mail_in_memory
):
    refused = OperationalError("connection refused")
    # The check runs on its own thread, with its own connection: patch them all.
    wrapper = type(connections["default"])

    with mock.patch.object(wrapper, "ensure_connection", side_effect=refused):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"
    assert response.json()["status"] == "down"


def test_a_check_that_hangs_is_cut_off(
    client, monkeypatch, broker_in_folders, mail_in_memory
):
    """Hang detector: the broker check would block 10 s; the answer comes first
    and says so (no timing is asserted, only what the answer says)."""
    release = threading.Event()
    monkeypatch.setattr(views, "HEALTH_TIMEOUT_SECONDS", 0.2)
    monkeypatch.setattr(views, "_check_broker", lambda: release.wait(10) and "ok")

    try:
        response = client.get("/healthz")
    finally:
        release.set()

    assert response.status_code == 200
    assert response.json()["broker"] == "error: no answer within 0.2 s"
    assert response.json()["database"] == "ok"
