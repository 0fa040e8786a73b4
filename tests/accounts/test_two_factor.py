"""Two-factor sign-in for the agent console (accounts/two_factor).

The test settings turn the requirement off for the rest of the suite (its sessions
come from force_login); here it is on, as in every deployment. Codes are made from
each device's own key with django-otp's TOTP, on a clock that stands still unless a
test moves it: a TOTP code is accepted once per 30-second step.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib import admin
from django.core.management import call_command
from django.urls import get_resolver, reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import roles
from accounts.two_factor import services
from tests.accounts.factories import (
    PASSWORD,
    AgentFactory,
    SupportAdministratorFactory,
)

pytestmark = pytest.mark.django_db

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def require_two_factor(settings):
    settings.HELPDESK_REQUIRE_2FA = True


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def manager():
    return AgentFactory(role=roles.SUPPORT_MANAGER)


@pytest.fixture
def engineer():
    return AgentFactory(role=roles.SUPPORT_ENGINEER)


@pytest.fixture
def superuser():
    return AgentFactory(is_superuser=True)


def code(device: TOTPDevice) -> str:
    """The code the agent's authenticator app shows now."""
    device.refresh_from_db()
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{value:0{device.digits}d}"


def wrong(device: TOTPDevice) -> str:
    return f"{(int(code(device)) + 1) % 1_000_000:06d}"


def enrol(user, clock) -> tuple[TOTPDevice, list[str]]:
    """Set up an authenticator for ``user``; the next code is 30 seconds later."""
    device = services.pending_authenticator(user)
    decision, codes = services.confirm_authenticator(user, device, code(device))
    assert decision, decision.reason
    clock.shift(timedelta(seconds=30))
    device.refresh_from_db()
    return device, codes


def location(response) -> str:
    assert response.status_code == 302, response.status_code
    return response["Location"]


def goes_to(response, url_name: str) -> bool:
    return location(response).split("?")[0] == reverse(url_name)


GUARDED = [
    ("admin:index", ()),
    ("admin:helpdesk_ticket_changelist", ()),
    ("admin:accounts_organization_add", ()),
    ("admin:policies_slo_calculator", ()),  # a custom admin view
    ("admin:password_change", ()),
    ("two_factor:manage", ()),
    ("two_factor:recovery_codes", ()),
    ("slo_attainment", ()),  # staff report pages
    ("tam:index", ()),
    ("tam:month", (2027, 2)),
    ("tam:month_csv", (2027, 2)),
    ("tam:log_time", (1,)),
]


# --- who must, who may --------------------------------------------------------------


@pytest.mark.parametrize(("url_name", "args"), GUARDED)
def test_a_support_manager_without_an_authenticator_must_set_one_up_first(
    client, manager, url_name, args
):
    client.force_login(manager)
    url = reverse(url_name, args=args)

    response = client.get(url)

    assert goes_to(response, "two_factor:set_up")
    assert parse_qs(urlsplit(location(response)).query) == {"next": [url]}
    assert client.post(url, {"x": "1"})["Location"] == location(response)


def test_a_superuser_without_an_authenticator_must_set_one_up_too(client, superuser):
    client.force_login(superuser)

    assert goes_to(client.get(reverse("admin:index")), "two_factor:set_up")


def test_log_in_log_out_and_set_up_stay_open(client, manager):
    client.force_login(manager)

    assert client.get(reverse("admin:login")).status_code == 302  # to the index
    assert client.get(reverse("two_factor:set_up")).status_code == 200
    assert client.get(reverse("two_factor:verify")).status_code == 302
    assert location(client.post(reverse("admin:logout"))) == reverse("portal:login")
    assert goes_to(client.get(reverse("admin:index")), "admin:login")


def test_a_support_engineer_may_use_the_console_without_two_factor(client, engineer):
    client.force_login(engineer)

    index = client.get(reverse("admin:index"))
    page = client.get(reverse("two_factor:manage"))

    assert index.status_code == 200
    assert reverse("two_factor:manage").encode() in index.content
    assert b"Two-factor sign-in</a>" in index.content
    assert page.status_code == 200
    assert b"Two-factor sign-in is off." in page.content
    assert b"optional for your role" in page.content


def test_with_the_requirement_off_a_manager_may_skip_it(client, manager, settings):
    settings.HELPDESK_REQUIRE_2FA = False
    client.force_login(manager)

    assert client.get(reverse("admin:index")).status_code == 200


def test_a_customer_is_unaffected(client):
    customer = SupportAdministratorFactory().user
    client.force_login(customer)

    portal = client.get(reverse("portal:tickets"))
    console = client.get(reverse("admin:index"))
    two_factor = client.get(reverse("two_factor:set_up"))

    assert portal.status_code == 200
    assert goes_to(console, "admin:login")
    assert goes_to(two_factor, "admin:login")
    assert not TOTPDevice.objects.exists()


def test_every_page_outside_the_portal_is_guarded():
    """A new top-level page must be under /admin/ or /staff/, or be public on purpose:
    the gate guards paths, not views."""
    public = {"", "healthz", "favicon.ico", "portal/"}
    routes = [str(p.pattern) for p in get_resolver().url_patterns]

    unguarded = [
        route
        for route in routes
        if route not in public and not route.startswith(("admin/", "staff/"))
    ]

    assert unguarded == []
    assert "portal/" in routes


def test_django_otps_device_admins_are_not_in_the_console():
    # They would show every agent's secret key and recovery codes.
    assert TOTPDevice not in admin.site._registry
    assert StaticDevice not in admin.site._registry


# --- setting up ---------------------------------------------------------------------


def test_the_set_up_page_shows_a_qr_code_and_the_key_and_keeps_them(client, manager):
    client.force_login(manager)

    first = client.get(reverse("two_factor:set_up"))
    again = client.get(reverse("two_factor:set_up"))

    device = TOTPDevice.objects.get(user=manager)
    secret = re.search(rb'id="two-factor-secret">([A-Z2-7 ]+)<', first.content)[1]
    assert first.status_code == 200
    assert b"<svg" in first.content
    assert secret.replace(b" ", b"").decode() in device.config_url
    assert "issuer=Helpdesk" in device.config_url
    assert secret in again.content  # a reload keeps the key the phone scanned
    assert not device.confirmed
    assert b'id="nav-sidebar"' not in first.content  # no list of the console's models
    assert first["Cache-Control"].startswith("max-age=0")
    assert "no-store" in first["Cache-Control"]


def test_a_wrong_set_up_code_is_refused_and_changes_nothing(client, manager, clock):
    client.force_login(manager)
    client.get(reverse("two_factor:set_up"))
    device = TOTPDevice.objects.get(user=manager)

    response = client.post(reverse("two_factor:set_up"), {"code": wrong(device)})
    empty = client.post(reverse("two_factor:set_up"), {"code": " "})

    assert response.status_code == 400
    assert b"That code is not right" in response.content
    assert b"Enter a code." in empty.content
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticToken.objects.exists()
    assert goes_to(client.get(reverse("admin:index")), "two_factor:set_up")


def test_set_up_with_the_right_code_opens_the_console_and_shows_ten_recovery_codes_once(
    client, manager, clock
):
    client.force_login(manager)
    client.get(reverse("two_factor:set_up"))
    device = TOTPDevice.objects.get(user=manager)
    next_url = reverse("admin:helpdesk_ticket_changelist")

    response = client.post(
        reverse("two_factor:set_up"), {"code": code(device), "next": next_url}
    )
    shown = client.get(location(response))
    reload = client.get(location(response), follow=True)

    assert goes_to(response, "two_factor:recovery_codes")
    codes = re.findall(rb"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", shown.content)
    assert len(set(codes)) == 10
    stored = set(StaticToken.objects.filter(device__user=manager).values_list("token"))
    assert {(c.replace(b"-", b"").decode(),) for c in codes} == stored
    assert f'href="{next_url}"'.encode() in shown.content
    assert b"<code>" not in reload.content
    assert b"shown only once" in reload.content
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(next_url).status_code == 200


def test_an_agent_with_an_authenticator_cannot_add_another_with_the_password_alone(
    client, engineer, clock
):
    enrol(engineer, clock)
    client.force_login(engineer)

    page = client.get(reverse("two_factor:set_up"))
    post = client.post(reverse("two_factor:set_up"), {"code": "123456"})

    assert goes_to(page, "two_factor:verify")
    assert goes_to(post, "two_factor:verify")
    assert TOTPDevice.objects.filter(user=engineer).count() == 1


# --- verifying after the password ---------------------------------------------------


def test_a_superuser_with_an_authenticator_must_enter_a_code_first(
    client, superuser, clock
):
    device, _ = enrol(superuser, clock)
    client.force_login(superuser)
    index = reverse("admin:index")

    before = client.get(index)
    refused = client.post(reverse("two_factor:verify"), {"code": wrong(device)})
    still = client.get(index)
    clock.shift(timedelta(seconds=5))  # past the wait the wrong code started
    accepted = client.post(
        reverse("two_factor:verify"), {"code": code(device), "next": index}
    )

    assert goes_to(before, "two_factor:verify")
    assert refused.status_code == 400
    assert b"That code is not right" in refused.content
    assert goes_to(still, "two_factor:verify")
    assert location(accepted) == index
    assert client.get(index).status_code == 200


def test_password_then_code_through_the_log_in_page(client, engineer, clock):
    device, _ = enrol(engineer, clock)

    signed_in = client.post(
        reverse("admin:login"),
        {"username": engineer.email, "password": PASSWORD, "next": "/admin/"},
        follow=True,
    )
    verified = client.post(
        reverse("two_factor:verify"),
        {"code": code(device), "next": "/admin/"},
        follow=True,
    )

    assert signed_in.redirect_chain[-1][0].startswith(reverse("two_factor:verify"))
    assert b"Enter the 6-digit code" in signed_in.content
    assert verified.redirect_chain[-1][0] == "/admin/"
    assert b"Agent console" in verified.content


def test_a_used_code_is_not_accepted_again(client, engineer, clock):
    device, _ = enrol(engineer, clock)
    used = code(device)
    client.force_login(engineer)
    client.post(reverse("two_factor:verify"), {"code": used})
    other = type(client)()
    other.force_login(engineer)

    replay = other.post(reverse("two_factor:verify"), {"code": used})

    assert replay.status_code == 400
    assert goes_to(other.get(reverse("admin:index")), "two_factor:verify")


def test_repeated_wrong_codes_are_refused_until_the_wait_is_over(
    client, manager, clock
):
    device, _ = enrol(manager, clock)
    client.force_login(manager)
    url = reverse("two_factor:verify")

    client.post(url, {"code": wrong(device)})
    clock.shift(timedelta(seconds=1))
    client.post(url, {"code": wrong(device)})  # now a 2-second wait
    throttled = client.post(url, {"code": code(device)})  # right, but too soon
    device.refresh_from_db()
    failures = device.throttling_failure_count
    clock.shift(timedelta(seconds=2))
    accepted = client.post(url, {"code": code(device)})

    assert throttled.status_code == 400
    assert b"Too many wrong codes: wait 2 seconds" in throttled.content
    assert failures == 2  # a refused attempt does not lengthen the wait
    assert location(accepted) == reverse("admin:index")
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_a_recovery_code_works_once(client, engineer, clock):
    _, codes = enrol(engineer, clock)
    shown = services.format_recovery_code(codes[0]).upper()
    client.force_login(engineer)

    used = client.post(reverse("two_factor:verify"), {"code": shown}, follow=True)
    other = type(client)()
    other.force_login(engineer)
    again = other.post(reverse("two_factor:verify"), {"code": shown})

    assert used.status_code == 200
    assert b"You signed in with a recovery code" in used.content
    assert b"9 left" in used.content
    assert again.status_code == 400
    assert StaticToken.objects.filter(device__user=engineer).count() == 9
    # A wrong recovery code never counts against the authenticator app.
    assert TOTPDevice.objects.get(user=engineer).throttling_failure_count == 0


def test_an_offsite_next_is_ignored(client, engineer, clock):
    device, _ = enrol(engineer, clock)
    client.force_login(engineer)

    response = client.post(
        reverse("two_factor:verify"),
        {"code": code(device), "next": "https://evil.example/admin/"},
    )

    assert location(response) == reverse("admin:index")


def test_staff_report_pages_answer_only_a_verified_session(client, manager, clock):
    device, _ = enrol(manager, clock)
    client.force_login(manager)
    pages = [reverse("slo_attainment"), reverse("tam:month", args=[2027, 2])]

    before = [client.get(url) for url in pages]
    client.post(reverse("two_factor:verify"), {"code": code(device)})
    after = [client.get(url) for url in pages]

    assert all(goes_to(response, "two_factor:verify") for response in before)
    assert [response.status_code for response in after] == [200, 200]


# --- the "Two-factor sign-in" page ----------------------------------------------------


def verified_client(client, user, clock) -> tuple[TOTPDevice, list[str]]:
    device, codes = enrol(user, clock)
    client.force_login(user)
    response = client.post(reverse("two_factor:verify"), {"code": code(device)})
    assert location(response) == reverse("admin:index")
    clock.shift(timedelta(seconds=30))
    return device, codes


def test_new_recovery_codes_replace_the_old_ones(client, engineer, clock):
    _, old = verified_client(client, engineer, clock)

    made = client.post(reverse("two_factor:recovery_codes"), follow=True)
    new = re.findall(rb"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", made.content)
    other = type(client)()
    other.force_login(engineer)
    refused = other.post(reverse("two_factor:verify"), {"code": old[0]})
    clock.shift(timedelta(seconds=1))  # the wait a wrong recovery code starts
    accepted = other.post(reverse("two_factor:verify"), {"code": new[0].decode()})

    assert len(new) == 10
    assert refused.status_code == 400
    assert location(accepted) == reverse("admin:index")


def test_an_optional_agent_turns_it_off_with_a_code(client, engineer, clock):
    device, _ = verified_client(client, engineer, clock)
    url = reverse("two_factor:turn_off")

    refused = client.post(url, {"code": wrong(device)})
    kept = TOTPDevice.objects.filter(user=engineer).exists()
    clock.shift(timedelta(seconds=30))
    done = client.post(url, {"code": code(device)}, follow=True)

    assert refused.status_code == 400
    assert b"That code is not right" in refused.content
    assert kept
    assert b"Two-factor sign-in is off:" in done.content
    assert not TOTPDevice.objects.filter(user=engineer).exists()
    assert not StaticDevice.objects.filter(user=engineer).exists()
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_support_manager_cannot_turn_it_off(client, manager, clock):
    device, _ = verified_client(client, manager, clock)

    page = client.get(reverse("two_factor:manage"))
    response = client.post(
        reverse("two_factor:turn_off"), {"code": code(device)}, follow=True
    )

    assert b"Turn off two-factor sign-in" not in page.content
    assert b"cannot be turned off" in response.content
    assert TOTPDevice.objects.filter(user=manager, confirmed=True).exists()


def test_moving_to_a_new_phone_replaces_the_authenticator_and_keeps_the_codes(
    client, engineer, clock
):
    old, _ = verified_client(client, engineer, clock)

    client.get(reverse("two_factor:set_up"))
    new = TOTPDevice.objects.get(user=engineer, confirmed=False)
    done = client.post(reverse("two_factor:set_up"), {"code": code(new)}, follow=True)

    assert b"Your new authenticator app is set up" in done.content
    assert list(TOTPDevice.objects.filter(user=engineer)) == [new]
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    assert StaticToken.objects.filter(device__user=engineer).count() == 10
    assert client.get(reverse("admin:index")).status_code == 200


def test_reset_two_factor_makes_a_manager_set_up_again(client, manager, clock):
    verified_client(client, manager, clock)
    out = io.StringIO()

    call_command("reset_two_factor", manager.email.upper(), stdout=out)

    assert "must set up a new authenticator" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=manager).exists()
    assert not StaticToken.objects.filter(device__user=manager).exists()
    assert goes_to(client.get(reverse("admin:index")), "two_factor:set_up")


def test_reset_two_factor_names_an_unknown_address():
    with pytest.raises(Exception, match="No user has the e-mail address"):
        call_command("reset_two_factor", "nobody@example.com")
