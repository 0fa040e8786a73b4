"""Sessions: a new key at log-in, idle and absolute time-outs, and no-store caching
on everything a logged-in user sees or downloads."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import FileResponse, HttpResponse
from django.test import RequestFactory, override_settings
from django.urls import reverse

from accounts import roles
from accounts.sessions import NoStoreMiddleware, why_ended
from helpdesk import services
from tests.accounts.factories import PASSWORD, AgentFactory
from tests.helpdesk.factories import administrator, file_ticket, text_file

pytestmark = pytest.mark.django_db

T0 = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)


# --- log-in ------------------------------------------------------------------------


def test_logging_in_gives_the_session_a_new_key(client):
    admin = administrator()
    before = client.session  # an anonymous session, as a fixation attack plants
    before["probe"] = "kept"
    before.save()

    client.post(
        reverse("portal:login"), {"username": admin.user.email, "password": PASSWORD}
    )

    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before.session_key
    assert not SessionStore().exists(before.session_key)
    assert client.session["_auth_user_id"] == str(admin.user.pk)


# --- time-outs ---------------------------------------------------------------------


def _at(client, instant: datetime, url: str):
    with time_machine.travel(instant, tick=False):
        return client.get(url)


def test_a_customer_session_lasts_eight_idle_hours(client):
    admin = administrator()
    tickets = reverse("portal:tickets")
    with time_machine.travel(T0, tick=False):
        client.force_login(admin.user)

    still = _at(client, T0 + timedelta(hours=3), tickets)
    ended = _at(client, T0 + timedelta(hours=11, minutes=1), tickets)
    login_page = client.get(ended["Location"])

    assert still.status_code == 200
    assert ended.status_code == 302
    assert ended["Location"] == f"{reverse('portal:login')}?next={tickets}"
    assert "_auth_user_id" not in client.session
    assert b"logged out after 8 hours without activity" in login_page.content


def test_an_agent_session_lasts_thirty_idle_minutes(client):
    agent = AgentFactory(is_superuser=True)
    console = reverse("admin:index")
    with time_machine.travel(T0, tick=False):
        client.force_login(agent)

    busy = [
        _at(client, T0 + timedelta(minutes=m), console).status_code
        for m in (25, 50, 75)
    ]
    ended = _at(client, T0 + timedelta(minutes=106), console)
    login_page = client.get(ended["Location"])

    assert busy == [200, 200, 200]
    assert ended["Location"] == f"{reverse('admin:login')}?next={console}"
    assert "_auth_user_id" not in client.session
    assert b"logged out after 30 minutes without activity" in login_page.content


@override_settings(HELPDESK_CUSTOMER_IDLE_MINUTES=10)
def test_the_idle_limit_is_a_setting(client):
    admin = administrator()
    with time_machine.travel(T0, tick=False):
        client.force_login(admin.user)

    ended = _at(client, T0 + timedelta(minutes=11), reverse("portal:plan"))

    assert ended.status_code == 302
    assert ended["Location"].startswith(reverse("portal:login"))


def test_a_busy_session_still_ends_after_twelve_hours(client):
    admin = administrator()
    tickets = reverse("portal:tickets")
    with time_machine.travel(T0, tick=False):
        client.force_login(admin.user)

    busy = [
        _at(client, T0 + timedelta(hours=h), tickets).status_code for h in (4, 8, 12)
    ]
    ended = _at(client, T0 + timedelta(hours=12, minutes=1), tickets)
    login_page = client.get(ended["Location"])

    assert busy == [200, 200, 200]
    assert ended.status_code == 302
    assert b"log in again every 12 hours" in login_page.content


def test_the_idle_clock_starts_at_log_in(client):
    admin = administrator()
    with time_machine.travel(T0, tick=False):
        client.post(
            reverse("portal:login"),
            {"username": admin.user.email, "password": PASSWORD},
        )

    first_click = _at(client, T0 + timedelta(hours=8, minutes=1), "/portal/tickets/")

    assert first_click.status_code == 302
    assert first_click["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize(
    ("last_seen", "logged_in", "now", "ended"),
    [
        ("10:00", "09:00", "10:30", ""),
        ("10:00", "09:00", "10:31", "without activity"),
        ("20:50", "09:00", "21:00", ""),
        ("20:50", "09:00", "21:01", "every 12 hours"),
    ],
)
def test_why_a_session_ends(last_seen, logged_in, now, ended):
    def at(clock: str) -> datetime:
        hour, minute = map(int, clock.split(":"))
        return T0.replace(hour=hour, minute=minute)

    reason = why_ended(
        last_seen_at=at(last_seen),
        logged_in_at=at(logged_in),
        idle=timedelta(minutes=30),
        now=at(now),
    )

    assert (ended in reason) if ended else reason == ""


# --- Cache-Control -----------------------------------------------------------------


def _no_store(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


def test_portal_pages_are_not_stored(client):
    client.force_login(administrator().user)

    assert _no_store(client.get(reverse("portal:tickets")))


def test_console_pages_are_not_stored(client):
    client.force_login(AgentFactory(is_superuser=True))

    response = client.get(reverse("admin:index"))

    assert response.status_code == 200
    assert _no_store(response)


def test_attachment_downloads_are_not_stored(client):
    admin = administrator()
    ticket = file_ticket(admin, uploads=[text_file("app.log")])
    client.force_login(admin.user)

    response = client.get(ticket.attachments.get().get_absolute_url())

    assert response.status_code == 200
    assert _no_store(response)
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_csv_reports_are_not_stored(client):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))

    response = client.get(reverse("tam:month_csv", args=[2027, 2]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert _no_store(response)


def test_public_pages_keep_their_headers(client):
    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert "Cache-Control" not in response
    assert "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize(
    "response",
    [
        HttpResponse(b"a,b\n", content_type="text/csv"),
        HttpResponse(b"BEGIN:VCALENDAR", content_type="text/calendar; charset=utf-8"),
        HttpResponse(headers={"Content-Disposition": 'attachment; filename="x"'}),
    ],
    ids=["csv", "ics", "attachment"],
)
def test_downloads_are_not_stored_even_without_a_login(response):
    request = RequestFactory().get("/portal/tam/calendar/feed.ics")
    request.session = SessionStore()
    request.user = AnonymousUser()
    response["Cache-Control"] = "public, max-age=3600"

    answered = NoStoreMiddleware(lambda r: response)(request)

    assert _no_store(answered)
    assert "public" not in answered["Cache-Control"]


def test_a_file_response_is_a_download(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4")
    request = RequestFactory().get("/")

    with path.open("rb") as handle:
        answered = NoStoreMiddleware(lambda r: FileResponse(handle))(request)

    assert _no_store(answered)


def test_a_reply_page_after_posting_is_not_stored(client):
    admin = administrator()
    ticket = file_ticket(admin)
    services.post_reply(ticket, author=AgentFactory(), body="Looking into it")
    client.force_login(admin.user)

    assert _no_store(client.get(ticket.get_absolute_url()))
