"""``django.contrib.admin`` with the console's site (``helpdesk.console.site``) as
``admin.site``: INSTALLED_APPS names this instead of ``django.contrib.admin``."""

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    default_site = "helpdesk.console.site.ConsoleSite"
