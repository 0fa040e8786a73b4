"""What the agent console lets each agent do: one base class for every admin of a
history-tracked model, and one guard for every custom admin view.

django-simple-history's history form ("revert") saves on POST after checking only the
*view* permission, and its save is a raw row write that bypasses the services. Here a
historical record is shown read-only, and reverting is refused unless the user may
change the row *and* the model has no service-owned fields (rows whose writes go
through a service with rules and side effects: tickets, escalations, contracts, plans).

Every custom admin URL declares the permission it needs with :func:`requires`; the
registry test (``tests/accounts/test_console_permissions.py``) walks every admin and
fails for a custom URL that declares none.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from functools import wraps
from typing import Any

from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper

from accounts.autocomplete import AutocompleteKeysChecked

ALL_FIELDS = "__all__"


def requires(perm: str, *, model: type[models.Model] | None = None) -> Callable:
    """Refuse a custom admin view (403) unless the user holds ``perm``.

    ``model`` names the model whose primary key the URL carries, when it is not the
    admin's own (the registry test uses it to request a real row).
    """

    def decorate(view):
        @wraps(view)
        def guarded(model_admin, request, *args, **kwargs):
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(model_admin, request, *args, **kwargs)

        guarded.required_permission = perm
        guarded.url_model = model
        return guarded

    return decorate


class ReadableHistory(HistoricalRecordContextHelper):
    """History for people: choice labels, yes/no, "—" for empty, and instants in the
    current zone with the zone named (not ``None → 2026-11-28 06:10:29.084679+00:00``).
    Bookkeeping fields (``updated_at``) are left out."""

    HIDDEN = frozenset({"updated_at"})

    def context_for_delta_changes(self, delta) -> list[dict[str, Any]]:
        shown = [c for c in delta.changes if c.field not in self.HIDDEN]
        return super().context_for_delta_changes(replace(delta, changes=shown))

    def prepare_delta_change_value(self, change, value):
        value = super().prepare_delta_change_value(change, value)
        field = self.model._meta.get_field(change.field)
        return readable(value, getattr(field, "flatchoices", None))


def readable(value: Any, choices=None) -> str:
    """One field value as an agent reads it."""
    if value is None or value == "" or getattr(value, "pk", 0) is None:
        return "—"  # a null foreign key arrives as simple-history's DeletedObject
    if choices:
        return str(dict(choices).get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        local = timezone.localtime(value) if timezone.is_aware(value) else value
        return f"{date_format(local, 'j M Y, H:i')} {local.tzname() or ''}".strip()
    if isinstance(value, date):
        return date_format(value, "j M Y")
    return str(value)


class HistoryAdmin(AutocompleteKeysChecked, SimpleHistoryAdmin):
    """The admin of a history-tracked model: its history can be read by whoever may
    view the row, and reverted only as a plain edit.

    ``service_owned_fields`` lists the fields written only through a service; any
    (or ``"__all__"``, the default, so a new admin is safe until it says otherwise)
    makes the history form read-only for everyone, superusers included.
    """

    service_owned_fields: tuple[str, ...] | str = ALL_FIELDS
    object_history_list_template = "admin/console/history_list.html"

    def get_historical_record_context_helper(self, request, historical_record):
        return ReadableHistory(self.model, historical_record)

    def may_revert(self, request, obj=None) -> bool:
        return not self.service_owned_fields and self.has_change_permission(
            request, obj
        )

    def revert_disabled(self, request, obj=None) -> bool:
        return not self.may_revert(request, obj)

    def _not_an_id(self, request, object_id, version_id=None):
        """A redirect to the admin index ("... doesn't exist") when ``object_id`` or
        ``version_id`` cannot be an id at all, which django-simple-history would
        pass to the database as it is (a ValueError: a 500)."""
        try:
            self.model._meta.pk.to_python(object_id)
            if version_id is not None:
                self.model.history.model._meta.pk.to_python(version_id)
        except ValidationError:
            return self._get_obj_does_not_exist_redirect(
                request, self.model._meta, object_id
            )
        return None

    def history_view(self, request, object_id, extra_context=None):
        return self._not_an_id(request, object_id) or super().history_view(
            request, object_id, extra_context
        )

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        refused = self._not_an_id(request, object_id, version_id)
        if refused is not None:
            return refused
        if request.method == "POST":
            obj = self.get_object(request, object_id)
            if obj is None or not self.may_revert(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def render_history_view(self, request, template, context, **kwargs):
        """Show the historical record read-only when it may not be reverted."""
        original = context.get("original")
        if "adminform" in context and not self.may_revert(request, original):
            shown = context["adminform"]
            fields = flatten_fieldsets(shown.fieldsets)
            context["adminform"] = type(shown)(
                shown.form,
                list(shown.fieldsets),
                {},
                readonly_fields=fields,
                model_admin=self,
            )
            context.update(
                change_history=False,
                revert_disabled=True,
                has_change_permission=False,
                has_delete_permission=False,
                has_add_permission=False,
            )
        return super().render_history_view(request, template, context, **kwargs)
