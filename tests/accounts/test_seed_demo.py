from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Organization, SupportAdministrator, User
from policies.models import SLOTarget, SupportPlan

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "organizations": Organization.objects.count(),
        "administrators": SupportAdministrator.objects.count(),
        "org_history": Organization.history.count(),
        "admin_history": SupportAdministrator.history.count(),
        "plan_history": SupportPlan.history.count(),
        "target_history": SLOTarget.history.count(),
    }


def test_seed_demo_creates_every_kind_of_login_and_prints_them():
    out = StringIO()

    call_command("seed_demo", stdout=out)

    assert User.objects.filter(is_superuser=True).exists()
    for role in (
        "Support Engineer",
        "Escalation Engineer",
        "TAM",
        "Project Manager",
        "Support Manager",
    ):
        assert User.objects.filter(is_staff=True, groups__name=role).exists(), role
    assert Organization.objects.count() == 3
    assert Organization.objects.filter(licence_active_until__lt="2026-11-22").exists()
    assert all(org.administrators.exists() for org in Organization.objects.all())
    plans = dict(Organization.objects.values_list("slug", "support_plan__slug"))
    assert plans == {
        "acme": "janrain-platinum",
        "globex": "jelastic",
        "initech": "jumpcloud",
    }
    assert SupportPlan.objects.count() == 7
    from tam.models import TAMContract

    assert TAMContract.objects.get().organization.slug == "acme"
    text = out.getvalue()
    assert "admin@example.com" in text
    assert "helpdesk-demo" in text
    assert "expired licence" in text


def test_seed_demo_twice_changes_nothing():
    call_command("seed_demo", stdout=StringIO())
    before = _counts()
    out = StringIO()

    call_command("seed_demo", stdout=out)

    assert _counts() == before
    assert "nothing changed" in out.getvalue()


def test_seed_demo_refuses_production_unless_told(settings):
    settings.IS_PRODUCTION = True

    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo", stdout=StringIO())
    assert User.objects.count() == 0


def test_the_expired_licence_is_data_not_part_of_the_name():
    call_command("seed_demo", stdout=StringIO())

    initech = Organization.objects.get(slug="initech")
    assert initech.name == "Initech"
    assert not initech.has_active_licence(timezone.localdate())
    names = Organization.objects.order_by("name").values_list("name", flat=True)
    assert list(names) == ["Acme Corporation", "Globex", "Initech"]


def test_seed_demo_renames_the_old_demo_name_once_and_keeps_the_licence():
    call_command("seed_demo", stdout=StringIO())
    initech = Organization.objects.get(slug="initech")
    Organization.objects.filter(pk=initech.pk).update(name="Initech (licence expired)")
    out = StringIO()

    call_command("seed_demo", stdout=out)
    after_rename = _counts()
    call_command("seed_demo", stdout=StringIO())

    initech.refresh_from_db()
    assert initech.name == "Initech"
    assert not initech.has_active_licence(timezone.localdate())
    assert "renamed 'Initech (licence expired)' to 'Initech'" in out.getvalue()
    assert initech.history.first().name == "Initech"  # the rename is audited
    assert _counts() == after_rename  # a third run changes nothing


def test_seed_demo_leaves_a_name_someone_chose_alone():
    call_command("seed_demo", stdout=StringIO())
    Organization.objects.filter(slug="initech").update(name="Initech Holdings")

    call_command("seed_demo", stdout=StringIO())

    assert Organization.objects.get(slug="initech").name == "Initech Holdings"
