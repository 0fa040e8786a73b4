from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Organization
from helpdesk import services
from helpdesk.lifecycle import IllegalTransition
from helpdesk.models import Attachment, Message, OutboundEmail, Ticket
from tests.accounts.factories import (
    AgentFactory,
    SupportAdministratorFactory,
    UserFactory,
)
from tests.helpdesk.factories import administrator, draft, file_ticket, png, text_file
from tests.tam import factories as tam_factories

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
SECRET = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq3k2Zx\n"


def test_a_ticket_gets_a_reference_due_instants_and_a_confirmation_after_commit(
    django_capture_on_commit_callbacks,
):
    admin = administrator()
    severity = admin.organization.support_plan.severities.get(level=1)
    opened_at = datetime(2026, 3, 7, 10, tzinfo=PT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
            now=opened_at,
        )
        assert mail.outbox == []  # nothing leaves before the commit

    assert ticket.reference == "HD-000001"
    assert ticket.status == Ticket.Status.NEW
    assert ticket.first_response_due_at == datetime(2026, 3, 7, 10, 30, tzinfo=PT)
    assert ticket.resolution_due_at == datetime(2026, 3, 7, 14, tzinfo=PT)
    assert len(callbacks) == 1
    [email] = mail.outbox
    assert email.to == [admin.user.email]
    assert "HD-000001" in email.subject
    assert ticket.get_absolute_url() in email.body
    assert OutboundEmail.objects.get().sent_at is not None
    # Filed with the due instants its clocks start with: one row, one history record.
    history = list(ticket.history.order_by("history_id"))
    assert [h.first_response_due_at for h in history] == [ticket.first_response_due_at]
    assert [h.resolution_due_at for h in history] == [ticket.resolution_due_at]
    assert {h.history_user for h in history} == {admin.user}


def test_references_count_up_without_gaps_even_after_a_failed_filing(monkeypatch):
    admin = administrator()
    first = file_ticket(admin)

    def broken_outbox(**kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(services, "queue_email", broken_outbox)
    with pytest.raises(RuntimeError):
        file_ticket(admin)
    monkeypatch.undo()
    second = file_ticket(admin)

    assert [first.reference, second.reference] == ["HD-000001", "HD-000002"]
    assert Ticket.objects.count() == 2


def test_no_severity_means_the_plan_default():
    ticket = file_ticket()

    assert ticket.severity.level == 3  # Janrain: "it will DEFAULT TO LOW"


def test_plans_without_severities_file_with_the_plan_wide_target():
    ticket = file_ticket(administrator("ironio-premium"))

    assert ticket.severity is None
    assert ticket.first_response_due_at is not None


def test_sev1_and_sev2_need_a_named_customer_contact():
    admin = administrator()
    severity = admin.organization.support_plan.severities.get(level=2)

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(admin, severity=severity)

    assert "customer_contact" in excinfo.value.message_dict
    assert not Ticket.objects.exists()


def test_a_severity_above_the_component_cap_is_refused_naming_the_cap():
    admin = administrator("jelastic")
    level_1 = admin.organization.support_plan.severities.get(level=1)

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(admin, severity=level_1, component=".Net", customer_contact="Bo")

    assert ".Net are at most Level 2" in excinfo.value.message_dict["severity"][0]


def test_text_with_a_secret_is_refused_and_neither_stored_nor_emailed(
    django_capture_on_commit_callbacks,
):
    admin = administrator()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValidationError) as excinfo,
    ):
        file_ticket(admin, description=f"Config:\n{SECRET}")

    assert "description" in excinfo.value.message_dict
    assert not Ticket.objects.exists()
    assert not OutboundEmail.objects.exists()
    assert mail.outbox == []


def test_every_problem_is_reported_at_once_per_field():
    admin = administrator()
    severity = admin.organization.support_plan.severities.get(level=1)

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(
            admin,
            severity=severity,
            environment="staging",
            summary=f"Broken {SECRET}",
        )

    assert set(excinfo.value.message_dict) == {
        "customer_contact",
        "environment",
        "summary",
    }


def test_only_named_administrators_of_licensed_organisations_may_file():
    admin = administrator()
    outsider = UserFactory()
    expired = SupportAdministratorFactory(
        organization__support_plan=admin.organization.support_plan,
        organization__licence_active_until=date(2020, 1, 1),
    )

    with pytest.raises(ValidationError, match="named Support Administrators"):
        services.open_ticket(
            admin.organization, draft(), requester=outsider, filed_by=outsider
        )
    with pytest.raises(ValidationError, match="licence"):
        file_ticket(expired)
    assert not Ticket.objects.exists()


def test_an_agent_files_on_a_customers_behalf():
    admin = administrator()
    agent = AgentFactory()

    ticket = services.open_ticket(
        admin.organization, draft(), requester=admin.user, filed_by=agent
    )

    assert ticket.requester == admin.user
    assert ticket.filed_by == agent


def test_a_customer_cannot_file_on_someone_elses_behalf():
    admin = administrator()
    colleague = SupportAdministratorFactory(organization=admin.organization)

    with pytest.raises(ValidationError, match="agents"):
        services.open_ticket(
            admin.organization, draft(), requester=admin.user, filed_by=colleague.user
        )


def test_attachments_are_stored_under_generated_names():
    ticket = file_ticket(uploads=[png("../../etc/passwd.png"), text_file()])

    names = sorted(a.original_name for a in ticket.attachments.all())
    stored = [a.file.name for a in ticket.attachments.all()]
    assert names == ["app.log", "passwd.png"]
    assert all(n.startswith(f"attachments/{ticket.pk}/") for n in stored)
    assert all("passwd" not in n for n in stored)
    assert {a.content_type for a in ticket.attachments.all()} == {
        "image/png",
        "text/plain",
    }


def test_a_failed_filing_leaves_no_attachment_file_behind(monkeypatch):
    from django.core.files.storage import default_storage

    admin = administrator()
    saved = []
    original = Attachment.file.field.storage.save

    def spy(name, content, max_length=None):
        saved.append(original(name, content, max_length=max_length))
        return saved[-1]

    monkeypatch.setattr(Attachment.file.field.storage, "save", spy)
    monkeypatch.setattr(services, "queue_email", lambda **kw: 1 / 0)

    with pytest.raises(ZeroDivisionError):
        file_ticket(admin, uploads=[png()])

    assert saved
    assert not any(default_storage.exists(name) for name in saved)
    assert not Attachment.objects.exists()


def test_the_first_public_agent_reply_is_the_first_response_and_notifies(
    django_capture_on_commit_callbacks,
):
    ticket = file_ticket()
    agent = AgentFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.post_reply(ticket, author=agent, body="Looking into it now.")
    ticket.refresh_from_db()

    assert ticket.first_responded_at is not None
    assert ticket.status == Ticket.Status.OPEN
    [email] = mail.outbox
    assert email.to == [ticket.requester.email]
    assert "Looking into it now." in email.body


def test_an_internal_note_is_not_a_response_and_sends_nothing(
    django_capture_on_commit_callbacks,
):
    ticket = file_ticket()

    with django_capture_on_commit_callbacks(execute=True):
        services.post_reply(
            ticket, author=AgentFactory(), body="Check the logs", internal=True
        )
    ticket.refresh_from_db()

    assert ticket.first_responded_at is None
    assert ticket.status == Ticket.Status.NEW
    assert mail.outbox == []
    assert Message.objects.get().visibility == Message.Visibility.INTERNAL


def test_a_customer_reply_to_a_ticket_waiting_on_them_reopens_it_and_tells_the_assignee(
    django_capture_on_commit_callbacks,
):
    ticket = file_ticket()
    agent = AgentFactory()
    services.assign_ticket(ticket, agent, actor=agent)
    services.change_status(ticket, Ticket.Status.WAITING_ON_CUSTOMER, actor=agent)

    with django_capture_on_commit_callbacks(execute=True):
        services.post_reply(ticket, author=ticket.requester, body="Here are the logs.")
    ticket.refresh_from_db()

    assert ticket.status == Ticket.Status.OPEN
    assert [m.to for m in mail.outbox] == [[agent.email]]


def test_customers_cannot_write_internal_notes_or_reply_to_closed_tickets():
    ticket = file_ticket()
    agent = AgentFactory()

    with pytest.raises(ValidationError, match="internal"):
        services.post_reply(ticket, author=ticket.requester, body="x", internal=True)
    for status in ("resolved", "closed"):
        services.change_status(ticket, status, actor=agent)
    with pytest.raises(ValidationError, match="closed"):
        services.post_reply(ticket, author=ticket.requester, body="Still broken")


def test_a_reply_with_a_secret_or_a_bad_file_stores_nothing():
    ticket = file_ticket()
    exe = text_file("tool.png", "")
    exe.file.write(b"MZ\x90\x00" + b"\x00" * 100)
    exe.size = 104

    with pytest.raises(ValidationError) as excinfo:
        services.post_reply(ticket, author=ticket.requester, body=SECRET, uploads=[exe])

    assert set(excinfo.value.message_dict) == {"body", "attachments"}
    assert not Message.objects.exists()
    assert not Attachment.objects.exists()


def test_a_resolved_ticket_is_reopened_with_the_reason_and_history_kept():
    ticket = file_ticket()
    agent = AgentFactory()
    services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)

    services.reopen_ticket(ticket, actor=ticket.requester, reason="Broken again")
    ticket.refresh_from_db()

    assert ticket.status == Ticket.Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.messages.get().body == "Broken again"
    statuses = [h.status for h in ticket.history.order_by("history_id")]
    moves = [s for i, s in enumerate(statuses) if i == 0 or s != statuses[i - 1]]
    assert moves == ["new", "resolved", "open"]


def test_an_illegal_transition_is_refused_with_a_clear_message():
    ticket = file_ticket()
    agent = AgentFactory()
    services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)
    services.change_status(ticket, Ticket.Status.CLOSED, actor=agent)

    with pytest.raises(IllegalTransition, match="closed and cannot change"):
        services.reopen_ticket(ticket, actor=ticket.requester, reason="again")
    with pytest.raises(IllegalTransition):
        services.change_status(ticket, Ticket.Status.OPEN, actor=agent)


# --- what the write path costs: statements per call, whatever the tickets filed -------
# Counted inside the test's transaction, where each service's own transaction is a
# SAVEPOINT and a RELEASE (BEGIN and COMMIT outside it). Filing is 11 more: the
# administrator check, the target with its calendars and policy version, the team
# it is routed to (helpdesk.routing), the reference, the ticket (its created_at the
# filing's instant) and its history record, the sweep row, the clocks, their start
# events, and the outbox's one INSERT ... ON CONFLICT.
FILING = 12
# A continuous-effort (Janrain Sev1) ticket also looks for an on-call assignee and
# pages: the on-call agents, or the managers when nobody is on call.
CONTINUOUS_EFFORT = 3


@pytest.mark.parametrize(
    ("plan_slug", "level"),
    [
        ("janrain-platinum", None),  # Sev3: both clocks, business days on 24x5
        ("janrain-platinum", 1),  # 24x7
        ("jelastic", 1),  # 24x7, response only
        ("ironio-premium", None),  # business hours with holidays, off-hours target
        ("jumpcloud", 2),  # business hours in Denver
    ],
)
def test_filing_costs_the_same_few_statements_whatever_the_plan_and_ticket_count(
    django_assert_max_num_queries, plan_slug, level
):
    admin = administrator(plan_slug)
    severity = (
        admin.organization.support_plan.severities.get(level=level) if level else None
    )

    def file() -> Ticket:
        return services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
        )

    budget = FILING + (
        CONTINUOUS_EFFORT if severity and severity.is_continuous_effort else 0
    )
    file()  # this process builds the plan's schedules once
    with django_assert_max_num_queries(budget) as second:
        file()
    for _ in range(20):
        file()
    with django_assert_max_num_queries(budget) as later:
        ticket = file()

    assert len(later) == len(second)
    assert ticket.reference == "HD-000023"
    assert (
        ticket.first_response_due_at
        == ticket.clocks.get(metric="first_response").due_at
    )


def test_replies_and_status_changes_cost_the_same_few_statements(
    django_assert_max_num_queries,
):
    admin = administrator()  # Janrain Platinum Sev3: both clocks, on 24x5
    agent = AgentFactory()
    steps = [
        # the ticket row (with its people), the licence check, the message and
        # its history record
        (6, lambda t: services.post_reply(t, author=admin.user, body="Still down.")),
        # + the first response (the ticket, the sweep row, the response clock met)
        # and the move to open (the ticket, the resolution clock), and the e-mail
        (19, lambda t: services.post_reply(t, author=agent, body="Looking now.")),
        # the resolution clock paused, its due instant gone from the ticket
        (
            13,
            lambda t: services.change_status(
                t, Ticket.Status.WAITING_ON_CUSTOMER, actor=agent
            ),
        ),
        # the customer's answer resumes it and tells no one (no assignee)
        (16, lambda t: services.post_reply(t, author=admin.user, body="Logs here.")),
        # the resolution clock met, and counted in the attainment roll-ups
        (12, lambda t: services.change_status(t, Ticket.Status.RESOLVED, actor=agent)),
    ]
    file_ticket(admin)  # this process builds the plan's schedules once

    def walk(ticket: Ticket) -> list[int]:
        counts = []
        for most, step in steps:
            with django_assert_max_num_queries(most) as captured:
                step(ticket)
            counts.append(len(captured))
        return counts

    first = walk(file_ticket(admin))
    for _ in range(20):
        walk(file_ticket(admin))
    last = file_ticket(admin)

    assert walk(last) == first
    last.refresh_from_db()
    assert last.status == Ticket.Status.RESOLVED
    assert last.first_responded_at is not None
    assert last.resolution_due_at is not None


def test_filing_a_tam_routed_ticket_reads_the_contract_once_per_question(
    django_assert_max_num_queries,
):
    admin = administrator()
    admin.organization.time_zone = "America/Los_Angeles"
    admin.organization.save()
    contract = tam_factories.contract(admin.organization)

    def file() -> Ticket:
        return services.open_ticket(
            admin.organization,
            draft(environment="deployment", route_to_tam=True),
            requester=admin.user,
            filed_by=admin.user,
        )

    with time_machine.travel(datetime(2027, 2, 5, 15, tzinfo=PT), tick=False):
        file()
        with django_assert_max_num_queries(30):
            ticket = file()

    assert ticket.assignee == contract.tam
    assert ticket.first_response_due_at == datetime(2027, 2, 8, 10, tzinfo=PT)


# --- the write path's statements ---------------------------------------------------

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@pytest.mark.parametrize(
    ("slug", "level"),
    [("janrain-platinum", None), ("jelastic", 1), ("ironio-premium", None)],
)
def test_filing_a_ticket_sends_ten_statements(slug, level):
    """The licence check, the policy (targets with their calendars and version, in
    one statement), the team, the sweep hold, the reference, the ticket (with its
    opening instant) and its history, its clocks and their start events, and the
    confirmation: nothing else, on any plan, once this process has built the
    calendars' schedules (bench/write_path.py times it)."""
    admin = administrator(slug)
    organization = Organization.objects.select_related(
        "support_plan__default_severity"
    ).get(pk=admin.organization.pk)
    plan = organization.support_plan
    severity = plan.severities.get(level=level) if level else None

    def file():
        return services.open_ticket(
            organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
        )

    file()  # builds this process's schedules
    with CaptureQueriesContext(connection) as captured:
        ticket = file()

    statements = [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    assert len(statements) == 10, "\n".join(statements)
    assert ticket.clocks.filter(metric="first_response").exists()
    assert OutboundEmail.objects.filter(ticket=ticket).count() == 1
