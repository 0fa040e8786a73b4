"""The ticket page's timeline (``helpdesk.timeline``) as HTML, one string per
entry.

A conversation of 50 messages through the template language cost more than
reading it: every ``{{ }}`` is a variable lookup, a filter chain and an escape,
and every ``{% url %}`` a reverse(). Here each entry is built once, with
``html.escape`` on every value that comes from the database, and the two links
are reversed once per page. The markup is the one the template had; the page
prints it with ``{% timeline_entries timeline %}`` (``templatetags/console_page``).
"""

from __future__ import annotations

from html import escape

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from helpdesk.console.rows import instant
from helpdesk.timeline import Entry

_MARKER = "2147483647"


class _Link:
    """A URL with one id, reversed once and the id swapped per use."""

    def __init__(self, name: str):
        self.before, self.after = (
            escape(part) for part in reverse(name, args=[_MARKER]).split(_MARKER, 1)
        )

    def to(self, pk: int) -> str:
        return f"{self.before}{int(pk)}{self.after}"


def _text(body: str) -> str:
    """As ``|linebreaksbr`` shows it: escaped, each line break a <br>."""
    return escape(body).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _entry(entry: Entry, files: _Link | None, emails: _Link | None) -> str:
    role = ""
    if entry.role:
        role = f' <span class="entry-role">({escape(entry.role)})</span>'
    parts = [
        f'<li class="{escape(entry.css)}">'
        '<div class="entry-head">'
        f'<span class="entry-label">{escape(entry.label)}</span> '
        f"<strong>{escape(entry.who)}</strong>{role} "
        f'<time datetime="{entry.at.isoformat()}">{escape(instant(entry.at))}</time>'
        "</div>"
        f'<div class="entry-body">{_text(entry.body)}</div>'
    ]
    if entry.attachments:
        parts.append('<ul class="entry-files">')
        for item in entry.attachments:
            name = escape(item.original_name)
            shown = f'<a href="{files.to(item.pk)}">{name}</a>' if files else name
            size = escape(str(filesizeformat(item.size)))
            parts.append(f'<li>{shown} <span class="entry-role">({size})</span></li>')
        parts.append("</ul>")
    if entry.original_email_id and emails:
        link = emails.to(entry.original_email_id)
        parts.append(
            f'<ul class="entry-files"><li><a href="{link}">'
            "The e-mail as received (.eml)</a></li></ul>"
        )
    parts.append("</li>")
    return "".join(parts)


def render(entries: list[Entry], *, may_download: bool) -> SafeString:
    """The timeline's entries as the list items of ``<ol class="timeline">``.

    ``may_download``: the agent may open attachments and received e-mails (the
    ``helpdesk.view_attachment`` permission); without it the files are named, not
    linked."""
    if not entries:
        return mark_safe('<li class="entry">No messages yet.</li>')
    links = may_download and any(e.attachments or e.original_email_id for e in entries)
    files = _Link("admin:helpdesk_attachment_download") if links else None
    emails = _Link("admin:helpdesk_inboundmessage_original") if links else None
    return mark_safe("\n".join(_entry(entry, files, emails) for entry in entries))
