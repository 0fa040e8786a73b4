"""The ticket list's rows: each cell as the agent reads it, and each row as one
string of HTML.

The admin's own renderer (``items_for_result``) looks every column up again for
each row, formats each cell through ``format_html`` and renders each cell as a
template variable: at 50 rows it took longer than the database. Here each row is
built once, with ``html.escape`` on every value that comes from the database, and
the list template prints one string per row (``templatetags/console_list.py``).
The admin's columns (``TicketAdmin.summary_cell`` …) call the same cell functions,
so a cell reads the same wherever it is shown.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from helpdesk import clock_display
from helpdesk.models import SLOClock, Ticket

EMPTY = "—"

# Which clock the list shows: a running one (earliest due first), else a breach,
# a pause, a met target, best effort.
_SHOWN_FIRST = {"breached": 1, "paused": 2, "met": 3, "best effort": 4}
_STATUS_LABELS = {status.value: status.label for status in Ticket.Status}
_METRIC_LABELS = {metric.value: metric.label for metric in SLOClock.Metric}


def instant(at: datetime | None) -> str:
    """An instant in the current zone with the zone named, as ``instant_text``
    (``helpdesk.templatetags.instants``) shows every instant of the product:
    "28 Nov 2026, 06:10 PST". Built here without Django's localised date format,
    which cost 64 µs an instant against 9 µs: the list shows three a row. The
    console is in English (``LANGUAGE_CODE``); a test keeps the two the same."""
    if at is None:
        return EMPTY
    local = timezone.localtime(at) if timezone.is_aware(at) else at
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname() or ''}".rstrip()


def _cut(text: str) -> str:
    """A text cut to its column's width, whole on hover."""
    text = escape(text)
    return f'<span class="hd-cut" title="{text}">{text}</span>'


def summary(ticket: Ticket) -> str:
    return _cut(ticket.summary)


def organisation(ticket: Ticket) -> str:
    return _cut(ticket.organization.name)


def severity(ticket: Ticket) -> str:
    if not ticket.severity_id:
        return EMPTY
    name, level = escape(ticket.severity.name), ticket.severity.level
    return f'<span title="{name}">{level}</span>'


def status(ticket: Ticket) -> str:
    label = _STATUS_LABELS[ticket.status]
    short = "Waiting" if ticket.status == Ticket.Status.WAITING_ON_CUSTOMER else label
    flag = ' <span class="hd-flag" title="Escalated">esc</span>'
    return f'<span title="{label}">{short}</span>{flag if ticket.is_escalated else ""}'


def assignee(ticket: Ticket) -> str:
    return EMPTY if ticket.assignee is None else _cut(str(ticket.assignee))


def _clock_priority(clock: SLOClock, view: clock_display.ClockView) -> tuple:
    if clock.status == SLOClock.Status.RUNNING and clock.due_at is not None:
        return (0, clock.due_at.timestamp())
    return (_SHOWN_FIRST.get(view.state, 5), 0)


def slo(ticket: Ticket, now: datetime) -> str:
    """The clock that matters most (the earliest running due instant, else a
    breach, a pause, a met target); both clocks in the tooltip."""
    shown = [(clock, clock_display.view(clock, now)) for clock in ticket.clocks.all()]
    if not shown:
        return EMPTY
    _, view = min(shown, key=lambda pair: _clock_priority(*pair))
    tooltip = "\n".join(
        f"{_METRIC_LABELS[c.metric]}: {v.text}, due {instant(c.due_at)}"
        for c, v in shown
    )
    # The column is narrow: "1d 0h left bh", business hours spelled out on hover
    # and in the tooltip ("1d 0h business time left").
    marker = ' <abbr title="business hours">bh</abbr>' if view.is_business_time else ""
    return (
        f'<span title="{escape(tooltip)}" style="color:{view.colour};'
        f'font-weight:600">{escape(view.short)}{marker}</span>'
    )


def opened(ticket: Ticket, this_year: int) -> str:
    """The filing day ("3 Nov", with the year when it is not this year), the whole
    instant on hover."""
    local = timezone.localtime(ticket.created_at)
    day = f"{local.day} {local:%b}"
    if local.year != this_year:
        day += f" {local.year}"
    return f'<span title="{escape(instant(local))}">{day}</span>'


def checkbox(ticket: Ticket) -> str:
    return (
        f'<input type="checkbox" name="{ACTION_CHECKBOX_NAME}" value="{ticket.pk}" '
        'class="action-select" aria-label="Select this object for an action - '
        f'{escape(str(ticket))}">'
    )


class _Page:
    """What every row of one page shares: the instant, the year, the link."""

    def __init__(self, cl):
        self.now = timezone.now()
        self.this_year = timezone.localtime(self.now).year
        # One link with the id swapped per row: reverse() and the list's filters
        # (kept for "back to the list") once per page.
        marker = "2147483647"
        link = add_preserved_filters(
            {"preserved_filters": cl.preserved_filters, "opts": cl.opts},
            reverse(
                "admin:helpdesk_ticket_change",  # as ChangeList.url_for_result
                args=[marker],
                current_app=cl.model_admin.admin_site.name,
            ),
        )
        self.before, self.after = (escape(part) for part in link.split(marker, 1))


# Each column of TicketAdmin.list_display (and the admin's checkbox) as its cell.
CELLS = {
    "action_checkbox": lambda t, page: (
        f'<td class="action-checkbox">{checkbox(t)}</td>'
    ),
    "reference": lambda t, page: (
        f'<th class="field-reference"><a href="{page.before}{t.pk}{page.after}">'
        f"{escape(t.reference)}</a></th>"
    ),
    "summary_cell": lambda t, page: f'<td class="field-summary_cell">{summary(t)}</td>',
    "organization_cell": lambda t, page: (
        f'<td class="field-organization_cell">{organisation(t)}</td>'
    ),
    "severity_cell": lambda t, page: (
        f'<td class="field-severity_cell">{severity(t)}</td>'
    ),
    "status_cell": lambda t, page: f'<td class="field-status_cell">{status(t)}</td>',
    "assignee_cell": lambda t, page: (
        f'<td class="field-assignee_cell">{assignee(t)}</td>'
    ),
    "slo_cell": lambda t, page: f'<td class="field-slo_cell">{slo(t, page.now)}</td>',
    "created_cell": lambda t, page: (
        f'<td class="field-created_cell">{opened(t, page.this_year)}</td>'
    ),
}


def render(cl) -> list[SafeString] | None:
    """Return each row of the list ``cl`` as one string of HTML, the same markup
    as the admin's: the checkbox (when the agent has actions), the reference
    linking to the ticket, then the columns. None when the list is one this does
    not know (a popup, editable rows, a column without a cell here): the admin
    renders those."""
    columns = list(cl.list_display)
    if (
        cl.is_popup
        or cl.formset is not None
        or not set(columns) <= CELLS.keys()
        or list(cl.list_display_links or ()) != ["reference"]
    ):
        return None
    page = _Page(cl)
    cells = [CELLS[name] for name in columns]
    return [
        mark_safe(f"<tr>{''.join(cell(ticket, page) for cell in cells)}</tr>")
        for ticket in cl.result_list
    ]
