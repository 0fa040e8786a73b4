"""The ticket page's form fields: the admin's fieldsets as one string each.

The admin draws each fieldset through ``admin/includes/fieldset.html``, a dozen
``{% if %}`` and lookups per field; on the ticket page that cost more than drawing
the widgets themselves. Here the same markup is built in Python from the same
objects (``django.contrib.admin.helpers``): the widgets, labels, errors and
read-only values are still the admin's and the form's own, only the frame around
them is built here, with every name and class escaped as the template escapes them
(``conditional_escape``: text already marked safe is kept). A test compares it with
the admin's template, with errors and read-only fields.
"""

from __future__ import annotations

from django.contrib.admin.helpers import AdminForm, Fieldline
from django.utils.html import conditional_escape as escape
from django.utils.safestring import SafeString, mark_safe


def _get(field, key: str):
    """``field.field.<key>`` as the template reads it: a bound field's attribute,
    a read-only field's dict entry, or nothing."""
    shown = field.field
    if isinstance(shown, dict):
        return shown.get(key)
    return getattr(shown, key, None)


def _field(field, single: bool) -> str:
    name = _get(field, "name")
    errors = "" if field.is_readonly else str(field.errors())
    classes = "flex-container"
    if not single:
        classes += " fieldBox"
        if name:
            classes += f" field-{escape(name)}"
        if not field.is_readonly and errors:
            classes += " errors"
        if _get(field, "is_hidden"):
            classes += " hidden"
    if field.is_checkbox:
        classes += " checkbox-row"
        body = f"{field.field}{field.label_tag()}"
    elif field.is_readonly:
        body = f'{field.label_tag()}<div class="readonly">{field.contents()}</div>'
    else:
        body = f"{field.label_tag()}{field.field}"
    parts = ["<div>"]
    if not single and not field.is_readonly:
        parts.append(errors)
    parts.append(f'<div class="{classes}">{body}</div>')
    if help_text := _get(field, "help_text"):
        hidden = " hidden" if _get(field, "is_hidden") else ""
        label_id = _get(field, "id_for_label")
        attr = f' id="{escape(label_id)}_helptext"' if label_id else ""
        parts.append(f'<div class="help{hidden}"{attr}><div>{help_text}</div></div>')
    parts.append("</div>")
    return "".join(parts)


def _line(line: Fieldline) -> str:
    single = len(line.fields) == 1
    fields = list(line)
    errors = str(line.errors())
    classes = "form-row"
    if single and errors:
        classes += " errors"
    if not line.has_visible_field:
        classes += " hidden"
    for field in fields:
        if name := _get(field, "name"):
            classes += f" field-{escape(name)}"
    inner = "".join(_field(field, single) for field in fields)
    if single:
        return f'<div class="{classes}">{errors}{inner}</div>'
    return (
        f'<div class="{classes}"><div class="flex-container form-multiline">'
        f"{inner}</div></div>"
    )


def render(adminform: AdminForm) -> SafeString:
    """Every fieldset of ``adminform``, as ``admin/change_form.html`` includes
    ``admin/includes/fieldset.html`` (headings at level 2, ids
    ``fieldset-0-<n>-heading``)."""
    drawn = []
    for n, fieldset in enumerate(adminform):
        heading_id = f"fieldset-0-{n}-heading"
        labelled = f' aria-labelledby="{heading_id}"' if fieldset.name else ""
        parts = [
            f'<fieldset class="module aligned {escape(fieldset.classes)}"{labelled}>'
        ]
        collapsible = bool(fieldset.name) and fieldset.is_collapsible
        if fieldset.name:
            if collapsible:
                parts.append("<details><summary>")
            parts.append(
                f'<h2 id="{heading_id}" class="fieldset-heading">'
                f"{escape(fieldset.name)}</h2>"
            )
            if collapsible:
                parts.append("</summary>")
        if fieldset.description:
            parts.append(f'<div class="description">{fieldset.description}</div>')
        parts.extend(_line(line) for line in fieldset)
        if collapsible:
            parts.append("</details>")
        parts.append("</fieldset>")
        drawn.append("".join(parts))
    return mark_safe("\n".join(drawn))
