from datetime import date

import pytest
from django.contrib.auth import authenticate
from django.db import IntegrityError

from accounts.models import Organization, User
from tests.accounts.factories import PASSWORD, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_create_user_normalises_the_email_and_logs_in_case_insensitively():
    user = User.objects.create_user("Alice@Example.COM", PASSWORD)

    assert user.email == "alice@example.com"
    assert authenticate(username="ALICE@example.com", password=PASSWORD) == user
    assert authenticate(username="alice@example.com", password="wrong") is None


def test_an_email_differing_only_in_case_is_refused_by_the_database():
    User.objects.create_user("bob@example.com", PASSWORD)

    with pytest.raises(IntegrityError):
        User.objects.bulk_create([User(email="BOB@example.com")])


def test_create_user_without_email_is_refused():
    with pytest.raises(ValueError, match="e-mail"):
        User.objects.create_user("", PASSWORD)


def test_superuser_is_staff():
    user = User.objects.create_superuser("root@example.com", PASSWORD)

    assert user.is_staff
    assert user.is_superuser


@pytest.mark.parametrize(
    ("until", "on", "active"),
    [
        (date(2026, 11, 30), date(2026, 11, 22), True),
        (date(2026, 11, 22), date(2026, 11, 22), True),  # the last day still counts
        (date(2026, 11, 21), date(2026, 11, 22), False),
    ],
)
def test_licence_is_active_up_to_and_including_its_last_day(until, on, active):
    organization = OrganizationFactory(licence_active_until=until)

    assert organization.has_active_licence(on) is active
    assert (organization in Organization.objects.licensed_on(on)) is active


def test_an_unknown_time_zone_is_a_field_error():
    organization = OrganizationFactory.build(time_zone="Mars/Olympus_Mons")

    with pytest.raises(Exception, match="IANA time zone") as excinfo:
        organization.full_clean()
    assert "time_zone" in excinfo.value.message_dict


def test_organization_changes_are_kept_in_history():
    organization = OrganizationFactory(name="Before")
    organization.name = "After"
    organization.save()

    assert [h.name for h in organization.history.order_by("history_date")] == [
        "Before",
        "After",
    ]


def test_user_str_prefers_the_full_name():
    assert str(UserFactory.build(full_name="Ada L", email="a@x.example")) == "Ada L"
    assert str(UserFactory.build(full_name="", email="a@x.example")) == "a@x.example"
