"""The admin's autocomplete fields take any submitted value (accounts.autocomplete):
a value that cannot be a key is a form error, never a 500, and changes nothing."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.autocomplete import KeyCheckedAutocomplete
from accounts.models import SupportAdministrator
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(client):
    user = AgentFactory(is_superuser=True, full_name="Sam Super")
    client.force_login(user)
    return user


@pytest.mark.parametrize("value", ["abc", "9" * 40, "-1.5", "1e3"])
def test_a_value_that_is_no_key_is_a_form_error(client, superuser, value):
    member = SupportAdministratorFactory(job_title="Lead")
    url = reverse("admin:accounts_supportadministrator_change", args=[member.pk])

    response = client.post(
        url,
        {
            "user": value,
            "organization": member.organization_id,
            "job_title": "Changed",
            "phone": "",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    member.refresh_from_db()
    assert member.job_title == "Lead"


def test_the_admins_autocomplete_fields_check_their_keys(rf, superuser):
    request = rf.get("/")
    request.user = superuser
    model_admin = admin.site._registry[SupportAdministrator]

    form = model_admin.get_form(request)()

    for name in ("user", "organization"):
        widget = form.fields[name].widget.widget  # inside the related wrapper
        assert isinstance(widget, KeyCheckedAutocomplete), name


def test_only_keys_are_looked_up(superuser):
    field = SupportAdministrator._meta.get_field("user")
    widget = KeyCheckedAutocomplete(field, admin.site)

    assert widget.is_key(str(superuser.pk))
    assert widget.is_key(superuser.pk)
    assert not widget.is_key("abc")
    assert not widget.is_key("9" * 40)  # beyond a 64-bit integer
