"""Contracts are made the way agents make them: through tam.services."""

from datetime import date

import factory
from factory.django import DjangoModelFactory

from accounts import roles
from tam import services
from tam.models import ChangeOrder, TAMContract, TAMProfile
from tests.accounts.factories import AgentFactory, OrganizationFactory

SIGNED_ON = date(2027, 1, 4)  # a Monday
STARTS_ON = date(2027, 2, 1)
LICENSED_UNTIL = date(2099, 12, 31)


class TAMProfileFactory(DjangoModelFactory[TAMProfile]):
    class Meta:
        model = TAMProfile

    user = factory.SubFactory(AgentFactory, role=roles.TAM)
    location = TAMProfile.Location.US_PACIFIC


class ChangeOrderFactory(DjangoModelFactory[ChangeOrder]):
    class Meta:
        model = ChangeOrder

    reference = factory.Sequence(lambda n: f"CO-{n:04d}")
    title = factory.Faker("sentence", nb_words=4)
    status = ChangeOrder.Status.APPROVED


def tam(location: str = TAMProfile.Location.US_PACIFIC, **kwargs):
    """An agent in the TAM role who works from ``location``."""
    return TAMProfileFactory(location=location, **kwargs).user


def project_manager():
    return AgentFactory(role=roles.PROJECT_MANAGER)


def draft(**overrides) -> services.ContractDraft:
    values = {
        "tam": overrides.pop("tam", None) or tam(),
        "backup_tam": overrides.pop("backup_tam", None) or tam(),
        "signed_on": SIGNED_ON,
        "starts_on": STARTS_ON,
        "term_months": 6,
        "hours_per_month": 20,
    }
    if overrides.get("hours_per_month", 0) >= 30 and "project_manager" not in overrides:
        values["project_manager"] = project_manager()
    return services.ContractDraft(**(values | overrides))


def contract(organization=None, *, today: date | None = None, **overrides):
    """A signed contract, active on its first day unless ``today`` says otherwise."""
    # A licence long enough for every renewal a test catches up (TAM runs inside it).
    organization = organization or OrganizationFactory(
        time_zone="America/Los_Angeles", licence_active_until=LICENSED_UNTIL
    )
    contract_draft = draft(**overrides)
    return services.create_contract(
        organization,
        contract_draft,
        acting_user=None,
        today=today or contract_draft.starts_on,
    )


def reload(instance: TAMContract) -> TAMContract:
    return type(instance).objects.get(pk=instance.pk)
