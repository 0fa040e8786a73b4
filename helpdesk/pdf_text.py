"""Read the text of a PDF attachment, within limits, so the secrets guard can scan it.

Pure: bytes in, page texts out; no ORM, no settings. pypdf reads untrusted input, so
every failure it can raise becomes one of two exceptions, never a crash:
PdfLockedError (a password is needed to read the text) and PdfUnreadableError (not a
PDF that pypdf can open). pypdf's own limits cap what one stream may inflate to.
"""

from __future__ import annotations

import io
import logging

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError

__all__ = [
    "MAX_CHARS",
    "MAX_PAGES",
    "PdfLockedError",
    "PdfTextError",
    "PdfUnreadableError",
    "extract_pages",
]

MAX_PAGES = 20
"""Pages read from the start of a document; later pages are not read."""
MAX_CHARS = 500_000
"""Characters of text read in all; 20 dense pages hold about 100,000, so this stops
only pathological pages (pypdf inflates a stream to 75 MB). The rest is not read."""

logger = logging.getLogger(__name__)


class PdfTextError(Exception):
    """The text of a PDF cannot be read."""


class PdfLockedError(PdfTextError):
    """The PDF is encrypted with a password we do not have."""


class PdfUnreadableError(PdfTextError):
    """pypdf cannot open the file as a PDF."""


def extract_pages(
    data: bytes, *, max_pages: int = MAX_PAGES, max_chars: int = MAX_CHARS
) -> list[str]:
    """Return the text of the first `max_pages` pages, `max_chars` characters at most.

    A PDF encrypted with only an owner password (printing or copying restricted)
    opens with the empty password and is read. A page whose text cannot be
    extracted reads as "" and is logged; the other pages are still read.
    """
    reader = _open(data)
    pages: list[str] = []
    budget = max_chars
    for number in range(min(_page_count(reader), max_pages)):
        if budget <= 0:
            break
        text = _page_text(reader, number)[:budget]
        pages.append(text)
        budget -= len(text)
    return pages


def _open(data: bytes) -> PdfReader:
    # A parser of untrusted bytes fails in many ways (PdfReadError, but also
    # KeyError, ValueError, RecursionError...): any of them means "unreadable".
    try:
        reader = PdfReader(io.BytesIO(data))
        is_locked = (
            reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
        )
    except DependencyError as exc:  # AES without the `cryptography` package
        raise PdfLockedError("this PDF's encryption cannot be opened here") from exc
    except Exception as exc:
        raise PdfUnreadableError(str(exc)) from exc
    if is_locked:
        raise PdfLockedError("a password is needed to read this PDF")
    return reader


def _page_count(reader: PdfReader) -> int:
    try:
        return len(reader.pages)
    except Exception as exc:  # a broken page tree: see _open
        raise PdfUnreadableError(str(exc)) from exc


def _page_text(reader: PdfReader, number: int) -> str:
    try:
        return reader.pages[number].extract_text() or ""
    except Exception:  # one broken page: see _open
        logger.warning("Could not extract the text of PDF page %d", number + 1)
        return ""
