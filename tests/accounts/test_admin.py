import pytest
from django.urls import reverse

from tests.accounts.factories import AgentFactory, SupportAdministratorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    client.force_login(AgentFactory(is_superuser=True))
    return client


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:accounts_user_changelist",
        "admin:accounts_user_add",
        "admin:accounts_organization_changelist",
        "admin:accounts_organization_add",
        "admin:accounts_supportadministrator_changelist",
    ],
)
def test_agent_console_pages_render(superuser_client, url_name):
    SupportAdministratorFactory.create_batch(3)

    assert superuser_client.get(reverse(url_name)).status_code == 200


def test_organization_page_shows_its_administrators_and_history(superuser_client):
    admin = SupportAdministratorFactory(user__full_name="Named Person")
    org = admin.organization

    change = superuser_client.get(
        reverse("admin:accounts_organization_change", args=[org.pk])
    )
    history = superuser_client.get(
        reverse("admin:accounts_organization_history", args=[org.pk])
    )

    assert b"Named Person" in change.content
    assert history.status_code == 200


def test_organization_changelist_cost_does_not_grow_with_rows(
    superuser_client, django_assert_max_num_queries
):
    SupportAdministratorFactory.create_batch(30)
    url = reverse("admin:accounts_supportadministrator_changelist")

    with django_assert_max_num_queries(12):
        assert superuser_client.get(url).status_code == 200


def test_a_customer_cannot_enter_the_agent_console(client):
    client.force_login(SupportAdministratorFactory().user)

    response = client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
