"""The agent console's admin site: Django's, named for the helpdesk, with the list
of apps built only on the pages that show it.

``AdminSite.each_context`` builds the list of every app and model the agent may open
(four permission checks and two URLs a model) for every page, the ticket page and the
ticket list included, which show no app list. Here it is built when a template first
reads it: the index, an app's index and the navigation sidebar.

Installed as ``admin.site`` by ``helpdesk.console.apps.ConsoleAdminConfig``.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.functional import SimpleLazyObject

from helpdesk.forms import ConsoleAuthenticationForm


class ConsoleSite(admin.AdminSite):
    site_header = "Helpdesk agent console"
    site_title = "Helpdesk"
    index_title = "Agent console"
    login_form = ConsoleAuthenticationForm

    def get_app_list(self, request, app_label=None):
        """The apps and models the agent may open, built when first read."""
        build = super().get_app_list
        return SimpleLazyObject(lambda: build(request, app_label))
