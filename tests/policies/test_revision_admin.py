"""The console's plan revisions: draft, edit, schedule with notice, the plan as it
was; every write through policies.revisions, every refusal shown at the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from helpdesk.models import OutboundEmail
from policies import revisions
from policies.admin_revisions import content_form
from policies.models import PlanRevision
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager():
    return AgentFactory(role=roles.SUPPORT_MANAGER)


@pytest.fixture
def revision(manager):
    return revisions.draft_revision(plan("janrain-platinum"), actor=manager)


def form_data(revision: PlanRevision, **changes) -> dict:
    """What the change form posts when nothing is touched, plus ``changes``."""
    data = {"note": revision.note}
    for name, field in content_form(revision).base_fields.items():
        if name in ("plan", "note", "is_marked_material"):
            continue
        value = field.initial
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    return {**data, **changes}


def change_url(revision) -> str:
    return reverse("admin:policies_planrevision_change", args=[revision.pk])


def test_a_manager_drafts_a_revision_from_the_live_plan(client, manager):
    janrain = plan("janrain-platinum")
    client.force_login(manager)

    response = client.post(
        reverse("admin:policies_planrevision_add"),
        {"plan": janrain.pk, "note": "Sev3 gets more time."},
    )

    revision = PlanRevision.objects.get()
    assert response.status_code == 302
    assert revision.content == revisions.snapshot(janrain)
    assert (revision.status, revision.created_by) == ("draft", manager)


def test_editing_a_draft_changes_the_revision_not_the_plan(client, manager, revision):
    client.force_login(manager)

    response = client.post(
        change_url(revision), form_data(revision, t_3_response="2bd")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    revision.refresh_from_db()
    sev3 = next(t for t in revision.content["targets"] if t["severity"] == 3)
    assert sev3["response_business_days"] == 2
    assert revision.plan.targets.get(severity__level=3).response_business_days == 1
    page = client.get(change_url(revision)).content.decode()
    assert "Severity 3 initial response: 1 business day → 2 business days" in page
    assert "material: lengthens a target" in page
    assert "0 open tickets on the plan" in page


def test_a_bad_duration_is_shown_at_its_field_and_changes_nothing(
    client, manager, revision
):
    client.force_login(manager)
    before = revision.content

    response = client.post(
        change_url(revision), form_data(revision, t_3_response="two days")
    )

    assert response.status_code == 200
    assert "Write a duration like 30m, 4h or 2bd." in response.content.decode()
    assert "Please correct the error below." in response.content.decode()
    revision.refresh_from_db()
    assert revision.content == before


def test_scheduling_too_soon_is_refused_with_the_reason_then_accepted(
    client, manager, revision
):
    client.force_login(manager)
    client.post(change_url(revision), form_data(revision, t_3_response="2bd"))
    administrator("janrain-platinum")
    url = reverse("admin:policies_planrevision_schedule", args=[revision.pk])
    soon = timezone.localtime(timezone.now() + timedelta(days=10))
    later = timezone.localtime(timezone.now() + timedelta(days=40))

    refused = client.post(
        url, {"effective_at": f"{soon:%Y-%m-%dT%H:%M}", "time_zone": "UTC"}
    )
    assert refused.status_code == 200
    assert "needs 30 days&#x27; notice" in refused.content.decode()
    revision.refresh_from_db()
    assert revision.status == "draft"

    accepted = client.post(
        url, {"effective_at": f"{later:%Y-%m-%dT%H:%M}", "time_zone": "UTC"}
    )
    assert accepted.status_code == 302
    revision.refresh_from_db()
    assert revision.status == "scheduled"
    assert OutboundEmail.objects.filter(key__startswith="plan-revision:").count() == 1
    # Scheduled: no longer editable, only cancelled.
    assert client.post(change_url(revision), form_data(revision)).status_code == 403


@pytest.mark.parametrize(
    "role", [roles.SUPPORT_ENGINEER, roles.TAM, roles.PROJECT_MANAGER]
)
def test_agents_who_may_not_change_revisions_cannot_schedule_or_cancel(
    client, revision, role
):
    client.force_login(AgentFactory(role=role))
    later = timezone.now() + timedelta(days=40)

    for name in ("schedule", "cancel"):
        url = reverse(f"admin:policies_planrevision_{name}", args=[revision.pk])
        response = client.post(
            url, {"effective_at": f"{later:%Y-%m-%dT%H:%M}", "time_zone": "UTC"}
        )
        assert response.status_code == 403
    revision.refresh_from_db()
    assert revision.status == "draft"


def test_the_admin_shows_the_plan_as_it_was(client, manager, revision):
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))
    url = reverse("admin:policies_plan_as_of", args=[revision.plan_id])

    shown = client.get(
        url, {"date": f"{timezone.localdate():%Y-%m-%d}", "time_zone": "UTC"}
    )
    too_early = client.get(url, {"date": "2001-01-01", "time_zone": "UTC"})

    assert 'id="plan-as-of"' in shown.content.decode()
    assert "1 business day" in shown.content.decode()
    assert "did not exist yet on that day" in too_early.content.decode()
