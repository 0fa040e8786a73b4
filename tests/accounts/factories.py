from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import Organization, SupportAdministrator, User

PASSWORD = "correct-horse-battery"


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@customer.example")
    full_name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AgentFactory(UserFactory):
    email = factory.Sequence(lambda n: f"agent{n}@helpdesk.example")
    is_staff = True

    @factory.post_generation
    def role(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.groups.add(Group.objects.get(name=extracted))


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.Sequence(lambda n: f"customer-{n}")
    time_zone = "America/Los_Angeles"
    licence_active_until = factory.LazyFunction(
        lambda: timezone.localdate() + timedelta(days=365)
    )


class SupportAdministratorFactory(DjangoModelFactory[SupportAdministrator]):
    class Meta:
        model = SupportAdministrator

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
