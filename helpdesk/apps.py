from django.apps import AppConfig


def _tam_hours_used_up(sender, contract, **kwargs) -> None:
    from django.utils import timezone

    from helpdesk import clocks

    clocks.tam_hours_used_up(contract.organization, at=timezone.now())


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Helpdesk"

    def ready(self) -> None:
        # Wiring only: when a TAM month's hours run out, its tickets' clocks become
        # best effort (the rule itself lives in helpdesk.clocks).
        from tam.signals import bucket_exhausted

        bucket_exhausted.connect(_tam_hours_used_up, dispatch_uid="helpdesk.tam_hours")
        # Cache-like upkeep of the database, not a rule: SQLite loses the console's
        # full-text triggers whenever a migration rebuilds a table.
        from django.db.models.signals import post_migrate

        from helpdesk.console.sqlite_fts import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="helpdesk.sqlite_fts")
