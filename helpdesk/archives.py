"""What is inside a .zip or .gz attachment, read as a stream and never written to disk.

Customers are told to compress large logs, so ``helpdesk.attachments`` accepts ZIP
and gzip files (and a gzipped tar, which is one archive, not two) and checks every
file inside as if it had been attached alone. Reading an archive is where the danger
is, so this module reads it under limits and refuses, with the reason, anything it
cannot read safely:

- more entries than ``HELPDESK_ARCHIVE_MAX_ENTRIES`` (default 1,000);
- more than ``HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES`` once expanded (default 100 MiB);
- an expansion ratio over ``HELPDESK_ARCHIVE_MAX_RATIO`` (default 100 to 1), checked
  once more than ``HELPDESK_ARCHIVE_RATIO_GRACE_BYTES`` (default 1 MiB) came out, as
  Apache POI's ``ZipSecureFile`` does, so that a small, very regular file passes;
- a name that is absolute or climbs out of the archive (``../../etc/passwd``), a
  link or a device in a tar, a password-protected entry, a damaged archive.

The declared sizes of a ZIP are checked before anything is inflated, and the bytes
that really come out are counted as they come, so headers that lie change nothing.
Pure: no ORM; the limits come in as an ``ArchiveLimits`` (``from_settings()``).

>>> import io, zipfile
>>> buffer = io.BytesIO()
>>> with zipfile.ZipFile(buffer, "w") as archive:
...     archive.writestr("app.log", "ok")
>>> [(m.name, m.data) for m in read_members(buffer, "zip", ArchiveLimits())]
[('app.log', b'ok')]
"""

from __future__ import annotations

import gzip
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Literal

from django.template.defaultfilters import filesizeformat

Kind = Literal["zip", "gzip"]

# Content types, as `filetype` names them, of the archives we open.
ARCHIVE_KINDS: dict[str, Kind] = {
    "application/zip": "zip",
    "application/gzip": "gzip",
}
# Archive and compressed formats `filetype` recognises: inside an archive, refused
# as nested (we open one level only).
NESTED_ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/x-lzip",
        "application/zstd",
        "application/x-compress",
        "application/x-unix-archive",
        "application/x-lzh-compressed",
    }
)
_CHUNK = 64 * 1024
_TAR_MAGIC_AT = 257  # "ustar" in a POSIX or GNU tar header


@dataclass(frozen=True)
class ArchiveLimits:
    """How much an archive may hold; the defaults are the settings' defaults."""

    max_entries: int = 1000
    max_expanded_bytes: int = 100 * 1024 * 1024
    max_ratio: int = 100
    ratio_grace_bytes: int = 1024 * 1024

    @classmethod
    def from_settings(cls) -> ArchiveLimits:
        from django.conf import settings

        return cls(
            max_entries=settings.HELPDESK_ARCHIVE_MAX_ENTRIES,
            max_expanded_bytes=settings.HELPDESK_ARCHIVE_MAX_EXPANDED_BYTES,
            max_ratio=settings.HELPDESK_ARCHIVE_MAX_RATIO,
            ratio_grace_bytes=settings.HELPDESK_ARCHIVE_RATIO_GRACE_BYTES,
        )


class ArchiveRefused(Exception):
    """An archive we will not read further; ``reason`` completes "<file> ..."."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class Member:
    """One file inside an archive: its name there and its expanded bytes."""

    name: str
    data: bytes


class _Budget:
    """Count expanded bytes across the whole archive against the limits."""

    def __init__(self, limits: ArchiveLimits, compressed_size: int) -> None:
        self.limits = limits
        self.compressed_size = max(compressed_size, 1)
        self.expanded = 0
        self.entries = 0

    def entry(self) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise _too_many(self.limits)

    def spend(self, count: int) -> None:
        self.expanded += count
        limits = self.limits
        if self.expanded > limits.max_expanded_bytes:
            raise _too_big(limits)
        ratio = self.expanded / self.compressed_size
        if self.expanded > limits.ratio_grace_bytes and ratio > limits.max_ratio:
            raise _too_dense(limits)

    def read(self, stream: IO[bytes]) -> bytes:
        parts = []
        while chunk := stream.read(_CHUNK):
            self.spend(len(chunk))
            parts.append(chunk)
        return b"".join(parts)


def _too_many(limits: ArchiveLimits) -> ArchiveRefused:
    return ArchiveRefused(
        f"holds more than {limits.max_entries} files; attach the logs that matter.",
        code="archive_entries",
    )


def _too_big(limits: ArchiveLimits) -> ArchiveRefused:
    return ArchiveRefused(
        f"expands to more than {filesizeformat(limits.max_expanded_bytes)}; attach "
        "fewer or shorter logs.",
        code="archive_size",
    )


def _too_dense(limits: ArchiveLimits) -> ArchiveRefused:
    return ArchiveRefused(
        f"expands more than {limits.max_ratio} times its size (an archive bomb, or "
        "a file too regular to be a log we can check); attach the log itself or an "
        "excerpt.",
        code="archive_ratio",
    )


def _damaged() -> ArchiveRefused:
    return ArchiveRefused(
        "is damaged or incomplete, so we cannot check what is inside; compress the "
        "logs again and attach the new file.",
        code="archive_corrupt",
    )


def unsafe_name(name: str) -> bool:
    """Return whether an entry name is absolute or climbs out of the archive.

    >>> [unsafe_name(n) for n in ("logs/app.log", "../x", "/etc/passwd", "C:\\\\x")]
    [False, True, True, True]
    """
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return True
    return ".." in PurePosixPath(posix).parts


def _check_name(name: str) -> None:
    if unsafe_name(name):
        raise ArchiveRefused(
            f"has an entry named {name!r}, which points outside the archive; we "
            "refuse such archives because unpacking one can overwrite other files.",
            code="archive_path",
        )


def read_members(
    fileobj: IO[bytes], kind: Kind, limits: ArchiveLimits, *, name: str = ""
) -> Iterator[Member]:
    """Yield the files of a ZIP or gzip stream, one at a time, within ``limits``.

    Raise ``ArchiveRefused`` at the first thing that is not safe. A gzip holding a
    tar yields the tar's files; ``name`` (the upload's) names a plain gzip's file
    when its header does not.
    """
    fileobj.seek(0, 2)
    size = fileobj.tell()
    fileobj.seek(0)
    budget = _Budget(limits, size)
    try:
        if kind == "zip":
            yield from _zip_members(fileobj, budget)
        else:
            yield from _gzip_members(fileobj, budget, name)
    except (zipfile.BadZipFile, zlib.error, EOFError, gzip.BadGzipFile) as exc:
        raise _damaged() from exc
    except tarfile.TarError as exc:
        raise _damaged() from exc
    except NotImplementedError as exc:  # a ZIP compression method we cannot read
        raise ArchiveRefused(
            "uses a compression method we cannot read; use ordinary ZIP (deflate) "
            "or gzip.",
            code="archive_method",
        ) from exc
    finally:
        fileobj.seek(0)


def _zip_members(fileobj: IO[bytes], budget: _Budget) -> Iterator[Member]:
    with zipfile.ZipFile(fileobj) as archive:
        infos = archive.infolist()
        limits = budget.limits
        if len(infos) > limits.max_entries:
            raise _too_many(limits)
        # What the headers declare, before inflating a byte; the real bytes are
        # counted too, in case they lie.
        if sum(info.file_size for info in infos) > limits.max_expanded_bytes:
            raise _too_big(limits)
        for info in infos:
            _check_name(info.filename)
            if info.flag_bits & 0x1:
                raise ArchiveRefused(
                    f"is protected by a password ({info.filename!r} is encrypted), "
                    "so we cannot check it for keys and secrets; attach it without "
                    "the password.",
                    code="archive_encrypted",
                )
            if (
                info.file_size > limits.ratio_grace_bytes
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                raise _too_dense(limits)
        for info in infos:
            budget.entry()
            if info.is_dir():
                continue
            with archive.open(info) as stream:
                yield Member(info.filename, budget.read(stream))


def _gzip_members(fileobj: IO[bytes], budget: _Budget, name: str) -> Iterator[Member]:
    gz = gzip.GzipFile(fileobj=fileobj, mode="rb")
    head = gz.peek(_TAR_MAGIC_AT + 8)[: _TAR_MAGIC_AT + 8]
    if head[_TAR_MAGIC_AT : _TAR_MAGIC_AT + 5] == b"ustar":
        yield from _tar_members(gz, budget)
        return
    budget.entry()
    inner = name[:-3] if name.lower().endswith(".gz") else name or "file"
    yield Member(inner, budget.read(gz))


class _Counted:
    """A read-only stream that spends the budget for what the tar reader pulls."""

    def __init__(self, stream: IO[bytes], budget: _Budget) -> None:
        self.stream, self.budget = stream, budget

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.budget.spend(len(data))
        return data


def _tar_members(stream: IO[bytes], budget: _Budget) -> Iterator[Member]:
    # Stream mode ("r|"): members in order, no seeking, nothing written anywhere.
    # The tar's own bytes (headers, padding) are what is counted against the
    # limits, so a member's data is not counted twice.
    with tarfile.open(fileobj=_Counted(stream, budget), mode="r|") as archive:
        for info in archive:
            budget.entry()
            _check_name(info.name)
            if info.isdir():
                continue
            if not info.isfile():
                raise ArchiveRefused(
                    f"has {info.name!r}, which is a link or a device rather than a "
                    "file; attach the files themselves.",
                    code="archive_link",
                )
            extracted = archive.extractfile(info)
            data = extracted.read() if extracted is not None else b""
            yield Member(info.name, data)
