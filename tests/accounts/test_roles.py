import pytest
from django.contrib.auth.models import Group

from accounts import roles
from tests.accounts.factories import AgentFactory

pytestmark = pytest.mark.django_db


def test_every_agent_role_exists_as_a_group_with_permissions():
    groups = {g.name: g for g in Group.objects.prefetch_related("permissions")}

    assert set(roles.AGENT_ROLES) <= set(groups)
    for role in roles.AGENT_ROLES:
        assert groups[role].permissions.exists(), role


def test_roles_get_what_their_job_needs_and_no_more():
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)

    assert engineer.has_perm("accounts.view_organization")
    assert not engineer.has_perm("accounts.change_organization")
    assert not engineer.has_perm("accounts.delete_organization")
    assert manager.has_perm("accounts.change_organization")
    assert manager.has_perm("accounts.add_supportadministrator")
    assert not manager.has_perm("accounts.delete_organization")


def test_granting_again_keeps_permissions_added_by_hand():
    from django.contrib.auth.models import Permission

    group = Group.objects.get(name=roles.TAM)
    extra = Permission.objects.get(codename="delete_organization")
    group.permissions.add(extra)

    roles.grant_role_permissions(Group, Permission)

    assert group.permissions.filter(pk=extra.pk).exists()


def test_every_permission_named_for_an_existing_model_exists():
    from django.apps import apps
    from django.contrib.auth.models import Permission

    existing = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }
    for role, perms in roles.ROLE_PERMISSIONS.items():
        for perm in perms:
            app_label, _, codename = perm.partition(".")
            model_name = codename.split("_", 1)[1]
            try:
                apps.get_model(app_label, model_name)
            except LookupError:
                continue  # a model of a later feature: granted once it exists
            assert perm in existing, (role, perm)
