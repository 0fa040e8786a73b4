"""Login throttling (django-axes, accounts.throttle): per account and address, per
address across accounts, and the client address behind a trusted proxy."""

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from accounts.throttle import client_ip_address
from tests.accounts.factories import PASSWORD, SupportAdministratorFactory, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.7"
ELSEWHERE = "192.0.2.44"
LOAD_BALANCER = "10.0.0.2"

throttled = override_settings(
    AXES_ENABLED=True,
    AXES_FAILURE_LIMIT=5,
    HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT=20,
    HELPDESK_TRUSTED_PROXY_COUNT=0,
)


def _login(client, email: str, password: str = "wrong", **meta):
    return client.post(
        reverse("portal:login"), {"username": email, "password": password}, **meta
    )


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_repeated_wrong_passwords_lock_the_login_whatever_the_case(client):
    user = SupportAdministratorFactory().user
    url = reverse("portal:login")

    for attempt in range(3):
        email = user.email.upper() if attempt % 2 else user.email
        client.post(url, {"username": email, "password": "wrong"})
    locked = client.post(url, {"username": user.email, "password": PASSWORD})

    assert locked.status_code == 429
    assert b"Too many failed log-ins" in locked.content
    assert b"Try again in 15 minutes" in locked.content
    assert "_auth_user_id" not in client.session


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(client):
    user = SupportAdministratorFactory().user
    url = reverse("portal:login")

    client.post(url, {"username": user.email, "password": "wrong"})
    client.post(url, {"username": user.email, "password": "wrong"})
    ok = client.post(url, {"username": user.email, "password": PASSWORD})

    assert ok.status_code == 302
    assert not AccessAttempt.objects.exists()


@throttled
def test_wrong_passwords_lock_that_account_from_that_address_only(client):
    victim, neighbour = UserFactory(), UserFactory()

    guesses = [
        _login(client, victim.email, REMOTE_ADDR=ATTACKER).status_code for _ in range(5)
    ]
    locked = _login(client, victim.email, PASSWORD, REMOTE_ADDR=ATTACKER)
    from_elsewhere = _login(Client(), victim.email, PASSWORD, REMOTE_ADDR=ELSEWHERE)
    other_account = _login(Client(), neighbour.email, PASSWORD, REMOTE_ADDR=ATTACKER)

    assert guesses == [200, 200, 200, 200, 429]
    assert locked.status_code == 429
    assert from_elsewhere.status_code == 302
    assert other_account.status_code == 302


@throttled
def test_one_password_sprayed_over_30_accounts_from_one_address_is_blocked(client):
    users = [UserFactory() for _ in range(30)]

    answers = [
        _login(client, user.email, "Summer2025!", REMOTE_ADDR=ATTACKER).status_code
        for user in users
    ]
    right_password = _login(Client(), users[0].email, PASSWORD, REMOTE_ADDR=ATTACKER)
    someone_elsewhere = _login(
        Client(), users[0].email, PASSWORD, REMOTE_ADDR=ELSEWHERE
    )

    # The 20th failure from the address fills its bucket; no account got five.
    assert answers == [200] * 19 + [429] * 11
    assert right_password.status_code == 429
    assert someone_elsewhere.status_code == 302


@throttled
@override_settings(HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT=4)
def test_logging_in_to_ones_own_account_does_not_empty_the_address_count(client):
    own, *victims = [UserFactory() for _ in range(5)]

    first = [_login(client, v.email, REMOTE_ADDR=ATTACKER) for v in victims[:2]]
    mine = _login(Client(), own.email, PASSWORD, REMOTE_ADDR=ATTACKER)
    third = _login(client, victims[2].email, REMOTE_ADDR=ATTACKER)
    fourth = _login(client, victims[3].email, REMOTE_ADDR=ATTACKER)

    assert [r.status_code for r in first] == [200, 200]
    assert mine.status_code == 302
    assert third.status_code == 200
    assert fourth.status_code == 429


@throttled
def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client):
    user = UserFactory()

    for n in range(5):
        _login(
            client,
            user.email,
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    locked = _login(
        client,
        user.email,
        PASSWORD,
        REMOTE_ADDR=ATTACKER,
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )

    assert locked.status_code == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [
        ATTACKER
    ]


@throttled
@override_settings(HELPDESK_TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_appended_is_the_client(client):
    user = UserFactory()

    # The attacker writes a fresh left-hand entry each time; the load balancer
    # appends the address it was connected from.
    for n in range(5):
        _login(
            client,
            user.email,
            REMOTE_ADDR=LOAD_BALANCER,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, {ATTACKER}",
        )
    locked = _login(
        client,
        user.email,
        PASSWORD,
        REMOTE_ADDR=LOAD_BALANCER,
        HTTP_X_FORWARDED_FOR=f"203.0.113.99, {ATTACKER}",
    )
    colleague = _login(
        Client(),
        user.email,
        PASSWORD,
        REMOTE_ADDR=LOAD_BALANCER,
        HTTP_X_FORWARDED_FOR=ELSEWHERE,
    )

    assert locked.status_code == 429
    assert colleague.status_code == 302  # not the load balancer's bucket
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [
        ATTACKER
    ]


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "", "198.51.100.7"),
        (0, "198.51.100.7", "203.0.113.1", "198.51.100.7"),
        (0, "", "203.0.113.1", None),
        (1, "10.0.0.2", "198.51.100.7", "198.51.100.7"),
        (1, "10.0.0.2", "6.6.6.6, 198.51.100.7", "198.51.100.7"),
        (1, "10.0.0.2", "6.6.6.6,198.51.100.7", "198.51.100.7"),
        (2, "10.0.0.3", "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        # Shorter than the proxy chain: it did not come through the proxies.
        (1, "10.0.0.2", "", "10.0.0.2"),
        (2, "10.0.0.3", "198.51.100.7", "10.0.0.3"),
        # Spellings of one address.
        (1, "10.0.0.2", "198.51.100.7:51234", "198.51.100.7"),
        (1, "10.0.0.2", "6.6.6.6, [2001:DB8::7]:443", "2001:db8::7"),
        (1, "10.0.0.2", "::ffff:198.51.100.7", "198.51.100.7"),
        (0, "::ffff:198.51.100.7", "", "198.51.100.7"),
        # Not an address where a trusted proxy wrote one: fall back, never trust.
        (1, "10.0.0.2", "6.6.6.6, unknown", "10.0.0.2"),
    ],
)
def test_the_client_address(proxies, remote, forwarded, expected):
    request = RequestFactory().get(
        "/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded
    )

    with override_settings(HELPDESK_TRUSTED_PROXY_COUNT=proxies):
        assert client_ip_address(request) == expected
