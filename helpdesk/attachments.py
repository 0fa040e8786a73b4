"""What may be attached to a ticket: screenshots, PDFs and text logs, checked by their
content (never by their name), within a size limit, and text scanned for secrets.

Logs may come compressed (.zip, .gz, .tar.gz): every file inside is checked the same
way, read as a stream under the limits of ``helpdesk.archives``."""

from __future__ import annotations

from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat

from helpdesk import pdf_text
from helpdesk.archives import (
    ARCHIVE_KINDS,
    NESTED_ARCHIVE_TYPES,
    ArchiveLimits,
    ArchiveRefused,
    Member,
    read_members,
)
from helpdesk.secrets_guard import explain, find_secrets

# Detected by their magic bytes (the `filetype` package).
BINARY_TYPES = {
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "image/gif": "GIF image",
    "image/webp": "WebP image",
    "application/pdf": "PDF document",
}
TEXT_TYPE = "text/plain"
PDF_TYPE = "application/pdf"
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class CheckedUpload:
    upload: UploadedFile
    content_type: str
    size: int


def describe_allowed() -> str:
    return (
        "PNG, JPEG, GIF or WebP screenshots, PDF documents and plain-text logs, "
        "also compressed as .zip, .gz or .tar.gz"
    )


def max_bytes() -> int:
    return settings.HELPDESK_ATTACHMENT_MAX_BYTES


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Return the upload with its content type found from its bytes, or raise a
    ValidationError that names the file and says what is allowed."""
    name = upload.name or "file"
    size = upload.size or 0
    # helpdesk.uploads.RefusedUpload: dropped while it streamed in, with the reason.
    refusal = getattr(upload, "refusal", None)
    if refusal:
        raise ValidationError(refusal, code="too_large")
    if size > max_bytes():
        raise ValidationError(
            f"{name} is {filesizeformat(size)}; attachments may be at most "
            f"{filesizeformat(max_bytes())}. Compress the log or attach an excerpt.",
            code="too_large",
        )
    if size == 0:
        raise ValidationError(f"{name} is empty.", code="empty")
    upload.seek(0)
    head = upload.read(_SNIFF_BYTES)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ARCHIVE_KINDS:
        _check_archive(upload, name, kind.mime)
        return CheckedUpload(upload, kind.mime, size)
    if kind is not None:
        if kind.mime not in BINARY_TYPES:
            raise ValidationError(
                f"{name} is {_article(kind.extension)} {kind.extension.upper()} "
                "file, which cannot be "
                f"attached. Allowed: {describe_allowed()}.",
                code="type",
            )
        if kind.mime == PDF_TYPE:
            _check_pdf_text(upload, name)
        return CheckedUpload(upload, kind.mime, size)
    if not _is_text(head):
        raise ValidationError(
            f"{name} is not a file type we accept. Allowed: {describe_allowed()}.",
            code="type",
        )
    data = upload.read()
    upload.seek(0)
    # The whole file, not scan_bytes' first 2 MiB: a text attachment is at most
    # max_bytes() and the scan is linear.
    findings = find_secrets(data.decode("utf-8", errors="replace"))
    if findings:
        raise ValidationError(explain(findings, where=name), code="secret")
    return CheckedUpload(upload, TEXT_TYPE, size)


def check_uploads(uploads: list[UploadedFile]) -> list[CheckedUpload]:
    """Check every upload; raise one ValidationError listing every refused file."""
    limit = settings.HELPDESK_ATTACHMENT_MAX_FILES
    if len(uploads) > limit:
        raise ValidationError(f"Attach at most {limit} files at a time.", code="count")
    checked, errors = [], []
    for upload in uploads:
        try:
            checked.append(check_upload(upload))
        except ValidationError as exc:
            errors.extend(exc.error_list)
    if errors:
        raise ValidationError(errors)
    return checked


def _check_archive(upload: UploadedFile, name: str, mime: str) -> None:
    """Raise a ValidationError naming the archive (and the file inside) unless every
    file in it could be attached alone and the archive is safe to read."""
    limits = ArchiveLimits.from_settings()
    try:
        for member in read_members(upload, ARCHIVE_KINDS[mime], limits, name=name):
            _check_member(name, member)
    except ArchiveRefused as refusal:
        raise ValidationError(f"{name} {refusal.reason}", code=refusal.code) from None


def _check_member(archive: str, member: Member) -> None:
    data = member.data
    if not data:
        return
    where = f"the file {member.name} in {archive}"
    head = data[:_SNIFF_BYTES]
    kind = filetype.guess(head)
    if kind is not None and kind.mime in NESTED_ARCHIVE_TYPES:
        raise ValidationError(
            f"{archive} holds another archive, {member.name}; we open one level "
            "only. Put the logs themselves in one .zip or .gz and attach that.",
            code="archive_nested",
        )
    if kind is not None:
        if kind.mime not in BINARY_TYPES:
            raise ValidationError(
                f"{archive} holds {member.name}, a {kind.extension.upper()} file, "
                f"which cannot be attached. Allowed: {describe_allowed()}.",
                code="type",
            )
        if kind.mime == PDF_TYPE:
            _check_pdf_bytes(data, where)
        return
    if not _is_text(head):
        raise ValidationError(
            f"{archive} holds {member.name}, which is not a file type we accept. "
            f"Allowed: {describe_allowed()}.",
            code="type",
        )
    findings = find_secrets(data.decode("utf-8", errors="replace"))
    if findings:
        raise ValidationError(explain(findings, where=where), code="secret")


def _check_pdf_text(upload: UploadedFile, name: str) -> None:
    data = upload.read()
    upload.seek(0)
    _check_pdf_bytes(data, name)


def _check_pdf_bytes(data: bytes, name: str) -> None:
    """Raise a ValidationError if a PDF's text carries a secret, page by page, or if
    a password keeps us from reading it.

    Only the first pdf_text.MAX_PAGES pages are read. A file pypdf cannot open is
    scanned as raw bytes instead, where uncompressed text still shows.
    """
    try:
        pages = pdf_text.extract_pages(data)
    except pdf_text.PdfLockedError:
        raise ValidationError(
            f"{name} is protected by a password, so we cannot check it for keys and "
            "secrets. Attach a copy without the password, or paste the part we need "
            "as text.",
            code="encrypted",
        ) from None
    except pdf_text.PdfUnreadableError:
        texts = {name: data.decode("utf-8", errors="replace")}
    else:
        texts = {f"page {n} of {name}": text for n, text in enumerate(pages, start=1)}
    errors = [
        ValidationError(explain(findings, where=where), code="secret")
        for where, text in texts.items()
        if (findings := find_secrets(text))
    ]
    if errors:
        raise ValidationError(errors)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sniffing boundary is still text.
        return exc.start >= len(head) - 3 and len(head) == _SNIFF_BYTES
    return True


def _article(extension: str) -> str:
    """ "an" before a letter read with a vowel sound (EXE, MSI, RAR...), else "a"."""
    return "an" if extension[:1].lower() in "aefhilmnorsx" else "a"
