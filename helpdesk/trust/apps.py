from django.apps import AppConfig


class TrustConfig(AppConfig):
    name = "helpdesk.trust"
    label = "trust"
    verbose_name = "Trust site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Wiring only: status e-mails get their List-Unsubscribe headers when sent.
        from helpdesk import emails
        from helpdesk.trust.subscriptions import outbound_headers

        if outbound_headers not in emails.HEADER_HOOKS:
            emails.HEADER_HOOKS.append(outbound_headers)

        # The ticket list's "Link to incident…" action (helpdesk.trust.admin_links).
        from helpdesk.admin.tickets import TicketAdmin
        from helpdesk.trust import admin_links

        admin_links.register(TicketAdmin)
