"""Post an admin change form the way a browser does: every field as rendered."""

from __future__ import annotations


def _value(bound_field):
    value = bound_field.value()
    if value is None or value is False:
        return None
    if value is True:
        return "on"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def _fields(form, data: dict) -> None:
    for name in form.fields:
        value = _value(form[name])
        if value is not None:
            data[form.add_prefix(name)] = value


def change_form_data(response, **changes) -> dict:
    """The data the rendered change form would post, with ``changes`` applied."""
    context = response.context
    data: dict = {}
    _fields(context["adminform"].form, data)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        _fields(formset.management_form, data)
        for form in formset.forms:
            _fields(form, data)
    data.update(changes)
    return data
