from datetime import date

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.rules import may_file_tickets
from tests.accounts.factories import (
    OrganizationFactory,
    SupportAdministratorFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 22)


def test_a_named_administrator_of_a_licensed_organisation_may_file():
    admin = SupportAdministratorFactory(
        organization__licence_active_until=date(2027, 1, 1)
    )

    decision = may_file_tickets(admin.user, admin.organization, today=TODAY)

    assert decision
    assert decision.reason == ""


def test_someone_who_is_not_a_named_administrator_may_not():
    organization = OrganizationFactory(name="Acme")
    outsider = UserFactory()

    decision = may_file_tickets(outsider, organization, today=TODAY)

    assert not decision
    assert "named Support Administrators of Acme" in decision.reason


def test_an_administrator_of_another_organisation_may_not():
    admin = SupportAdministratorFactory()
    other = OrganizationFactory()

    assert not may_file_tickets(admin.user, other, today=TODAY)


def test_an_expired_licence_stops_filing_and_says_when_it_ended():
    admin = SupportAdministratorFactory(
        organization__licence_active_until=date(2026, 11, 21)
    )

    decision = may_file_tickets(admin.user, admin.organization, today=TODAY)

    assert not decision
    assert "ended on 21 November 2026" in decision.reason


def test_the_licence_last_day_still_counts():
    admin = SupportAdministratorFactory(organization__licence_active_until=TODAY)

    assert may_file_tickets(admin.user, admin.organization, today=TODAY)


def test_one_user_administering_two_organisations_is_judged_per_organisation():
    user = UserFactory()
    active = SupportAdministratorFactory(
        user=user, organization__licence_active_until=date(2027, 1, 1)
    ).organization
    expired = SupportAdministratorFactory(
        user=user, organization__licence_active_until=date(2026, 1, 1)
    ).organization

    assert may_file_tickets(user, active, today=TODAY)
    assert not may_file_tickets(user, expired, today=TODAY)


def test_anonymous_and_deactivated_users_may_not():
    admin = SupportAdministratorFactory()
    admin.user.is_active = False

    assert not may_file_tickets(AnonymousUser(), admin.organization, today=TODAY)
    assert not may_file_tickets(admin.user, admin.organization, today=TODAY)
