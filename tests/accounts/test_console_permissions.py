"""No write without permission, in every admin: the registry walk.

For every model registered with the admin and every agent role, a POST to the
change form, the add form, the delete view, the history ("revert") form and every
custom admin URL by a role without the matching permission is refused with 403 and
changes nothing in the database. New admins and new custom URLs are covered
without touching this file; a custom URL that declares no permission fails it.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.db.models.fields.files import FieldFile
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from accounts.console import HistoryAdmin
from accounts.models import Organization, User
from helpdesk import escalations, services
from helpdesk.models import Attachment, Ticket
from tam import services as tam_services
from tam.models import (
    Activity,
    ChangeOrder,
    Meeting,
    RoutingPreference,
    TAMContract,
    TimeEntry,
)
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import png

pytestmark = pytest.mark.django_db

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
STANDARD_VIEWS = ("changelist", "add", "history", "delete", "change", "simple_history")
# Django's own custom URLs and the permission their views check.
DJANGO_URLS = {"auth_user_password_change": "accounts.change_user"}


@pytest.fixture
def world(db):
    """At least one row (with its history) of every model the admin shows."""
    call_command("seed_demo", stdout=io.StringIO())
    ticket = Ticket.objects.order_by("pk").first()
    engineer = User.objects.get(email="engineer@example.com")
    services.post_reply(
        ticket, author=engineer, body="See the screenshot.", uploads=[png()]
    )
    escalations.request_escalation(
        ticket, actor=ticket.requester, reason="No progress since yesterday."
    )
    contract = TAMContract.objects.first()
    tam_user = contract.tam
    TimeEntry.objects.exists() or tam_services.record_time_entry(
        contract,
        agent=tam_user,
        worked_on=timezone.localdate(),
        minutes=30,
        activity=Activity.CONSULTATION,
        acting_user=tam_user,
    )
    ChangeOrder.objects.create(
        contract=contract, reference="CO-0001", title="Migrate the SSO settings"
    )
    Meeting.objects.exists() or tam_services.request_meeting(
        contract,
        mode=Meeting.Mode.REMOTE,
        starts_at=timezone.now() + timedelta(days=14),
        duration_minutes=60,
        title="Quarterly review",
        requested_by=tam_user,
    )
    RoutingPreference.objects.exists() or tam_services.set_routing(
        contract.organization, RoutingPreference.Mode.ALL_DEPLOYMENT, acting_user=None
    )
    for model_name in ("AccessAttempt", "AccessLog", "AccessFailureLog"):
        model = apps.get_model("axes", model_name)
        fields = {f.name for f in model._meta.fields}
        model.objects.create(
            username="mallory@example.com",
            ip_address="203.0.113.9",
            user_agent="curl",
            **({"failures_since_start": 1} if "failures_since_start" in fields else {}),
        )
    missing = [m._meta.label for m, _ in REGISTRY if not m._default_manager.exists()]
    assert not missing, f"the test world has no row of {missing}"


def fingerprint() -> str:
    """A digest of every row of every table but the sessions."""
    digest = hashlib.sha256()
    for model in apps.get_models(include_auto_created=True):
        if model._meta.label == "sessions.Session":
            continue
        for row in model._base_manager.order_by("pk").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


def perm(model, action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def form_data(instance) -> dict:
    """What an attacker posts: the row's own values, as the form would send them."""
    return {
        name: value
        for name, value in model_to_dict(instance).items()
        if value is not None and not isinstance(value, list | tuple | FieldFile)
    }


def custom_urls(model_admin):
    """(url name, required permission, model of its pk) of each custom admin URL."""
    opts = model_admin.model._meta
    standard = {f"{opts.app_label}_{opts.model_name}_{v}" for v in STANDARD_VIEWS}
    for pattern in model_admin.get_urls():
        name = pattern.name
        if not name or name in standard:
            continue
        if name in DJANGO_URLS:
            yield name, DJANGO_URLS[name], model_admin.model, pattern
            continue
        required = getattr(pattern.callback, "required_permission", None)
        assert required, (
            f"admin URL {name!r} of {opts.label} declares no permission: decorate "
            "its view with accounts.console.requires"
        )
        model = getattr(pattern.callback, "url_model", None) or model_admin.model
        yield name, required, model, pattern


def custom_url(name, model, pattern) -> str:
    converters = getattr(pattern.pattern, "converters", {})
    row = model._default_manager.order_by("pk").first()
    kwargs = {key: (row.pk if row else 1) for key in converters}
    return reverse(f"admin:{name}", kwargs=kwargs)


def refusals(model_admin, user) -> list[tuple[str, str, dict]]:
    """The requests this agent must be refused: (method, url, data)."""
    model, opts = model_admin.model, model_admin.model._meta
    obj = model._default_manager.order_by("pk").first()
    url = f"admin:{opts.app_label}_{opts.model_name}"
    wanted = []
    if not user.has_perm(perm(model, "change")):
        wanted.append(("post", reverse(f"{url}_change", args=[obj.pk]), form_data(obj)))
    if not user.has_perm(perm(model, "add")):
        wanted.append(("post", reverse(f"{url}_add"), form_data(obj)))
    if not user.has_perm(perm(model, "delete")):
        wanted.append(
            ("post", reverse(f"{url}_delete", args=[obj.pk]), {"post": "yes"})
        )
    if isinstance(model_admin, HistoryAdmin):
        record = obj.history.order_by("history_id").first()
        if model_admin.service_owned_fields or not user.has_perm(perm(model, "change")):
            wanted.append(
                (
                    "post",
                    reverse(f"{url}_simple_history", args=[obj.pk, record.pk]),
                    form_data(record.instance),
                )
            )
    for name, required, url_model, pattern in custom_urls(model_admin):
        if not user.has_perm(required):
            target = custom_url(name, url_model, pattern)
            wanted += [("get", target, {}), ("post", target, {"body": "x"})]
    return wanted


def test_every_history_tracked_admin_uses_the_guarded_base_class():
    tracked = [
        (model, model_admin)
        for model, model_admin in REGISTRY
        if getattr(model._meta, "simple_history_manager_attribute", None)
    ]
    assert tracked
    unguarded = [m._meta.label for m, a in tracked if not isinstance(a, HistoryAdmin)]
    assert unguarded == []


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTRY, ids=[m._meta.label for m, _ in REGISTRY]
)
def test_no_role_writes_what_it_may_not(client, world, model, model_admin):
    checked = 0
    for role in roles.AGENT_ROLES:
        agent = AgentFactory(role=role)
        client.force_login(agent)
        before = fingerprint()
        for method, url, data in refusals(model_admin, User.objects.get(pk=agent.pk)):
            response = getattr(client, method)(url, data)
            assert response.status_code == 403, (role, method, url)
            checked += 1
        assert fingerprint() == before, role
    assert checked, f"no role was refused anything on {model._meta.label}"


def test_view_only_history_shows_the_record_read_only(client, world):
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))
    organization = Organization.objects.get(slug="acme")
    record = organization.history.first()

    response = client.get(
        reverse(
            "admin:accounts_organization_simple_history",
            args=[organization.pk, record.pk],
        )
    )

    assert response.status_code == 200
    assert b'value="Revert"' not in response.content
    assert b'name="licence_active_until"' not in response.content  # no input
    assert str(organization.licence_active_until.year).encode() in response.content


def test_nobody_reverts_a_service_owned_row_not_even_a_superuser(client, world):
    ticket = Ticket.objects.order_by("pk").first()
    first = ticket.history.order_by("history_id").first()
    manager = User.objects.get(email="manager@example.com")
    services.assign_ticket(ticket, manager, actor=manager)
    client.force_login(User.objects.get(email="admin@example.com"))
    url = reverse("admin:helpdesk_ticket_simple_history", args=[ticket.pk, first.pk])

    page = client.get(url)
    response = client.post(url, form_data(first.instance))

    assert page.status_code == 200
    assert b'value="Revert"' not in page.content
    assert response.status_code == 403
    assert Ticket.objects.get(pk=ticket.pk).assignee == manager


def test_a_support_manager_reverts_a_plain_row_and_it_is_stored(client, world):
    organization = Organization.objects.get(slug="acme")
    old_name = organization.name
    organization.name = "Acme Inc."
    organization.save()
    record = organization.history.order_by("history_id").first()
    client.force_login(User.objects.get(email="manager@example.com"))
    url = reverse(
        "admin:accounts_organization_simple_history",
        args=[organization.pk, record.pk],
    )

    page = client.get(url)
    response = client.post(url, form_data(record.instance), follow=True)

    assert b'value="Revert"' in page.content
    assert response.status_code == 200
    assert Organization.objects.get(pk=organization.pk).name == old_name


def test_project_managers_download_no_attachment(client, world):
    item = Attachment.objects.first()
    url = reverse("admin:helpdesk_attachment_download", args=[item.pk])
    client.force_login(User.objects.get(email="pm@example.com"))
    refused = client.get(url)
    client.force_login(User.objects.get(email="engineer@example.com"))
    allowed = client.get(url)

    assert refused.status_code == 403
    assert allowed.status_code == 200


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("engineer@example.com", 403),
        ("escalation@example.com", 403),
        ("tam@example.com", 403),
        ("pm@example.com", 403),
        ("manager@example.com", 200),
    ],
)
def test_slo_attainment_is_a_support_manager_report(client, world, email, status):
    client.force_login(User.objects.get(email=email))

    report = client.get(reverse("slo_attainment"))
    index = client.get(reverse("admin:index"))

    assert report.status_code == status
    assert (b"SLO attainment" in index.content) == (status == 200)


def test_the_history_page_reads_like_a_sentence(client, world):
    ticket = Ticket.objects.order_by("pk").first()
    manager = User.objects.get(email="manager@example.com")
    services.assign_ticket(ticket, manager, actor=manager)
    client.force_login(manager)

    page = client.get(reverse("admin:helpdesk_ticket_history", args=[ticket.pk]))

    text = page.content.decode()
    assert page.status_code == 200
    assert f"<strong>Assignee:</strong> — &rarr; {manager}" in text
    assert "Updated at" not in text
    assert "+00:00" not in text
