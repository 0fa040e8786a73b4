import pytest
from django.test import override_settings
from django.urls import reverse

from tests.accounts.factories import PASSWORD, SupportAdministratorFactory

pytestmark = pytest.mark.django_db


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
    assert "_auth_user_id" not in client.session


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(client):
    user = SupportAdministratorFactory().user
    url = reverse("portal:login")

    client.post(url, {"username": user.email, "password": "wrong"})
    client.post(url, {"username": user.email, "password": "wrong"})
    ok = client.post(url, {"username": user.email, "password": PASSWORD})

    assert ok.status_code == 302
