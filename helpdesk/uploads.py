"""Attachment limits enforced while a request body streams in.

Django hands a multipart body to its upload handlers chunk by chunk, before any form
sees it. ``AttachmentLimitUploadHandler`` comes first in ``FILE_UPLOAD_HANDLERS`` and
counts each file's bytes as they arrive:

- An attachment that passes ``HELPDESK_ATTACHMENT_MAX_BYTES`` is dropped at the chunk
  that crosses the limit (``SkipFile``): nothing past the limit is passed on or kept,
  the partial temporary file is deleted, and the rest of that file is read and thrown
  away so that the other fields still arrive and the browser gets the page. The
  request as a whole is at most ``HELPDESK_UPLOAD_MAX_REQUEST_BYTES``, so this never
  reads more than the largest request that could succeed.
- A request whose Content-Length is over ``HELPDESK_UPLOAD_MAX_REQUEST_BYTES`` is cut
  off at its first file chunk without reading the rest (``StopUpload(connection_reset=
  True)``); Django warns that a browser may then show "connection reset" instead of
  the page, which is the price of not receiving it.

A refused attachment is not silently missing: a ``RefusedUpload`` takes its place in
``request.FILES``, so the portal forms and the agent console, which all pass
attachments through ``helpdesk.attachments.check_uploads``, report it in the usual
words and store nothing. Other file fields (a TAM notice document) are only held to
the request limit, with Django's 400 for a request that is too big, because a generic
form would store a stand-in as an empty file.
"""

from __future__ import annotations

import logging
from io import BytesIO

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.http.multipartparser import MultiPartParser
from django.template.defaultfilters import filesizeformat

from helpdesk.attachments import max_bytes

logger = logging.getLogger(__name__)

# The one field name the portal forms and the agent console use for attachments.
ATTACHMENT_FIELD = "attachments"


def max_request_bytes() -> int:
    return settings.HELPDESK_UPLOAD_MAX_REQUEST_BYTES


class RefusedUpload(UploadedFile):
    """Stand-in for an attachment refused while it streamed in: no content, its
    name, the bytes seen before it was dropped, and ``refusal``, the sentence that
    ``helpdesk.attachments.check_upload`` reports."""

    def __init__(self, name: str, content_type: str, size: int, refusal: str):
        super().__init__(BytesIO(), name, content_type, size, charset=None)
        self.refusal = refusal


class AttachmentLimitUploadHandler(FileUploadHandler):
    """Drop an attachment once it passes the size limit, and stop reading a request
    longer than any that could be accepted; see the module docstring."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = 0  # file bytes passed on to the handlers that store them
        self.refused: list[tuple[str, RefusedUpload]] = []
        self._request_length = 0
        self._parsing = False

    def handle_raw_input(
        self, input_data, META, content_length, boundary, encoding=None
    ):
        """Parse with Django's own parser and these same handlers, then put a
        RefusedUpload where each refused attachment was: a handler cannot add to
        request.FILES any other way, and SkipFile and StopUpload leave no entry."""
        self._request_length = content_length
        if self._parsing or self.request is None:
            return None
        self._parsing = True
        try:
            post, files = MultiPartParser(
                META, input_data, self.request.upload_handlers, encoding
            ).parse()
        finally:
            self._parsing = False
        for field_name, refused in self.refused:
            files.appendlist(field_name, refused)
        return post, files

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        seen = start + len(raw_data)
        if self._request_length > max_request_bytes():
            if self.field_name != ATTACHMENT_FIELD:
                raise RequestDataTooBig(
                    "Upload exceeded settings.HELPDESK_UPLOAD_MAX_REQUEST_BYTES."
                )
            self._refuse(
                seen,
                f"{self.file_name} was not received: the upload is "
                f"{filesizeformat(self._request_length)}, more than one message may "
                f"carry ({settings.HELPDESK_ATTACHMENT_MAX_FILES} attachments of up "
                f"to {filesizeformat(max_bytes())} each).",
            )
            raise StopUpload(connection_reset=True)
        if self.field_name == ATTACHMENT_FIELD and seen > max_bytes():
            self._refuse(
                seen,
                f"{self.file_name} is larger than {filesizeformat(max_bytes())}, the "
                "most an attachment may be. Compress the log or attach an excerpt.",
            )
            raise SkipFile
        self.received += len(raw_data)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the handlers after this one keep the file

    def _refuse(self, seen: int, refusal: str) -> None:
        logger.info(
            "refused upload %r after %d bytes: %s", self.file_name, seen, refusal
        )
        self.refused.append(
            (
                self.field_name,
                RefusedUpload(self.file_name, self.content_type, seen, refusal),
            )
        )
