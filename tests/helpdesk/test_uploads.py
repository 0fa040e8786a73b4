"""Attachment limits enforced while the body streams in (helpdesk/uploads.py)."""

from itertools import repeat

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import SkipFile, StopUpload
from django.urls import reverse

from helpdesk.models import Attachment, Message, Ticket
from helpdesk.uploads import AttachmentLimitUploadHandler, RefusedUpload
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, file_ticket, png

pytestmark = pytest.mark.django_db

LIMIT = 100_000
CHUNK = 64 * 1024


@pytest.fixture
def limit(settings):
    settings.HELPDESK_ATTACHMENT_MAX_BYTES = LIMIT
    return LIMIT


def _handler(
    content_length: int, field_name: str = "attachments"
) -> AttachmentLimitUploadHandler:
    handler = AttachmentLimitUploadHandler()
    handler.handle_raw_input(None, {}, content_length, b"boundary")
    handler.new_file(field_name, "big.log", "text/plain", None)
    return handler


def _feed(handler: AttachmentLimitUploadHandler, chunks) -> int:
    """Feed ``chunks`` as Django's parser does; return how many the handler took."""
    start = taken = 0
    for chunk in chunks:
        handler.receive_data_chunk(chunk, start)
        start += len(chunk)
        taken += 1
    return taken


def test_an_attachment_is_dropped_at_the_chunk_that_passes_the_limit(limit):
    handler = _handler(content_length=3 * CHUNK)
    gigabyte = repeat(b"x" * CHUNK, 2**30 // CHUNK)

    with pytest.raises(SkipFile):
        _feed(handler, gigabyte)

    # One chunk (64 KiB) fitted under the 100 kB limit; the second crossed it and
    # was neither passed on nor followed by any other.
    assert handler.received == CHUNK
    assert len(list(gigabyte)) == 2**30 // CHUNK - 2
    [(field_name, refused)] = handler.refused
    assert field_name == "attachments"
    assert isinstance(refused, RefusedUpload)
    assert refused.name == "big.log"
    assert refused.size == 2 * CHUNK
    assert refused.read() == b""


def test_an_attachment_of_exactly_the_limit_is_passed_on(limit):
    handler = _handler(content_length=LIMIT + 1000)

    _feed(handler, [b"x" * CHUNK, b"x" * (LIMIT - CHUNK)])

    assert handler.received == LIMIT
    assert handler.refused == []


def test_a_request_longer_than_any_acceptable_one_is_not_read(limit, settings):
    settings.HELPDESK_UPLOAD_MAX_REQUEST_BYTES = 5 * LIMIT
    handler = _handler(content_length=5 * LIMIT + 1)

    with pytest.raises(StopUpload) as excinfo:
        _feed(handler, [b"x" * 1000])

    assert excinfo.value.connection_reset
    assert handler.received == 0
    assert "was not received" in handler.refused[0][1].refusal


def test_other_file_fields_are_only_held_to_the_request_limit(limit, settings):
    settings.HELPDESK_UPLOAD_MAX_REQUEST_BYTES = 5 * LIMIT
    notice = _handler(content_length=3 * LIMIT, field_name="notice_document")

    _feed(notice, repeat(b"x" * CHUNK, 3))

    assert notice.received == 3 * CHUNK
    with pytest.raises(RequestDataTooBig):
        _feed(
            _handler(content_length=5 * LIMIT + 1, field_name="notice_document"),
            [b"x"],
        )


def _reply(client, ticket, *files, **data):
    return client.post(
        ticket.get_absolute_url(),
        {"body": "Log attached", "attachments": files, **data},
    )


def test_a_portal_reply_with_an_attachment_one_byte_too_big_stores_nothing(
    client, limit
):
    admin = administrator()
    ticket = file_ticket(admin)
    client.force_login(admin.user)
    messages_before = ticket.messages.count()

    response = _reply(
        client, ticket, png(), SimpleUploadedFile("big.log", b"x" * (limit + 1))
    )

    form = response.context["form"]
    assert response.status_code == 200
    assert form.errors["attachments"] == [
        "big.log is larger than 97.7\xa0KB, the most an attachment may be. "
        "Compress the log or attach an excerpt."
    ]
    assert form["body"].value() == "Log attached"  # the rest of the form arrived
    assert ticket.messages.count() == messages_before
    assert not Attachment.objects.exists()
    handler = response.wsgi_request.upload_handlers[0]
    assert handler.received <= limit  # the stored copy never passed the limit


def test_a_new_ticket_with_an_oversized_attachment_is_not_filed(client, limit):
    admin = administrator()
    client.force_login(admin.user)

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "Exports fail",
            "environment": "production",
            "description": "Every export since 09:00.",
            "attachments": [SimpleUploadedFile("export.log", b"x" * (limit + 1))],
        },
    )

    assert response.status_code == 200
    assert (
        "export.log is larger than" in response.context["form"].errors["attachments"][0]
    )
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


def test_an_upload_over_the_request_limit_is_cut_off_unread(client, limit, settings):
    settings.HELPDESK_UPLOAD_MAX_REQUEST_BYTES = 2 * limit
    admin = administrator()
    ticket = file_ticket(admin)
    client.force_login(admin.user)
    messages_before = ticket.messages.count()

    response = _reply(client, ticket, SimpleUploadedFile("dump.bin", b"x" * 10**6))

    assert (
        "dump.bin was not received" in response.context["form"].errors["attachments"][0]
    )
    unread = len(response.wsgi_request.environ["wsgi.input"])
    assert unread > 10**6 - 2 * limit
    assert ticket.messages.count() == messages_before
    assert not Attachment.objects.exists()


def test_an_agent_reply_with_an_oversized_attachment_says_why(client, limit):
    ticket = file_ticket()
    client.force_login(AgentFactory(role="Support Engineer"))
    messages_before = ticket.messages.count()

    response = client.post(
        reverse("admin:helpdesk_ticket_reply", args=[ticket.pk]),
        {
            "body": "Here is our log",
            "attachments": [SimpleUploadedFile("server.log", b"x" * (limit + 1))],
        },
    )

    [message] = get_messages(response.wsgi_request)
    assert "server.log is larger than" in message.message
    assert Message.objects.filter(ticket=ticket).count() == messages_before
    assert not Attachment.objects.exists()
