"""A user's permissions, their own and their roles', read in one query
(accounts.backends.ModelBackend): the same set Django's backend gives."""

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import backends
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import roles
from accounts.backends import ModelBackend
from tests.accounts.factories import AgentFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    return type(user).objects.get(pk=user.pk)  # no permission cache


def test_a_role_and_a_permission_of_ones_own_in_one_query(django_assert_num_queries):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    own = Permission.objects.get(codename="view_logentry")
    agent.user_permissions.add(own)
    agent = fresh(agent)

    with django_assert_num_queries(1):
        perms = ModelBackend().get_all_permissions(agent)

    assert "admin.view_logentry" in perms
    assert "helpdesk.change_ticket" in perms
    assert perms == backends.ModelBackend().get_all_permissions(fresh(agent))
    assert agent.has_perm("helpdesk.change_ticket")


def test_two_roles_with_a_permission_in_common_and_none_at_all():
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    agent.groups.add(Group.objects.get(name=roles.SUPPORT_MANAGER))
    nobody = AgentFactory(role=None)

    both = ModelBackend().get_all_permissions(fresh(agent))

    assert both == backends.ModelBackend().get_all_permissions(fresh(agent))
    assert ModelBackend().get_all_permissions(fresh(nobody)) == set()


def test_inactive_superuser_and_object_permissions():
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    boss = AgentFactory(role=None, is_superuser=True)
    gone = AgentFactory(role=roles.SUPPORT_ENGINEER, is_active=False)

    assert len(ModelBackend().get_all_permissions(fresh(boss))) == (
        Permission.objects.count()
    )
    assert ModelBackend().get_all_permissions(fresh(gone)) == set()
    assert ModelBackend().get_all_permissions(fresh(agent), obj=agent) == set()


def test_the_async_check_is_the_same_query():
    agent = fresh(AgentFactory(role=roles.SUPPORT_ENGINEER))

    perms = async_to_sync(ModelBackend().aget_all_permissions)(agent)

    assert perms == backends.ModelBackend().get_all_permissions(fresh(agent))
    assert async_to_sync(agent.ahas_perm)("helpdesk.change_ticket")


def test_a_session_signed_in_through_djangos_backend_stays_signed_in(client):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    url = reverse("admin:helpdesk_ticket_changelist")
    client.force_login(agent)
    client.get(url)
    with CaptureQueriesContext(connection) as new_session:
        client.get(url)
    client.force_login(agent, backend="django.contrib.auth.backends.ModelBackend")
    client.get(url)

    with CaptureQueriesContext(connection) as old_session:
        page = client.get(url)

    assert page.status_code == 200
    assert page.context["request"].user == agent
    # Its permissions are read once, by this backend, for both.
    assert len(old_session) == len(new_session)


def test_a_new_sign_in_is_through_this_backend(client):
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    assert client.session["_auth_user_backend"] == "accounts.backends.ModelBackend"
