"""Passwords: the rules a new one must meet, the portal's change-password page, and
reset links limited per address and per e-mail without telling who has an account."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from tests.accounts.factories import PASSWORD, AgentFactory, UserFactory
from tests.helpdesk.factories import administrator

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "plum-orbit-canvas-42"
HERE = "198.51.100.7"
ELSEWHERE = "192.0.2.44"
# Half past ten: the hourly reset windows start again at eleven.
MORNING = datetime(2031, 5, 6, 10, 30, tzinfo=UTC)


# --- the rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Xk7#pLm2Qz9", "at least 12 characters"),  # 11 characters
        ("password1234", "too common"),
        ("lovelace-acme", "too similar to the e-mail address"),
        ("918273645546372819", "entirely numeric"),
    ],
)
def test_weak_passwords_are_refused(password, message):
    user = UserFactory(email="ada.lovelace@acme.example")

    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)

    assert any(message in text for text in refused.value.messages)


def test_a_long_uncommon_password_is_accepted():
    user = UserFactory(email="ada.lovelace@acme.example")

    validate_password(NEW_PASSWORD, user)


# --- changing it in the portal -----------------------------------------------------


def _change(client, old=PASSWORD, new=NEW_PASSWORD, again=None):
    return client.post(
        reverse("portal:password_change"),
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def test_the_portal_offers_a_change_password_page(client):
    client.force_login(administrator().user)

    tickets = client.get(reverse("portal:tickets"))
    page = client.get(reverse("portal:password_change"))

    assert f'href="{reverse("portal:password_change")}"'.encode() in tickets.content
    assert page.status_code == 200
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'name="{name}"'.encode() in page.content


def test_changing_the_password_stores_it_then_says_so(client):
    admin = administrator()
    client.force_login(admin.user)

    response = _change(client)
    landed = client.get(response["Location"])

    admin.user.refresh_from_db()
    assert response.status_code == 302
    assert admin.user.check_password(NEW_PASSWORD)
    assert b"Your password has been changed" in landed.content
    [notice] = mail.outbox
    assert notice.to == [admin.user.email]
    assert "was changed" in notice.subject


@pytest.mark.parametrize(
    ("old", "new", "again", "field", "error"),
    [
        ("not-my-password", NEW_PASSWORD, None, "old_password", "incorrectly"),
        (PASSWORD, "short-1", None, "new_password2", "at least 12 characters"),
        (PASSWORD, "password1234", None, "new_password2", "too common"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "new_password2", "didn"),
    ],
)
def test_a_refused_change_says_why_at_the_field_and_changes_nothing(
    client, old, new, again, field, error
):
    admin = administrator()
    client.force_login(admin.user)

    response = _change(client, old, new, again)

    page = response.content.decode()
    admin.user.refresh_from_db()
    assert response.status_code == 200
    assert admin.user.check_password(PASSWORD)
    assert 'id="form-errors"' in page  # the summary at the top
    summary = page.split('id="form-errors"')[1].split("</div>")[0]
    assert error in summary
    block = page.split(f'id="{field}-field"')[1].split("</div>")[0]
    assert 'class="field-errors"' in block
    assert error in block
    assert "has been changed" not in page
    assert mail.outbox == []


def test_a_change_logs_out_every_other_session_but_this_one(client):
    admin = administrator()
    laptop, phone = client, Client()
    laptop.force_login(admin.user)
    phone.force_login(admin.user)
    tickets = reverse("portal:tickets")
    assert phone.get(tickets).status_code == 200

    _change(laptop)

    on_phone = phone.get(tickets)
    assert on_phone.status_code == 302
    assert on_phone["Location"].startswith(reverse("portal:login"))
    assert laptop.get(tickets).status_code == 200  # update_session_auth_hash


def test_agents_are_not_offered_the_portal_page(client):
    agent = AgentFactory()
    client.force_login(agent)

    response = _change(client)

    agent.refresh_from_db()
    assert response.status_code == 403
    assert agent.check_password(PASSWORD)


# --- reset links -------------------------------------------------------------------


def _ask(client, email, address=HERE):
    return client.post(
        reverse("portal:password_reset"), {"email": email}, REMOTE_ADDR=address
    )


@override_settings(HELPDESK_PASSWORD_RESETS_PER_EMAIL=3)
def test_reset_links_for_one_email_stop_after_the_limit_without_saying_so(client):
    user = UserFactory()

    with time_machine.travel(MORNING, tick=False):
        known = [_ask(client, user.email) for _ in range(4)]
        unknown = [_ask(client, "nobody@nowhere.example") for _ in range(4)]

    answers = {(r.status_code, r["Location"]) for r in known + unknown}
    assert answers == {(302, reverse("portal:password_reset_done"))}
    assert len(mail.outbox) == 3
    assert {m.to[0] for m in mail.outbox} == {user.email}


@override_settings(HELPDESK_PASSWORD_RESETS_PER_EMAIL=3)
def test_the_email_limit_counts_whatever_the_case(client):
    user = UserFactory(email="ada@acme.example")

    with time_machine.travel(MORNING, tick=False):
        for email in ("ada@acme.example", "ADA@acme.example", " Ada@Acme.Example "):
            _ask(client, email)
        _ask(client, "ada@acme.example")

    assert len(mail.outbox) == 3
    assert {m.to[0] for m in mail.outbox} == {user.email}


@override_settings(HELPDESK_PASSWORD_RESETS_PER_ADDRESS=5)
def test_one_address_asking_for_many_links_is_refused_and_told(client):
    users = [UserFactory() for _ in range(6)]

    with time_machine.travel(MORNING, tick=False):
        within = [_ask(client, u.email) for u in users[:5]]
        beyond_known = _ask(client, users[5].email)
        beyond_unknown = _ask(client, "nobody@nowhere.example")
        elsewhere = _ask(Client(), users[5].email, address=ELSEWHERE)

    assert {r.status_code for r in within} == {302}
    for refused in (beyond_known, beyond_unknown):
        assert refused.status_code == 429
        assert refused["Retry-After"] == "1800"
        assert b"Please try again in 30 minutes" in refused.content
    assert beyond_known.content == beyond_unknown.content
    assert elsewhere.status_code == 302
    assert len(mail.outbox) == 6  # five from here, one from elsewhere


@override_settings(
    HELPDESK_PASSWORD_RESETS_PER_ADDRESS=2, HELPDESK_PASSWORD_RESETS_PER_EMAIL=1
)
def test_the_limits_start_again_the_next_hour(client):
    user = UserFactory()

    with time_machine.travel(MORNING, tick=False):
        _ask(client, user.email)
        _ask(client, user.email)
        refused = _ask(client, user.email)
    with time_machine.travel(MORNING + timedelta(minutes=30), tick=False):
        again = _ask(client, user.email)

    assert refused.status_code == 429
    assert again.status_code == 302
    assert len(mail.outbox) == 2


@override_settings(HELPDESK_PASSWORD_RESETS_PER_ADDRESS=1)
def test_a_bad_email_is_an_error_at_the_field_and_counts_nothing(client):
    user = UserFactory()

    with time_machine.travel(MORNING, tick=False):
        response = _ask(client, "not an address")
        then = _ask(client, user.email)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="form-errors"' in page
    assert "valid email address" in page.split('id="email-field"')[1]
    assert then.status_code == 302
    assert len(mail.outbox) == 1


def _reset_link(email: str) -> str:
    [message] = [m for m in mail.outbox if m.to == [email]]
    return re.search(r"https?://[^/]+(/portal/password-reset/\S+/)", message.body)[1]


@override_settings(AXES_ENABLED=True, AXES_FAILURE_LIMIT=3)
def test_a_reset_stores_the_password_ends_other_sessions_and_lifts_the_lockout(
    client,
):
    admin = administrator()
    user = admin.user
    old_session = Client()
    old_session.force_login(user)
    for _ in range(3):
        Client().post(
            reverse("portal:login"), {"username": user.email, "password": "wrong"}
        )
    assert AccessAttempt.objects.filter(username=user.email).exists()
    _ask(client, user.email)

    form = client.get(_reset_link(user.email), follow=True)
    weak = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "password1234", "new_password2": "password1234"},
    )
    saved = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    user.refresh_from_db()
    assert b"too common" in weak.content
    assert b'id="form-errors"' in weak.content
    assert saved["Location"] == reverse("portal:password_reset_complete")
    assert user.check_password(NEW_PASSWORD)
    assert old_session.get(reverse("portal:tickets")).status_code == 302
    assert not AccessAttempt.objects.filter(username=user.email).exists()
    assert "was reset" in mail.outbox[-1].subject
    logged_in = Client().post(
        reverse("portal:login"), {"username": user.email, "password": NEW_PASSWORD}
    )
    assert logged_in.status_code == 302
