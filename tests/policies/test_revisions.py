"""Effective-dated plan revisions (issue 15 section 1): drafted without touching the
live plan, material changes need notice, customers are told once, and the change
goes live at its instant exactly once, even after the machine was off."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk.models import OutboundEmail, SLOClock
from policies import revisions, tasks
from policies.models import PlanRevision, SLOTarget
from tests.accounts.factories import (
    AgentFactory,
    OrganizationFactory,
    SupportAdministratorFactory,
    UserFactory,
)
from tests.helpdesk.factories import administrator, draft, plan

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=PT)  # a Tuesday: the revision is scheduled


def pt(*args) -> datetime:
    return datetime(*args, tzinfo=PT)


@pytest.fixture
def manager():
    return AgentFactory(role=roles.SUPPORT_MANAGER)


@pytest.fixture
def janrain():
    return plan("janrain-platinum")


def target(content: dict, level: int | None) -> dict:
    return next(t for t in content["targets"] if t["severity"] == level)


def sev3_two_business_days(revision: PlanRevision, manager) -> PlanRevision:
    content = copy.deepcopy(revision.content)
    target(content, 3)["response_business_days"] = 2
    return revisions.update_draft(revision, content, actor=manager)


def sev3_target(plan_) -> SLOTarget:
    return plan_.targets.get(severity__level=3)


def file_at(at: datetime, admin, level: int):
    from helpdesk import services

    severity = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(at, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
        )


# --- drafting and the diff -----------------------------------------------------------


def test_a_draft_leaves_the_live_plan_alone_and_shows_its_diff(janrain, manager):
    revision = revisions.draft_revision(janrain, actor=manager)
    assert revisions.changes_of(revision) == []

    sev3_two_business_days(revision, manager)

    assert sev3_target(janrain).response_business_days == 1
    [change] = revisions.changes_of(revision)
    assert (
        change.text == "Severity 3 initial response: 1 business day → 2 business days"
    )
    assert change.is_material
    assert change.reason == "lengthens a target"
    assert revision.history.count() == 2  # drafted, edited


def _changed(janrain, edit) -> list[revisions.Change]:
    before = revisions.snapshot(janrain)
    after = copy.deepcopy(before)
    edit(after)
    return revisions.diff(before, after)


def _set(path: tuple, value):
    def edit(content):
        node = content
        for key in path[:-1]:
            node = target(content, key) if isinstance(key, int) else node[key]
        node[path[-1]] = value

    return edit


def _remove_severity(level):
    def edit(content):
        content["severities"] = [
            s for s in content["severities"] if s["level"] != level
        ]
        content["targets"] = [t for t in content["targets"] if t["severity"] != level]

    return edit


def _rename(level, name):
    def edit(content):
        next(s for s in content["severities"] if s["level"] == level)["name"] = name

    return edit


@pytest.mark.parametrize(
    ("edit", "text", "material"),
    [
        (
            _set((1, "response_minutes"), 60),
            "Severity 1 initial response: 30 min → 1 hour",
            True,
        ),
        (
            _set((1, "response_minutes"), 15),
            "Severity 1 initial response: 30 min → 15 min",
            False,
        ),
        (
            _set((3, "resolution_business_days"), 3),
            "Severity 3 goal resolution: 5 business days → 3 business days",
            False,
        ),
        (
            _set((2, "response_calendar"), "janrain-24x5-pacific"),
            "Severity 2 initial response counted on: 24x7 (always open) → 24x5 "
            "Pacific (Mon 00:00 - Fri 24:00 PT)",
            True,
        ),
        (
            _set((3, "response_calendar"), "24x7"),
            "Severity 3 initial response counted on: 24x5 Pacific (Mon 00:00 - Fri "
            "24:00 PT) → 24x7 (always open)",
            False,
        ),
        (_set(("entitlements", "has_email"), False), "E-mail: removed", True),
        (_set(("entitlements", "has_phone"), True), "Phone: added", False),
        (
            _set(("entitlements", "includes_tam"), True),
            "Technical account manager: added",
            False,
        ),
        (_remove_severity(2), "Severity 2: removed", True),
        (
            _rename(2, "Severity 2 (major)"),
            "Severity 2: renamed Severity 2 (major)",
            False,
        ),
        (
            _set(("entitlements", "prioritisation_rank"), 5),
            "Ticket prioritisation rank: 0 → 5",
            False,
        ),
    ],
)
def test_the_product_decides_materiality_from_the_diff(janrain, edit, text, material):
    [change] = _changed(janrain, edit)

    assert change.text == text
    assert change.is_material is material
    assert revisions.is_material([change]) is material


def test_removing_a_resolution_target_or_an_off_hours_target_is_material():
    premium = plan("ironio-premium")

    def drop_off_hours(content):
        target(content, None)["off_hours_response_minutes"] = None

    changes = _changed(premium, drop_off_hours)
    assert [(c.text, c.is_material) for c in changes] == [
        ("All severities off-hours response: 6 hours → none", True)
    ]
    janrain = plan("janrain-platinum")

    def drop_resolution(content):
        target(content, 1)["resolution_minutes"] = None
        target(content, 1)["resolution_calendar"] = None

    [change] = _changed(janrain, drop_resolution)
    assert change.text == "Severity 1 goal resolution: 4 hours → none"
    assert change.is_material


def test_the_admin_may_mark_more_as_material_never_less(janrain):
    faster = _changed(janrain, _set((1, "response_minutes"), 15))
    slower = _changed(janrain, _set((1, "response_minutes"), 45))

    assert revisions.is_material(faster, marked=True)
    assert not revisions.is_material(faster, marked=False)
    assert revisions.is_material(slower, marked=False)  # no mark can lower it


def test_invalid_content_is_refused_with_every_reason(janrain, manager):
    revision = revisions.draft_revision(janrain, actor=manager)
    content = copy.deepcopy(revision.content)
    target(content, 1)["response_calendar"] = "nowhere"
    target(content, 2)["response_minutes"] = None
    content["default_severity"] = 7

    with pytest.raises(ValidationError) as refused:
        revisions.update_draft(revision, content, actor=manager)

    assert "Severity 1: unknown calendar 'nowhere'." in refused.value.messages
    assert (
        "Severity 2: give the initial response in minutes or days."
        in refused.value.messages
    )
    revision.refresh_from_db()
    assert target(revision.content, 1)["response_calendar"] == "24x7"


# --- scheduling: notice and e-mail ---------------------------------------------------


def test_a_material_revision_needs_the_notice_period(janrain, manager):
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )

    with pytest.raises(ValidationError) as refused:
        revisions.schedule_revision(
            revision, T0 + timedelta(days=29), actor=manager, now=T0
        )

    assert refused.value.message_dict["effective_at"] == [
        "A material revision (lengthens a target) needs 30 days' notice: choose "
        "31 Dec 2026 17:00 UTC or later."
    ]
    revision.refresh_from_db()
    assert revision.status == PlanRevision.Status.DRAFT
    assert revision.effective_at is None
    assert not OutboundEmail.objects.filter(key__startswith="plan-revision:").exists()

    revisions.schedule_revision(
        revision, T0 + timedelta(days=30), actor=manager, now=T0
    )
    revision.refresh_from_db()
    assert revision.status == PlanRevision.Status.SCHEDULED
    assert revision.is_material


def test_the_notice_period_is_a_setting(janrain, manager, settings):
    settings.HELPDESK_POLICY_NOTICE_DAYS = 45
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )

    with pytest.raises(ValidationError, match="needs 45 days' notice"):
        revisions.schedule_revision(
            revision, T0 + timedelta(days=44), actor=manager, now=T0
        )


def test_a_revision_marked_material_needs_notice_and_one_that_is_not_does_not(
    janrain, manager
):
    revision = revisions.draft_revision(janrain, actor=manager)
    content = copy.deepcopy(revision.content)
    target(content, 1)["response_minutes"] = 15  # faster: not material
    revisions.update_draft(revision, content, actor=manager, is_marked_material=True)

    with pytest.raises(ValidationError, match=r"\(marked material\) needs 30 days"):
        revisions.schedule_revision(
            revision, T0 + timedelta(days=1), actor=manager, now=T0
        )
    revisions.update_draft(revision, content, actor=manager, is_marked_material=False)
    revisions.schedule_revision(revision, T0 + timedelta(days=1), actor=manager, now=T0)

    revision.refresh_from_db()
    assert (revision.status, revision.is_material) == ("scheduled", False)


def test_refusals_change_nothing(janrain, manager):
    revision = revisions.draft_revision(janrain, actor=manager)
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)

    with pytest.raises(ValidationError, match="changes nothing"):
        revisions.schedule_revision(
            revision, T0 + timedelta(days=40), actor=manager, now=T0
        )
    sev3_two_business_days(revision, manager)
    with pytest.raises(PermissionDenied):
        revisions.schedule_revision(
            revision, T0 + timedelta(days=40), actor=engineer, now=T0
        )
    with pytest.raises(PermissionDenied):
        revisions.draft_revision(janrain, actor=engineer)
    with pytest.raises(ValidationError, match="in the future"):
        revisions.schedule_revision(
            revision, T0 - timedelta(days=1), actor=manager, now=T0
        )
    revisions.schedule_revision(
        revision, T0 + timedelta(days=40), actor=manager, now=T0
    )
    with pytest.raises(ValidationError, match="Only a draft can be edited"):
        revisions.update_draft(revision, revision.content, actor=manager)
    second = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )
    with pytest.raises(ValidationError, match="already scheduled"):
        revisions.schedule_revision(
            second, T0 + timedelta(days=50), actor=manager, now=T0
        )

    assert PlanRevision.objects.filter(status="scheduled").count() == 1
    assert sev3_target(janrain).response_business_days == 1


def test_scheduling_emails_each_support_administrator_once(janrain, manager):
    ada = UserFactory(email="ada@acme.example")
    acme = OrganizationFactory(slug="acme", support_plan=janrain)
    umbrella = OrganizationFactory(slug="umbrella", support_plan=janrain)
    SupportAdministratorFactory(user=ada, organization=acme)
    SupportAdministratorFactory(user=ada, organization=umbrella)
    gil = SupportAdministratorFactory(organization=umbrella).user
    other = administrator("jelastic").user  # another plan: not told
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )

    revisions.schedule_revision(revision, pt(2027, 3, 1, 0, 0), actor=manager, now=T0)
    revisions.notify_customers(revision)  # a second run queues nothing new

    emails = OutboundEmail.objects.filter(key__startswith="plan-revision:")
    assert sorted(emails.values_list("to", flat=True)) == sorted([ada.email, gil.email])
    assert other.email not in emails.values_list("to", flat=True)
    email = emails.get(to=gil.email)
    assert email.subject == "Your Janrain Platinum support plan changes on 1 March 2027"
    assert (
        "Severity 3 initial response: 1 business day → 2 business days"
        in email.body_text
    )
    assert "1 March 2027, 00:00 PST" in email.body_text


# --- going live: exactly once, late or on time ---------------------------------------


def test_it_goes_live_once_at_its_instant_even_after_the_machine_was_off(
    janrain, manager
):
    admin = administrator("janrain-platinum")
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )
    effective = pt(2027, 3, 1, 0, 0)  # a Monday
    revisions.schedule_revision(revision, effective, actor=manager, now=T0)
    before = file_at(pt(2027, 2, 26, 10, 0), admin, level=3)  # Fri, before it

    with time_machine.travel(effective - timedelta(minutes=1), tick=False):
        assert tasks.apply_due_revisions() == []
    assert sev3_target(janrain).response_business_days == 1

    # The machine was off from before the instant until Wednesday: the first run
    # after it came back applies the revision, and the next one does nothing.
    with time_machine.travel(pt(2027, 3, 3, 8, 0), tick=False):
        assert tasks.apply_due_revisions() == [revision.pk]
        assert tasks.apply_due_revisions() == []

    revision.refresh_from_db()
    assert revision.status == PlanRevision.Status.APPLIED
    assert revision.applied_at == pt(2027, 3, 3, 8, 0)
    live = sev3_target(janrain)
    assert live.response_business_days == 2
    assert live.history.first().history_user == manager
    # Opened before the instant: keeps the target it started under.
    response = SLOClock.objects.get(ticket=before, metric="first_response")
    assert response.target_label == "1 business day"
    assert response.due_at == pt(2027, 3, 1, 10, 0)
    before.refresh_from_db()
    assert before.first_response_due_at == pt(2027, 3, 1, 10, 0)
    # Opened after it: the new target.
    after = file_at(pt(2027, 3, 3, 10, 0), admin, level=3)
    assert after.first_response_due_at == pt(2027, 3, 5, 10, 0)


def test_a_cancelled_revision_never_goes_live(janrain, manager):
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )
    revisions.schedule_revision(revision, pt(2027, 3, 1), actor=manager, now=T0)
    revisions.cancel_revision(revision, actor=manager)

    with time_machine.travel(pt(2027, 3, 2), tick=False):
        assert tasks.apply_due_revisions() == []
    assert sev3_target(janrain).response_business_days == 1
    with pytest.raises(ValidationError, match="can no longer be cancelled"):
        revisions.cancel_revision(revision, actor=manager)


def test_removing_a_severity_and_a_channel_goes_live_row_by_row(janrain, manager):
    revision = revisions.draft_revision(janrain, actor=manager)
    content = copy.deepcopy(revision.content)
    content["entitlements"]["has_email"] = False
    content["severities"] = [s for s in content["severities"] if s["level"] != 2]
    content["targets"] = [t for t in content["targets"] if t["severity"] != 2]
    revisions.update_draft(revision, content, actor=manager)
    revisions.schedule_revision(revision, pt(2027, 3, 1), actor=manager, now=T0)

    with time_machine.travel(pt(2027, 3, 1, 0, 1), tick=False):
        assert revisions.apply_due_revisions() == [revision.pk]

    janrain.refresh_from_db()
    assert not janrain.has_email
    assert list(janrain.severities.values_list("level", flat=True)) == [1, 3]
    assert revisions.snapshot(janrain) == content


def test_the_impact_preview_counts_open_tickets_and_how_they_would_move(
    janrain, manager
):
    admin = administrator("janrain-platinum")
    sev3 = file_at(pt(2026, 11, 30, 10, 0), admin, level=3)  # Mon
    file_at(pt(2026, 11, 30, 10, 5), admin, level=1)
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )

    found = revisions.impact(revision)

    assert found.open_tickets == 2
    assert found.tickets_moved == 1
    [row] = found.rows
    assert row["clock"].ticket == sev3
    assert (row["old_label"], row["new_label"]) == ("1 business day", "2 business days")
    assert (row["old_due"], row["new_due"]) == (
        pt(2026, 12, 1, 10),
        pt(2026, 12, 2, 10),
    )
    assert sev3.clocks.get(metric="first_response").due_at == pt(2026, 12, 1, 10)


def test_the_plan_as_it_was_on_a_date(janrain, manager):
    with time_machine.travel(pt(2026, 11, 2, 9), tick=False):
        revision = sev3_two_business_days(
            revisions.draft_revision(janrain, actor=manager), manager
        )
        revisions.schedule_revision(revision, pt(2026, 12, 15), actor=manager)
    with time_machine.travel(pt(2026, 12, 15, 0, 1), tick=False):
        revisions.apply_due_revisions()

    earlier = revisions.snapshot_as_of(
        janrain, revisions.end_of_day(date(2026, 12, 14), "America/Los_Angeles")
    )
    later = revisions.snapshot_as_of(
        janrain, revisions.end_of_day(date(2026, 12, 15), "America/Los_Angeles")
    )

    assert target(earlier, 3)["response_business_days"] == 1
    assert target(later, 3)["response_business_days"] == 2
    shown = revisions.describe(earlier)
    assert shown.targets[2]["response"] == "1 business day"
    assert revisions.snapshot_as_of(janrain, pt(2000, 1, 1)) is None


# --- the portal's "My plan" -------------------------------------------------------


@pytest.fixture
def scheduled(janrain, manager):
    revision = sev3_two_business_days(
        revisions.draft_revision(janrain, actor=manager), manager
    )
    with time_machine.travel(T0, tick=False):
        revisions.schedule_revision(revision, pt(2027, 3, 1), actor=manager)
    return revision


def test_my_plan_shows_the_upcoming_change_in_plain_words(client, scheduled):
    admin = administrator("janrain-platinum")
    client.force_login(admin.user)

    page = client.get(reverse("portal:plan")).content.decode()

    assert "Upcoming changes" in page
    assert (
        "Severity 3 initial response: 1 business day → 2 business days, from "
        "1 March 2027" in page
    )
    assert "1 March 2027, 00:00 PST" in page


def test_my_plan_shows_it_only_to_organisations_on_that_plan(client, scheduled):
    other = administrator("jelastic")
    client.force_login(other.user)

    page = client.get(reverse("portal:plan")).content.decode()

    assert "Upcoming changes" not in page
    assert "business days" not in page


def test_a_draft_is_not_shown_to_customers(client, janrain, manager):
    sev3_two_business_days(revisions.draft_revision(janrain, actor=manager), manager)
    client.force_login(administrator("janrain-platinum").user)

    assert "Upcoming changes" not in client.get(reverse("portal:plan")).content.decode()


def test_my_plan_shows_the_plan_as_it_was_on_a_date(client, scheduled):
    with time_machine.travel(pt(2027, 3, 1, 0, 5), tick=False):
        revisions.apply_due_revisions()
    admin = administrator("janrain-platinum")

    with time_machine.travel(pt(2027, 3, 10), tick=False):
        client.force_login(admin.user)
        old = client.get(reverse("portal:plan"), {"as_of": "2027-02-28"})
        bad = client.get(reverse("portal:plan"), {"as_of": "yesterday"})
        future = client.get(reverse("portal:plan"), {"as_of": "2027-06-01"})

    assert 'id="plan-as-of"' in old.content.decode()
    assert "Choose today or a day before" in future.content.decode()
    assert 'id="plan-as-of"' not in future.content.decode()
    assert "1 business day" in old.content.decode()
    assert "Enter a valid date." in bad.content.decode()
    assert 'id="plan-as-of"' not in bad.content.decode()
