"""The admin's autocomplete fields, safe with any submitted value.

When a form with an autocomplete field is invalid, Django's ``AutocompleteSelect``
shows it again by looking up the submitted value as it is: ``user=abc`` raises
ValueError ("Field 'id' expected a number") and a 40-digit id OverflowError on
SQLite, a 500 either way, where the form should just say "Select a valid choice".
``KeyCheckedAutocomplete`` first drops the values that cannot be a key of the target
(not a valid value of its field, or outside the database's range for it); the
field's own validation still refuses them with its usual error.

``AutocompleteKeysChecked`` gives every ``autocomplete_fields`` entry of a model
admin or an inline this widget (``HistoryAdmin`` has it; an inline that is no
``HistoryAdmin`` lists it first among its bases).
"""

from __future__ import annotations

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import connections


class KeyCheckedMixin:
    """``optgroups`` of an autocomplete widget, given only values that can be keys."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if self.is_key(v)], attr)

    def is_key(self, value) -> bool:
        """Whether ``value`` can be looked up in the target's key field."""
        remote = self.field.remote_field
        opts = remote.model._meta
        field = opts.get_field(getattr(remote, "field_name", None) or opts.pk.name)
        try:
            key = field.to_python(value)
        except (ValidationError, TypeError, ValueError):
            return False
        if not isinstance(key, int):
            return True
        ops = connections[self.db or "default"].ops
        try:
            low, high = ops.integer_field_range(field.get_internal_type())
        except KeyError:  # not an integer column Django knows a range for
            return True
        return low <= key <= high


class KeyCheckedAutocomplete(KeyCheckedMixin, AutocompleteSelect):
    pass


class KeyCheckedAutocompleteMultiple(KeyCheckedMixin, AutocompleteSelectMultiple):
    pass


class AutocompleteKeysChecked:
    """A ModelAdmin or inline mixin: its autocomplete fields use the widgets above
    (unless a ``formfield_for_*`` of its own chose a widget)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(
            request
        ):
            kwargs["widget"] = KeyCheckedAutocomplete(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(
            request
        ):
            kwargs["widget"] = KeyCheckedAutocompleteMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
