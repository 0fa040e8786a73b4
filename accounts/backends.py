"""Django's model backend, reading a user's permissions in one query.

``ModelBackend`` reads the permissions given to the user and those of their roles
(groups) in two queries, on every page of the console (each checks what the agent
may do). Here they are one: the union of the two. Django's backend stays listed
after this one for the sessions signed in through it (settings); it finds the
permissions this one read in the cache both use.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import backends
from django.contrib.auth.models import Permission


class ModelBackend(backends.ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            if user_obj.is_superuser:
                rows = _names(Permission.objects.all())
            else:
                rows = _names(Permission.objects.filter(user=user_obj)).union(
                    _names(Permission.objects.filter(group__user=user_obj))
                )
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache

    async def aget_all_permissions(self, user_obj, obj=None):
        return await sync_to_async(self.get_all_permissions)(user_obj, obj)


def _names(permissions):
    return permissions.values_list("content_type__app_label", "codename").order_by()
