"""Outbound mail threads: its own Message-ID, the ticket's first message in
In-Reply-To/References, [HD-000123] in the subject, Reply-To the support address;
and a real SMTP server receives the automatic answers with their RFC 3834 headers."""

from __future__ import annotations

import email
import socket
import threading
from email import policy

import pytest

from accounts import roles
from helpdesk import emails, services
from helpdesk.mail import threading as mail_threading
from helpdesk.mail.inbound import process_message
from helpdesk.models import OutboundEmail
from tests.accounts.factories import AgentFactory
from tests.helpdesk.mail.conftest import confirmation_id, eml, sent_outbox

pytestmark = pytest.mark.django_db


def agent_replies(ticket, body: str = "Please try the new build."):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    return services.post_reply(ticket, author=agent, body=body)


def by_subject(messages, fragment: str):
    (found,) = [m for m in messages if fragment in m.subject]
    return found


def test_every_e_mail_about_a_ticket_threads_under_its_confirmation(ticket):
    agent_replies(ticket)
    agent_replies(ticket, "And one more thing.")

    sent = sent_outbox()

    confirmation = by_subject(sent, "We received your request")
    replies = [m for m in sent if "New reply" in m.subject]
    root = confirmation_id(ticket)
    assert confirmation.extra_headers["Message-ID"] == root
    assert "In-Reply-To" not in confirmation.extra_headers
    assert len(replies) == 2
    for reply in replies:
        assert reply.extra_headers["In-Reply-To"] == root
        assert reply.extra_headers["References"] == root
        assert reply.extra_headers["Message-ID"] != root
        assert f"[{ticket.reference}]" in reply.subject
    assert len({m.extra_headers["Message-ID"] for m in sent}) == len(sent)
    assert {tuple(m.reply_to) for m in sent} == {("support@example.com",)}


def test_a_ticket_filed_by_e_mail_threads_under_the_customers_own_message(ada):
    result = process_message(eml("html_only.eml"))
    ticket = ada.organization.tickets.get(reference=result.ticket_reference)
    agent_replies(ticket)

    sent = sent_outbox()

    confirmation = by_subject(sent, "We received your request")
    reply = by_subject(sent, "New reply")
    assert confirmation.extra_headers["In-Reply-To"] == "<html-only-0001@acme.example>"
    assert reply.extra_headers["References"] == (
        f"<html-only-0001@acme.example> {confirmation_id(ticket)}"
    )


def test_the_customers_answer_to_a_sent_e_mail_comes_back_to_its_ticket(ticket):
    agent_replies(ticket)
    notification = by_subject(sent_outbox(), "New reply")
    raw = eml(
        "apple_mail_reply.eml",
        thread_id=notification.extra_headers["Message-ID"],
    ).replace(b"[HD-REF] ", b"")

    result = process_message(raw)

    assert (result.outcome, result.ticket_reference) == ("replied", ticket.reference)


def test_a_subject_without_the_reference_gets_it(ticket):
    OutboundEmail.objects.create(
        key="custom:1",
        to="ada@acme.example",
        subject="Your monthly summary",
        body_text="...",
        ticket=ticket,
        message_id=emails.message_id_for("custom:1"),
    )

    (sent,) = [m for m in sent_outbox() if "monthly" in m.subject]

    assert sent.subject == f"[{ticket.reference}] Your monthly summary"
    assert mail_threading.subject_with_reference(sent.subject, ticket.reference) == (
        sent.subject
    )


# --- a real SMTP server -----------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is a dev dependency")
    from aiosmtpd.controller import Controller

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield recorder
    finally:
        controller.stop()


def test_the_automatic_answer_reaches_a_real_smtp_server_marked_auto_replied(smtp):
    process_message(eml("unknown_sender.eml"))

    assert emails.send_batch()["sent"] == 1

    (answer,) = smtp.messages
    assert answer["To"] == "mallory@example.net"
    assert answer["Auto-Submitted"] == "auto-replied"
    assert answer["In-Reply-To"] == "<unknown-0001@example.net>"
    assert answer["Reply-To"] == "support@example.com"
    assert "/portal/" in answer.get_body(("plain",)).get_content()
    # The answer, delivered back to us (a loop), is recognised and ignored.
    assert process_message(answer.as_bytes()).outcome == "ignored"
