"""Production and deployment go to different teams (Janrain "route the ticket to
the appropriate team", issue 15 §3.5): a new ticket is routed by environment (or to
the TAM), its team hears at once, and an assignee hears of each assignment."""

import pytest
from django.core.exceptions import ValidationError

from accounts import roles
from accounts.models import Team, TeamMembership
from helpdesk import routing, services
from helpdesk.models import OutboundEmail
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams():
    made = {}
    for kind, label in Team.Kind.choices:
        team = Team.objects.create(slug=kind, name=label, kind=kind)
        for _ in range(2):
            TeamMembership.objects.create(
                team=team, user=AgentFactory(role=roles.SUPPORT_ENGINEER)
            )
        made[kind] = team
    return made


def routed_to(ticket) -> set[str]:
    return set(
        OutboundEmail.objects.filter(
            key__startswith=f"ticket-routed:{ticket.pk}:"
        ).values_list("to", flat=True)
    )


def emails_of(team) -> set[str]:
    return {member.email for member in team.members.all()}


@pytest.mark.parametrize(
    ("environment", "kind"),
    [("production", Team.Kind.PRODUCTION), ("deployment", Team.Kind.DEPLOYMENT)],
)
def test_a_new_ticket_goes_to_its_environments_team_and_the_team_hears_at_once(
    teams, environment, kind, django_capture_on_commit_callbacks
):
    admin = administrator("janrain-platinum")
    sev2 = admin.organization.support_plan.severities.get(level=2)

    with django_capture_on_commit_callbacks(execute=True):
        ticket = file_ticket(
            admin, environment=environment, severity=sev2, customer_contact="Ada"
        )

    assert ticket.team == teams[kind]
    assert routed_to(ticket) == emails_of(teams[kind])
    email = OutboundEmail.objects.filter(key__startswith="ticket-routed:").first()
    assert email.subject.startswith(f"[{ticket.reference}] New Severity 2 ticket")
    assert email.sent_at is not None  # at once, not at the 75% warning


def test_the_team_is_told_once_even_if_told_again(teams):
    ticket = file_ticket(administrator("janrain-platinum"))

    assert routing.notify_team(ticket) == 2

    assert len(routed_to(ticket)) == 2
    assert OutboundEmail.objects.filter(key__startswith="ticket-routed:").count() == 2


def test_a_tam_routed_ticket_goes_to_the_tam_team(teams, monkeypatch):
    tam = AgentFactory(role=roles.TAM)
    monkeypatch.setattr(services.tam_routing, "should_route_to_tam", lambda *args: True)
    monkeypatch.setattr(services.tam_routing, "tam_for", lambda *args: tam)
    monkeypatch.setattr(services.tam_routing, "tam_due_for", lambda *args: None)

    ticket = file_ticket(administrator("janrain-platinum"), environment="deployment")

    assert ticket.team == teams[Team.Kind.TAM]
    assert routed_to(ticket) == emails_of(teams[Team.Kind.TAM])
    assert OutboundEmail.objects.filter(
        key__startswith=f"ticket-assigned:{ticket.pk}:{tam.pk}:", to=tam.email
    ).exists()


def test_without_teams_a_ticket_is_filed_unrouted():
    ticket = file_ticket(administrator("janrain-platinum"))

    assert ticket.team is None
    assert not OutboundEmail.objects.filter(key__startswith="ticket-routed:").exists()


def test_assignment_notifies_the_assignee_each_time():
    ticket = file_ticket(administrator("janrain-platinum"))
    lead = AgentFactory(role=roles.SUPPORT_MANAGER)
    first, second = AgentFactory(), AgentFactory()

    services.assign_ticket(ticket, first, actor=lead)
    services.assign_ticket(ticket, second, actor=lead)
    services.assign_ticket(ticket, first, actor=lead)

    sent = list(
        OutboundEmail.objects.filter(key__startswith="ticket-assigned:")
        .order_by("pk")
        .values_list("to", flat=True)
    )
    assert sent == [first.email, second.email, first.email]
    email = OutboundEmail.objects.filter(key__startswith="ticket-assigned:").first()
    assert email.subject == f"[{ticket.reference}] Assigned to you: {ticket.summary}"


def test_taking_a_ticket_yourself_sends_no_email():
    ticket = file_ticket(administrator("janrain-platinum"))
    agent = AgentFactory()

    services.assign_ticket(ticket, agent, actor=agent)

    assert not OutboundEmail.objects.filter(key__startswith="ticket-assigned:").exists()


def test_a_customer_cannot_be_assigned_and_nobody_is_told():
    ticket = file_ticket(administrator("janrain-platinum"))

    with pytest.raises(ValidationError):
        services.assign_ticket(ticket, ticket.requester, actor=AgentFactory())

    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert not OutboundEmail.objects.filter(key__startswith="ticket-assigned:").exists()


def test_only_agents_can_be_team_members(teams):
    membership = TeamMembership(
        team=teams[Team.Kind.PRODUCTION],
        user=administrator("janrain-platinum").user,
    )

    with pytest.raises(ValidationError) as excinfo:
        membership.full_clean()
    assert "Only agents" in str(excinfo.value)


def test_the_demo_has_the_three_teams_with_members():
    from io import StringIO

    from django.core.management import call_command

    call_command("seed_demo", stdout=StringIO())

    kinds = {team.kind: team for team in Team.objects.prefetch_related("members")}
    assert set(kinds) == set(Team.Kind.values)
    assert all(team.members.exists() for team in kinds.values())
    assert TeamMembership.objects.filter(is_on_call=True).exists()
