import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk.attachments import check_upload, check_uploads
from tests.helpdesk.factories import PNG

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("screenshot.png", PNG, "image/png"),
        ("screenshot.txt", PNG, "image/png"),  # the name does not matter
        ("photo.jpg", JPEG, "image/jpeg"),
        ("report", PDF, "application/pdf"),
        ("server.log", b"2026-11-22 10:00:01 ERROR login failed\n", "text/plain"),
        ("har.json", '{"log": {"entries": []}, "note": "café"}'.encode(), "text/plain"),
    ],
)
def test_allowed_types_are_recognised_by_their_content(name, data, content_type):
    assert check_upload(upload(name, data)).content_type == content_type


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64),  # a Windows .exe
        ("logs.rar", b"Rar!\x1a\x07\x00" + b"\x00" * 64),  # .zip and .gz only
        ("notes.txt", b"\x00\x01\x02binary\x00"),
        ("latin1.log", "caf\xe9 cr\xe8me".encode("latin-1") + b"\xff\xfe"),
    ],
)
def test_other_content_is_refused_whatever_its_name(name, data):
    with pytest.raises(ValidationError) as excinfo:
        check_upload(upload(name, data))

    assert name in excinfo.value.messages[0]
    assert "Allowed:" in excinfo.value.messages[0]


def test_oversize_files_are_refused_before_reading(settings):
    settings.HELPDESK_ATTACHMENT_MAX_BYTES = 1024

    with pytest.raises(ValidationError, match=r"at most 1\.0"):
        check_upload(upload("big.log", b"x" * 1025))


def test_empty_files_are_refused():
    with pytest.raises(ValidationError, match="empty"):
        check_upload(upload("empty.log", b""))


def test_a_text_attachment_with_a_secret_is_refused_with_its_line():
    log = b"start\nok\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"

    with pytest.raises(ValidationError) as excinfo:
        check_upload(upload("debug.log", log))

    assert excinfo.value.code == "secret"
    assert "line 3" in excinfo.value.messages[0]


def test_a_secret_late_in_a_large_log_is_still_found():
    log = b"2026-11-22 10:00:00 INFO request ok\n" * 80_000  # ~2.9 MB
    log += b"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl\n"

    with pytest.raises(ValidationError):
        check_upload(upload("access.log", log))


def test_every_refused_file_is_named_at_once(settings):
    settings.HELPDESK_ATTACHMENT_MAX_FILES = 5

    with pytest.raises(ValidationError) as excinfo:
        check_uploads(
            [
                upload("a.exe", b"MZ" + b"\x00" * 40),
                upload("ok.png", PNG),
                upload("b", b""),
            ]
        )

    messages = excinfo.value.messages
    assert len(messages) == 2
    assert "a.exe" in messages[0]
    assert "b is empty" in messages[1]


def test_too_many_files_are_refused(settings):
    settings.HELPDESK_ATTACHMENT_MAX_FILES = 2

    with pytest.raises(ValidationError, match="at most 2 files"):
        check_uploads([upload(f"{i}.png", PNG) for i in range(3)])
