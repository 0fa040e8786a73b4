from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate


def _grant_role_permissions(sender, **kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    from accounts.roles import grant_role_permissions

    grant_role_permissions(Group, Permission)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and people"

    def ready(self) -> None:
        # Wiring only: permission rows appear app by app after `migrate`, so the roles
        # are topped up after each app's (a few cheap queries each time).
        post_migrate.connect(_grant_role_permissions, dispatch_uid="accounts.roles")
        # The session time-out's clocks start at log-in (accounts.sessions).
        from accounts.sessions import record_login

        user_logged_in.connect(record_login, dispatch_uid="accounts.sessions")
