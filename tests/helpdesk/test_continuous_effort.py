"""Sev1 continuous effort (Janrain, issue 15 §3.4): "continuous efforts (24x7x365)
... until a workaround or resolution can be provided or until the incident can be
downgraded"."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts import roles
from accounts.models import Team, TeamMembership
from helpdesk import continuous_effort, services, severity, tasks
from helpdesk.models import Message, OutboundEmail, SLOClock, Ticket
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
# Saturday 02:00 PT: nobody is in the office, Sev1 is worked anyway.
T0 = datetime(2026, 3, 14, 2, tzinfo=PT)


@pytest.fixture
def on_call():
    """The production team: two on-call engineers (one already busy) and one not
    on call; a second team with one more on-call engineer; two managers."""
    production = Team.objects.create(
        slug="prod", name="Production support", kind=Team.Kind.PRODUCTION
    )
    deployment = Team.objects.create(
        slug="deploy", name="Deployment support", kind=Team.Kind.DEPLOYMENT
    )
    people = {
        "busy": AgentFactory(
            email="a-busy@helpdesk.example", role=roles.SUPPORT_ENGINEER
        ),
        "free": AgentFactory(
            email="b-free@helpdesk.example", role=roles.SUPPORT_ENGINEER
        ),
        "off": AgentFactory(
            email="c-off@helpdesk.example", role=roles.SUPPORT_ENGINEER
        ),
        "other": AgentFactory(
            email="d-other@helpdesk.example", role=roles.SUPPORT_ENGINEER
        ),
    }
    for name in ("busy", "free"):
        TeamMembership.objects.create(
            team=production, user=people[name], is_on_call=True
        )
    TeamMembership.objects.create(team=production, user=people["off"])
    TeamMembership.objects.create(
        team=deployment, user=people["other"], is_on_call=True
    )
    people["managers"] = [AgentFactory(role=roles.SUPPORT_MANAGER) for _ in range(2)]
    return people


def sev(admin, level: int):
    return admin.organization.support_plan.severities.get(level=level)


def file_sev1(admin=None, at=T0):
    admin = admin or administrator("janrain-platinum")
    with time_machine.travel(at, tick=False):
        return file_ticket(
            admin, severity=sev(admin, 1), customer_contact="Ada, +1 555 0100"
        )


def pages(ticket, prefix="sev1-page") -> set[str]:
    return set(
        OutboundEmail.objects.filter(
            key__startswith=f"{prefix}:{ticket.pk}:"
        ).values_list("to", flat=True)
    )


def test_a_sev1_gets_an_on_call_assignee_and_pages_every_on_call_engineer(on_call):
    admin = administrator("janrain-platinum")
    file_sev1(admin)  # keeps the first on-call engineer busy
    ticket = file_sev1(admin)

    assert ticket.continuous_effort_since_at == T0
    # The least busy on-call member of the production team.
    first = Ticket.objects.order_by("pk").first()
    assert {first.assignee, ticket.assignee} == {on_call["busy"], on_call["free"]}
    assert ticket.assignee != first.assignee
    assert pages(ticket) == {
        on_call["busy"].email,
        on_call["free"].email,
        on_call["other"].email,
    }
    assert OutboundEmail.objects.filter(
        key__startswith=f"ticket-assigned:{ticket.pk}:", to=ticket.assignee.email
    ).exists()
    assert SLOClock.objects.get(ticket=ticket, metric="resolution").assignee == (
        ticket.assignee
    )


def test_a_sev2_is_not_continuous_effort(on_call):
    admin = administrator("janrain-platinum")
    ticket = file_ticket(admin, severity=sev(admin, 2), customer_contact="Ada")

    assert ticket.continuous_effort_since_at is None
    assert ticket.assignee is None
    assert pages(ticket) == set()


def test_a_sev1_cannot_be_unassigned(on_call):
    ticket = file_sev1()

    with pytest.raises(ValidationError) as excinfo:
        services.assign_ticket(ticket, None, actor=on_call["managers"][0])

    assert "always has an assignee" in excinfo.value.message_dict["assignee"][0]
    ticket.refresh_from_db()
    assert ticket.assignee is not None


def test_the_managers_are_paged_after_the_delay_once(on_call, settings):
    settings.HELPDESK_SEV1_MANAGER_PAGE_MINUTES = 20
    ticket = file_sev1()

    with time_machine.travel(T0 + timedelta(minutes=19), tick=False):
        assert tasks.page_sev1_managers() == 0
    assert pages(ticket, "sev1-managers") == set()

    with time_machine.travel(T0 + timedelta(minutes=21), tick=False):
        assert tasks.page_sev1_managers() == 1
        assert tasks.page_sev1_managers() == 0  # run twice: nothing new

    assert pages(ticket, "sev1-managers") == {m.email for m in on_call["managers"]}
    ticket.refresh_from_db()
    assert ticket.managers_paged_at == T0 + timedelta(minutes=21)
    email = OutboundEmail.objects.filter(key__startswith="sev1-managers:").first()
    assert "STILL UNANSWERED" in email.subject


def test_an_answered_sev1_does_not_page_the_managers(on_call, settings):
    settings.HELPDESK_SEV1_MANAGER_PAGE_MINUTES = 20
    ticket = file_sev1()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        services.post_reply(ticket, author=ticket.assignee, body="On it now.")

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert continuous_effort.page_managers_due() == 0

    assert pages(ticket, "sev1-managers") == set()


def test_with_nobody_on_call_the_managers_are_paged_at_once():
    managers = [AgentFactory(role=roles.SUPPORT_MANAGER)]

    ticket = file_sev1()

    assert ticket.assignee is None
    assert pages(ticket, "sev1-managers") == {managers[0].email}


def test_a_workaround_ends_the_effort_and_the_resolution_clock_runs_on(on_call):
    ticket = file_sev1()
    due = SLOClock.objects.get(ticket=ticket, metric="resolution").due_at

    with time_machine.travel(T0 + timedelta(minutes=40), tick=False):
        continuous_effort.record_workaround(
            ticket, actor=ticket.assignee, note="Fail over to the EU region."
        )

    ticket.refresh_from_db()
    assert ticket.workaround_provided_at == T0 + timedelta(minutes=40)
    assert ticket.workaround_provided_by == on_call["busy"]
    assert not continuous_effort.obligation_active(ticket)
    clock = SLOClock.objects.get(ticket=ticket, metric="resolution")
    assert clock.status == SLOClock.Status.RUNNING
    assert clock.due_at == due
    assert Message.objects.filter(
        ticket=ticket, body__startswith="Workaround provided: Fail over"
    ).exists()
    # No longer owed 24x7: it may be unassigned, and no manager is paged.
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert continuous_effort.page_managers_due() == 0
    services.assign_ticket(ticket, None, actor=on_call["managers"][0])


def test_a_workaround_is_refused_twice_without_a_note_and_for_a_sev2(on_call):
    ticket = file_sev1()
    agent = ticket.assignee
    with pytest.raises(ValidationError) as excinfo:
        continuous_effort.record_workaround(ticket, actor=agent, note="  ")
    assert "note" in excinfo.value.message_dict

    continuous_effort.record_workaround(ticket, actor=agent, note="Restart nightly.")
    with pytest.raises(ValidationError, match="already recorded"):
        continuous_effort.record_workaround(ticket, actor=agent, note="Again.")

    admin = administrator("janrain-platinum")
    sev2 = file_ticket(admin, severity=sev(admin, 2), customer_contact="Ada")
    with pytest.raises(ValidationError, match="not worked around the clock"):
        continuous_effort.record_workaround(sev2, actor=agent, note="Restart.")
    sev2.refresh_from_db()
    assert sev2.workaround_provided_at is None


def test_a_customer_or_project_manager_cannot_record_a_workaround(on_call):
    ticket = file_sev1()

    for actor in (ticket.requester, AgentFactory(role=roles.PROJECT_MANAGER)):
        with pytest.raises(PermissionDenied):
            continuous_effort.record_workaround(ticket, actor=actor, note="Restart.")

    ticket.refresh_from_db()
    assert ticket.workaround_provided_at is None


def test_a_downgrade_ends_the_effort_and_an_upgrade_starts_it(on_call):
    admin = administrator("janrain-platinum")
    ticket = file_sev1(admin)
    manager = on_call["managers"][0]

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        severity.request_severity_change(
            ticket,
            sev(admin, 2),
            actor=manager,
            reason="Only some users are affected now.",
            expected=sev(admin, 1),
        )
    ticket.refresh_from_db()
    assert ticket.continuous_effort_since_at is None
    services.assign_ticket(ticket, None, actor=manager)  # allowed again

    later = T0 + timedelta(hours=2)
    with time_machine.travel(later, tick=False):
        severity.request_severity_change(
            ticket,
            sev(admin, 1),
            actor=ticket.requester,
            reason="Every user is locked out again since 04:00.",
            expected=sev(admin, 2),
        )
    ticket.refresh_from_db()
    assert ticket.continuous_effort_since_at == later
    assert ticket.assignee is not None
    assert {clock.assignee for clock in ticket.clocks.all()} == {ticket.assignee}
    stamp = int(later.timestamp())
    assert (
        OutboundEmail.objects.filter(
            key__startswith=f"sev1-page:{ticket.pk}:{stamp}:"
        ).count()
        == 3
    )


def test_the_console_records_the_workaround(on_call, client):
    ticket = file_sev1()
    client.force_login(ticket.assignee)
    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))
    assert "Record workaround provided" in page.content.decode()

    client.post(
        reverse("admin:helpdesk_ticket_workaround", args=[ticket.pk]),
        {"note": "Use the backup login page."},
    )

    ticket.refresh_from_db()
    assert ticket.workaround_provided_at is not None


def test_the_portal_shows_the_effort_and_the_workaround_to_its_customer_only(
    on_call, client
):
    ticket = file_sev1()
    url = reverse("portal:ticket", args=[ticket.reference])
    client.force_login(ticket.requester)
    assert "Worked around the clock since" in client.get(url).content.decode()

    continuous_effort.record_workaround(
        ticket, actor=ticket.assignee, note="Use the backup login page."
    )
    page = client.get(url).content.decode()
    assert "we keep working on the resolution" in page
    assert "Use the backup login page." in page

    client.force_login(SupportAdministratorFactory().user)
    assert client.get(url).status_code == 404


def test_the_attainment_report_counts_workarounds_and_pages(on_call, client, settings):
    settings.HELPDESK_SEV1_MANAGER_PAGE_MINUTES = 10
    now = datetime.now(tz=PT).replace(microsecond=0) - timedelta(hours=3)
    first, second = file_sev1(at=now), file_sev1(at=now)
    continuous_effort.record_workaround(first, actor=first.assignee, note="Reboot.")
    with time_machine.travel(now + timedelta(minutes=11), tick=False):
        continuous_effort.page_managers_due()
    client.force_login(on_call["managers"][0])

    page = client.get(reverse("slo_attainment"))

    [row] = page.context["continuous_effort"]
    assert (row["tickets"], row["workarounds"], row["managers_paged"]) == (2, 1, 1)
    assert second.pk  # both filed


def test_the_console_refuses_to_unassign_a_sev1_at_the_field(on_call, client):
    ticket = file_sev1()
    client.force_login(on_call["managers"][0])
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    form = client.get(url).context["adminform"].form
    values = {
        name: form.initial.get(name) or ""
        for name in form.fields
        if name not in ("assignee", "is_tam_routed")
    }

    response = client.post(url, values | {"assignee": ""})

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["assignee"]
    assert "always has an assignee" in errors[0]
    ticket.refresh_from_db()
    assert ticket.assignee is not None
