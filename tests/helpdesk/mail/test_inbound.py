"""process_message on a corpus of real-world shaped messages: what each becomes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from accounts import roles
from helpdesk import services
from helpdesk.mail import autoreply
from helpdesk.mail.inbound import DUPLICATE, organization_for, process_message
from helpdesk.mail.models import InboundMessage
from helpdesk.models import Attachment, Escalation, Message, OutboundEmail, Ticket
from tests.accounts.factories import (
    AgentFactory,
    SupportAdministratorFactory,
    UserFactory,
)
from tests.helpdesk.factories import administrator, file_ticket
from tests.helpdesk.mail.conftest import eml, sent_outbox

pytestmark = pytest.mark.django_db

Outcome = InboundMessage.Outcome
SECRET = "AKIA" + "Z3MHN5QW7XJ2PLRT"


def only_reply(ticket) -> Message:
    (message,) = Message.objects.filter(
        ticket=ticket, visibility=Message.Visibility.PUBLIC
    )
    return message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "outlook_reply.eml",
            "We restarted the widget as suggested \u2013 it still fails for users in "
            "München.\n\nKind regards,\nAda",
        ),
        (
            "gmail_reply.eml",
            "The new build fixed it for most users, but Safari on iOS still shows "
            "the error page.",
        ),
        (
            "apple_mail_reply.eml",
            "Confirmed: after clearing the cache the widget works again on macOS — "
            "thank you.\n\nAda",
        ),
        (
            "iso_8859_1_reply.eml",
            "Grüße,\n\ndie Anmeldung schlägt weiterhin fehl, auch nach dem Neustart.",
        ),
    ],
)
def test_a_reply_is_threaded_stripped_of_quotes_and_posted_as_from_email(
    ticket, name, expected
):
    result = process_message(eml(name, ticket=ticket))

    assert (result.outcome, result.ticket_reference) == ("replied", ticket.reference)
    message = only_reply(ticket)
    assert message.body.removeprefix("Hi,\n\n") == expected
    assert message.is_from_email
    assert message.author == ticket.requester
    inbound = InboundMessage.objects.get(pk=result.inbound_id)
    assert inbound.ticket_message == message
    assert inbound.original.read().startswith(eml(name, ticket=ticket)[:40])


def test_the_subject_token_threads_a_reply_without_message_ids(ticket):
    raw = eml("iso_8859_1_reply.eml", ticket=ticket)
    assert b"In-Reply-To" not in raw

    assert process_message(raw).ticket_reference == ticket.reference


def test_in_reply_to_wins_over_a_subject_naming_another_ticket(ada, ticket):
    other = file_ticket(ada, summary="Another problem")
    raw = eml("gmail_reply.eml", ticket=ticket).replace(
        ticket.reference.encode(), other.reference.encode()
    )

    assert process_message(raw).ticket_reference == ticket.reference


def test_a_reply_to_a_reply_notification_threads_by_that_e_mails_id(ticket):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    answer = services.post_reply(ticket, author=agent, body="Please try the fix.")
    notification = OutboundEmail.objects.get(key__startswith=f"reply:{answer.pk}:")
    raw = eml("gmail_reply.eml", thread_id=notification.message_id).replace(
        b"HD-REF", b"nothing"
    )

    assert process_message(raw).ticket_reference == ticket.reference


def test_a_customer_reply_resumes_a_ticket_waiting_on_them(ticket):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    services.post_reply(ticket, author=agent, body="Which browser?")
    services.change_status(ticket, Ticket.Status.WAITING_ON_CUSTOMER, actor=agent)

    process_message(eml("gmail_reply.eml", ticket=ticket))

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN


def test_a_reply_to_a_resolved_ticket_reopens_it_as_the_portal_does(ticket):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    services.post_reply(ticket, author=agent, body="Fixed.")
    services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)

    result = process_message(eml("outlook_reply.eml", ticket=ticket))

    ticket.refresh_from_db()
    assert result.outcome == "replied"
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.resolved_at is None


def test_a_reply_notifies_the_assignee_like_a_portal_reply(ticket):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    services.assign_ticket(ticket, agent, actor=agent)

    process_message(eml("apple_mail_reply.eml", ticket=ticket))

    message = only_reply(ticket)
    assert OutboundEmail.objects.filter(
        to=agent.email, key=f"reply:{message.pk}:{agent.pk}"
    ).exists()


def test_a_new_ticket_from_a_named_administrator_with_attachments(ada):
    result = process_message(eml("alternative_with_attachments.eml"))

    assert result.outcome == "created"
    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert ticket.summary == "Checkout page shows a blank screen"
    assert ticket.description.startswith("The checkout page is blank")
    assert ticket.severity == ticket.plan.default_severity
    assert ticket.environment == Ticket.Environment.PRODUCTION
    assert ticket.organization == ada.organization
    assert sorted(
        Attachment.objects.filter(ticket=ticket).values_list(
            "original_name", "content_type"
        )
    ) == [("blank-checkout.png", "image/png"), ("server.log", "text/plain")]
    confirmation = OutboundEmail.objects.get(key=f"ticket-created:{ticket.pk}")
    assert confirmation.to == "ada@acme.example"
    assert "Acme" in confirmation.body_text


def test_html_only_mail_becomes_safe_text(ada):
    result = process_message(eml("html_only.eml"))

    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert "redirects in a loop" in ticket.description
    for unsafe in ("<", "alert", "steal", "font-family", "pixel.gif"):
        assert unsafe not in ticket.description
    assert "Browser: Chrome 130" in ticket.description


def test_a_subject_saying_deployment_files_a_deployment_ticket_with_its_text(ada):
    result = process_message(eml("encoded_word_subject.eml"))

    ticket = Ticket.objects.get(reference=result.ticket_reference)
    assert ticket.summary == "本番環境でログインできません — staging deployment"
    assert ticket.environment == Ticket.Environment.DEPLOYMENT
    assert ticket.description.startswith("新しいデプロイメント")


def test_an_administrator_of_several_organisations_files_for_the_one_of_her_domain(
    ada,
):
    globex = SupportAdministratorFactory(
        user=ada.user,
        organization__slug="globex",
        organization__support_plan=ada.organization.support_plan,
    ).organization
    assert organization_for(ada.user, "acme.example") == ada.organization
    file_ticket(SupportAdministratorFactory.build(user=ada.user, organization=globex))
    # No domain match: the organisation she filed for last.
    assert organization_for(ada.user, "gmail.example") == globex


def test_an_escalations_address_in_cc_escalates_the_ticket(ticket):
    Group.objects.get(name=roles.SUPPORT_MANAGER)
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)

    result = process_message(eml("escalation.eml", ticket=ticket))

    assert result.outcome == "escalated"
    escalation = Escalation.objects.get(ticket=ticket)
    assert escalation.reason.startswith("Nobody has answered in two days")
    assert "wrote:" not in escalation.reason
    assert OutboundEmail.objects.filter(
        to=manager.email, key__startswith="escalated:"
    ).exists()


def test_a_bounce_and_an_out_of_office_are_ignored_and_never_answered(ticket):
    before = OutboundEmail.objects.count()

    bounce = process_message(eml("dsn_bounce.eml", ticket=ticket))
    away = process_message(eml("out_of_office.eml", ticket=ticket))

    assert (bounce.outcome, away.outcome) == ("ignored", "ignored")
    assert "Auto-Submitted" in away.reason
    assert not Message.objects.filter(ticket=ticket).exists()
    assert OutboundEmail.objects.count() == before


def test_a_secret_in_an_attached_log_is_refused_answered_and_not_stored(ticket):
    result = process_message(eml("secret_in_log.eml", ticket=ticket))

    assert result.outcome == "refused"
    assert "debug.log" in result.reason
    assert result.auto_replied
    assert not Message.objects.filter(ticket=ticket).exists()
    assert not Attachment.objects.filter(ticket=ticket).exists()
    inbound = InboundMessage.objects.get(pk=result.inbound_id)
    assert not inbound.original
    assert inbound.ticket == ticket  # the agents see that the customer tried
    (answer,) = [m for m in sent_outbox() if "Auto-Submitted" in m.extra_headers]
    assert answer.to == ["ada@acme.example"]
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert answer.extra_headers["In-Reply-To"] == "<secret-log-0001@acme.example>"
    assert "debug.log" in answer.body
    for stored in (
        *Message.objects.values_list("body", flat=True),
        *InboundMessage.objects.values_list("reason", "subject"),
        *OutboundEmail.objects.values_list("body_text", flat=True),
    ):
        assert SECRET not in str(stored)


def test_an_unknown_sender_gets_one_polite_answer_with_the_portal_link(db):
    result = process_message(eml("unknown_sender.eml"))

    assert result.outcome == "refused"
    assert "mallory@example.net" in result.reason
    assert not Ticket.objects.exists()
    (answer,) = sent_outbox()
    assert answer.to == ["mallory@example.net"]
    assert "/portal/" in answer.body
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert answer.reply_to == ["support@example.com"]


def test_a_customer_who_is_not_a_named_administrator_is_refused(ada):
    raw = eml("html_only.eml").replace(b"ada@acme.example", b"bob@acme.example")
    UserFactory(email="bob@acme.example")

    result = process_message(raw)

    assert result.outcome == "refused"
    assert "not a named Support Administrator" in result.reason
    assert not Ticket.objects.exists()


def test_an_expired_licence_is_refused_with_the_reason(ada):
    ada.organization.licence_active_until = timezone.localdate() - timedelta(days=1)
    ada.organization.save()

    result = process_message(eml("html_only.eml"))

    assert result.outcome == "refused"
    assert "licence" in result.reason
    assert not Ticket.objects.exists()


def test_a_reply_to_another_organisations_ticket_is_refused_saying_nothing_of_it(
    ticket,
):
    administrator(user__email="eve@other.example")
    raw = eml("gmail_reply.eml", ticket=ticket).replace(
        b"ada@acme.example", b"eve@other.example"
    )

    result = process_message(raw)

    assert result.outcome == "refused"
    assert ticket.reference not in result.reason
    assert ticket.summary not in result.reason
    assert not Message.objects.filter(ticket=ticket).exists()


def test_a_reply_to_a_closed_ticket_is_refused_with_what_to_do(ticket):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    services.change_status(ticket, Ticket.Status.RESOLVED, actor=agent)
    services.change_status(ticket, Ticket.Status.CLOSED, actor=agent)

    result = process_message(eml("gmail_reply.eml", ticket=ticket))

    assert result.outcome == "refused"
    assert "file a new ticket" in result.reason


def test_the_same_message_twice_is_processed_once(ticket):
    raw = eml("gmail_reply.eml", ticket=ticket)

    first = process_message(raw)
    again = process_message(raw)
    # The same Message-ID with other bytes (another relay's Received line).
    relayed = process_message(b"Received: from relay.example\n" + raw)

    assert first.outcome == "replied"
    assert again.outcome == relayed.outcome == DUPLICATE
    assert Message.objects.filter(ticket=ticket).count() == 1
    assert InboundMessage.objects.count() == 1


def test_exactly_once_is_a_database_constraint_not_a_check(ticket):
    process_message(eml("gmail_reply.eml", ticket=ticket))
    row = InboundMessage.objects.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessage.objects.create(
            message_id=row.message_id,
            content_sha256="0" * 64,
            received_at=timezone.now(),
            source="pipe",
            outcome=Outcome.REPLIED,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        InboundMessage.objects.create(
            message_id="",
            content_sha256=row.content_sha256,
            received_at=timezone.now(),
            source="pipe",
            outcome=Outcome.REPLIED,
        )


def test_refusals_are_answered_at_most_three_times_a_day_per_sender(db):
    base = eml("unknown_sender.eml")
    results = [
        process_message(base.replace(b"unknown-0001", f"unknown-{n}".encode()))
        for n in range(5)
    ]

    assert [r.auto_replied for r in results] == [True, True, True, False, False]
    assert "automatic answers" in results[-1].reason
    assert OutboundEmail.objects.filter(to="mallory@example.net").count() == (
        autoreply.AUTO_REPLY_LIMIT
    )


def test_mail_from_our_own_address_is_a_loop_and_ignored(db):
    raw = eml("unknown_sender.eml").replace(
        b"Mallory <mallory@example.net>", b"support@example.com"
    )

    result = process_message(raw)

    assert result.outcome == "ignored"
    assert "loop" in result.reason
    assert not OutboundEmail.objects.exists()


def test_a_mailing_list_message_is_refused_without_an_answer(db):
    raw = b"List-Id: <announce.example.net>\n" + eml("unknown_sender.eml")

    result = process_message(raw)

    assert result.outcome == "refused"
    assert not result.auto_replied
    assert not OutboundEmail.objects.exists()


def test_a_malformed_message_fails_with_a_reason_and_stores_nothing_else(db):
    result = process_message(b"this is not an e-mail at all\n")

    assert result.outcome == "failed"
    assert "no sender" in result.reason
    assert not result.is_accepted
    assert not OutboundEmail.objects.exists()


@override_settings(HELPDESK_INBOUND_MAX_BYTES=2048)
def test_an_oversized_message_is_refused_unread_and_answered(ada):
    raw = eml("html_only.eml") + b"<p>" + b"x" * 4096 + b"</p>"

    result = process_message(raw)

    assert result.outcome == "refused"
    assert "2.0\xa0KB" in result.reason
    assert result.auto_replied
    assert not Ticket.objects.exists()


def test_a_disallowed_attachment_refuses_the_message_naming_the_file(ada):
    raw = eml("alternative_with_attachments.eml").replace(
        b'filename="blank-checkout.png"', b'filename="setup.exe"'
    )
    raw = raw.replace(
        b"iVBORw0KGgo",
        b"TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    )

    result = process_message(raw)

    assert result.outcome == "refused", result.reason
    assert "setup.exe" in result.reason
    assert not Ticket.objects.exists()


def test_an_agent_writing_in_is_refused(ticket):
    AgentFactory(email="sam@helpdesk.example")
    raw = eml("gmail_reply.eml", ticket=ticket).replace(
        b"ada@acme.example", b"sam@helpdesk.example"
    )

    result = process_message(raw)

    assert result.outcome == "refused"
    assert "agent console" in result.reason


def test_a_second_escalation_mail_is_added_as_a_reply(ticket):
    process_message(eml("escalation.eml", ticket=ticket))
    again = eml("escalation.eml", ticket=ticket).replace(b"escalate-0001", b"esc-2")

    result = process_message(again)

    assert result.outcome == "replied"
    assert Escalation.objects.filter(ticket=ticket).count() == 1
    assert only_reply(ticket).body.startswith("Nobody has answered")


@override_settings(HELPDESK_INBOUND_MAX_BYTES=2048)
def test_an_oversized_automatic_message_is_refused_without_an_answer(db):
    raw = eml("out_of_office.eml") + b"x" * 4096

    result = process_message(raw)

    assert result.outcome == "refused"
    assert not result.auto_replied
    assert not OutboundEmail.objects.exists()


def test_an_escalation_that_answers_no_ticket_is_refused_saying_how(ada):
    raw = eml("escalation.eml").replace(b"[HD-REF] ", b"")

    result = process_message(raw)

    assert result.outcome == "refused"
    assert "reply to the last e-mail" in result.reason
    assert not Ticket.objects.exists()
