"""The staff report pages (``/staff/...``) sit inside the agent console's frame.

They extend ``admin/base_site.html``; this context processor gives them what the
admin's own pages get from ``AdminSite.each_context``: the header with the agent's
name, "log out" and "two-factor sign-in", the navigation sidebar of the apps the
agent may open, and the site's titles. Other pages get nothing from it.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

STAFF_PREFIX = "/staff/"


def console_frame(request: HttpRequest) -> dict:
    if not request.path.startswith(STAFF_PREFIX):
        return {}
    user = getattr(request, "user", None)
    if user is None or not (user.is_active and user.is_staff):
        return {}
    return admin.site.each_context(request)
