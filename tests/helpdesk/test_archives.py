"""Compressed logs: accepted when every file inside could be attached alone and the
archive is safe to read; refused with the reason otherwise (issue 15 §5)."""

import gzip
import io
import struct
import tarfile
import zipfile
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk.archives import ArchiveLimits, ArchiveRefused, read_members
from helpdesk.attachments import check_upload
from tests.helpdesk.factories import PNG

LOG = b"2026-11-22 10:00:01 INFO request ok\n2026-11-22 10:00:02 ERROR timeout\n"
SECRET_LOG = (
    b"2026-11-22 10:00:01 INFO start\n"
    b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n"
)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def make_zip(entries: dict[str, bytes], **kwargs) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, **kwargs) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def make_tar_gz(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def refusal(name: str, data: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        check_upload(upload(name, data))
    assert name in excinfo.value.messages[0]  # the reason names the file
    return excinfo.value


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("logs.zip", make_zip({"app.log": LOG, "shot.png": PNG}), "application/zip"),
        ("app.log.gz", gzip.compress(LOG), "application/gzip"),
        ("logs.tar.gz", make_tar_gz({"a/app.log": LOG}), "application/gzip"),
        (
            "folders.zip",
            make_zip({"logs/": b"", "logs/app.log": LOG}),
            "application/zip",
        ),
    ],
)
def test_compressed_logs_are_accepted(name, data, content_type):
    checked = check_upload(upload(name, data))

    assert checked.content_type == content_type
    assert checked.upload.read() == data  # stored as sent, not unpacked


def test_members_are_streamed_with_their_names():
    members = list(
        read_members(
            io.BytesIO(make_tar_gz({"a/one.log": b"1", "b/two.log": b"22"})),
            "gzip",
            ArchiveLimits(),
        )
    )

    assert [(m.name, m.data) for m in members] == [
        ("a/one.log", b"1"),
        ("b/two.log", b"22"),
    ]


def test_a_plain_gzip_names_its_file_after_the_upload():
    (member,) = read_members(
        io.BytesIO(gzip.compress(LOG)), "gzip", ArchiveLimits(), name="app.log.gz"
    )

    assert (member.name, member.data) == ("app.log", LOG)


def test_a_secret_in_a_log_inside_a_zip_is_refused_with_its_place():
    error = refusal("logs.zip", make_zip({"ok.log": LOG, "debug/app.log": SECRET_LOG}))

    assert error.code == "secret"
    assert "debug/app.log in logs.zip" in error.messages[0]
    assert "line 2" in error.messages[0]


def test_a_secret_in_a_gzipped_log_is_refused():
    error = refusal("app.log.gz", gzip.compress(SECRET_LOG))

    assert error.code == "secret"
    assert "app.log in app.log.gz" in error.messages[0]


def test_a_secret_in_a_tar_gz_is_refused():
    error = refusal("logs.tar.gz", make_tar_gz({"x/app.log": SECRET_LOG}))

    assert error.code == "secret"
    assert "x/app.log in logs.tar.gz" in error.messages[0]


def test_an_executable_inside_a_zip_is_refused():
    error = refusal("logs.zip", make_zip({"app.log": LOG, "setup.exe": EXE}))

    assert error.code == "type"
    assert "setup.exe" in error.messages[0]
    assert "EXE file" in error.messages[0]


@pytest.mark.parametrize(
    "inner",
    [
        make_zip({"app.log": LOG}),
        gzip.compress(LOG),
        make_tar_gz({"app.log": LOG}),
    ],
)
def test_a_nested_archive_is_refused(inner):
    error = refusal("outer.zip", make_zip({"inner.bin": inner}))

    assert error.code == "archive_nested"
    assert "inner.bin" in error.messages[0]
    assert "one level" in error.messages[0]


def test_an_archive_bomb_is_refused_by_its_ratio():
    bomb = make_zip({"zeros.log": b"0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024  # about 1000 to 1

    error = refusal("bomb.zip", bomb)

    assert error.code == "archive_ratio"
    assert "expands more than 100 times" in error.messages[0]


def test_a_gzip_bomb_is_refused_while_it_streams(settings):
    settings.HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES = 10 * 1024 * 1024 * 1024
    bomb = gzip.compress(b"\x00" * (50 * 1024 * 1024), compresslevel=9)

    error = refusal("bomb.log.gz", bomb)

    assert error.code == "archive_ratio"


def test_a_zip_whose_headers_lie_about_its_size_is_still_stopped(settings):
    settings.HELPDESK_ARCHIVE_MAX_RATIO = 1_000_000  # only the total limit applies
    settings.HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES = 1024 * 1024
    data = bytearray(make_zip({"a.log": b"a" * (4 * 1024 * 1024)}))
    # Rewrite the declared size (local header and central directory) to 100 bytes.
    real = struct.pack("<I", 4 * 1024 * 1024)
    assert data.count(real) == 2
    data = data.replace(real, struct.pack("<I", 100))

    error = refusal("liar.zip", bytes(data))

    assert error.code in {"archive_size", "archive_corrupt"}


def test_more_than_the_total_expanded_size_is_refused(settings):
    settings.HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES = 1024

    error = refusal("big.zip", make_zip({"a.log": LOG * 10, "b.log": LOG * 10}))

    assert error.code == "archive_size"
    assert "expands to more than 1.0" in error.messages[0]


def test_too_many_entries_are_refused(settings):
    settings.HELPDESK_ARCHIVE_MAX_ENTRIES = 10

    error = refusal("many.zip", make_zip({f"{i}.log": LOG for i in range(11)}))

    assert error.code == "archive_entries"
    assert "more than 10 files" in error.messages[0]


def test_too_many_entries_in_a_tar_gz_are_refused(settings):
    settings.HELPDESK_ARCHIVE_MAX_ENTRIES = 3

    error = refusal("many.tar.gz", make_tar_gz({f"{i}.log": LOG for i in range(4)}))

    assert error.code == "archive_entries"


@pytest.mark.parametrize(
    "entry", ["../../etc/passwd", "/etc/passwd", "logs/../../x.log", "C:\\x.log"]
)
def test_a_name_that_leaves_the_archive_is_refused(entry):
    error = refusal("evil.zip", make_zip({entry: LOG}))

    assert error.code == "archive_path"
    assert repr(entry) in error.messages[0]


def test_a_link_inside_a_tar_is_refused():
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        link = tarfile.TarInfo("app.log")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/shadow"
        archive.addfile(link)

    error = refusal("link.tar.gz", buffer.getvalue())

    assert error.code == "archive_link"


def test_an_encrypted_zip_is_refused():
    data = bytearray(make_zip({"app.log": LOG}))
    # Set the "encrypted" flag (bit 0) in the local and central headers, as a
    # password-protected ZIP has; the stdlib cannot write one.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at] |= 0x1

    error = refusal("secret.zip", bytes(data))

    assert error.code == "archive_encrypted"
    assert "password" in error.messages[0]


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("cut.zip", make_zip({"app.log": LOG * 50})[:-30]),
        ("cut.log.gz", gzip.compress(LOG * 50)[:-12]),
        ("bad.log.gz", gzip.compress(LOG)[:10] + b"\xff" * 40),
        ("cut.tar.gz", make_tar_gz({"app.log": LOG * 50})[:-20]),
    ],
)
def test_a_corrupt_archive_is_refused(name, data):
    error = refusal(name, data)

    assert error.code == "archive_corrupt"
    assert "damaged" in error.messages[0]


def test_a_corrupt_crc_is_refused():
    data = bytearray(make_zip({"app.log": LOG}))
    at = data.index(b"PK\x03\x04") + 14  # the CRC-32 of the local header
    data[at : at + 4] = struct.pack("<I", zlib.crc32(b"other"))
    central = data.index(b"PK\x01\x02") + 16
    data[central : central + 4] = struct.pack("<I", zlib.crc32(b"other"))

    error = refusal("crc.zip", bytes(data))

    assert error.code == "archive_corrupt"


def test_read_members_refuses_as_it_goes():
    limits = ArchiveLimits(max_entries=1)
    members = read_members(
        io.BytesIO(make_zip({"a.log": b"a", "b.log": b"b"})), "zip", limits
    )

    with pytest.raises(ArchiveRefused) as excinfo:
        list(members)

    assert excinfo.value.code == "archive_entries"


@pytest.mark.django_db
def test_the_portal_form_shows_the_reason_at_the_field_and_stores_nothing(client):
    from django.urls import reverse

    from helpdesk.models import Attachment, Ticket
    from tests.helpdesk.factories import administrator

    admin = administrator()
    client.force_login(admin.user)
    severity = admin.organization.support_plan.severities.get(level=2)
    bomb = make_zip({"zeros.log": b"0" * (20 * 1024 * 1024)})

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "Checkout sign-in slow",
            "severity": severity.pk,
            "environment": "production",
            "description": "Sign-in takes 30 s for many users.",
            "customer_contact": "Ada, +1 555 0100, 24x7",
            "attachments": [
                upload("logs.zip", make_zip({"app.log": SECRET_LOG})),
                upload("bomb.zip", bomb),
            ],
        },
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["attachments"]
    assert any("app.log in logs.zip" in e for e in errors)
    assert any("bomb.zip expands more than 100 times" in e for e in errors)
    html = response.content.decode()
    field = html[html.index('id="attachments-field"') :]
    assert "bomb.zip expands more than 100 times" in field[: field.index("</div>")]
    assert not Ticket.objects.exists()
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_the_portal_accepts_a_compressed_log(
    client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from helpdesk.models import Ticket
    from tests.helpdesk.factories import administrator

    admin = administrator()
    client.force_login(admin.user)
    severity = admin.organization.support_plan.severities.get(level=2)
    compressed = gzip.compress(LOG)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:new_ticket"),
            {
                "summary": "Checkout sign-in slow",
                "severity": severity.pk,
                "environment": "production",
                "description": "Sign-in takes 30 s for many users.",
                "customer_contact": "Ada, +1 555 0100, 24x7",
                "attachments": [upload("app.log.gz", compressed)],
            },
        )

    assert response.status_code == 302
    attachment = Ticket.objects.get().attachments.get()
    assert (attachment.original_name, attachment.content_type) == (
        "app.log.gz",
        "application/gzip",
    )
    download = client.get(attachment.get_absolute_url())
    assert b"".join(download.streaming_content) == compressed
