"""Inbound e-mail in the console: the mail refused (or unreadable) in the last 30
days, with the reason and whether it was answered, so an agent can see that a
customer tried to write. Read-only: only ``helpdesk.mail`` writes these rows. The
original ``.eml`` of an accepted e-mail is downloaded from here by whoever may see
attachments."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.http import FileResponse, Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.console import readable, requires
from helpdesk.mail.models import InboundMessage

SHOWN_FOR = timedelta(days=30)
REFUSED = (InboundMessage.Outcome.REFUSED, InboundMessage.Outcome.FAILED)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received", "sender", "subject", "outcome", "why", "ticket_link"]
    list_filter = ["outcome", "source"]
    list_select_related = ["ticket"]
    search_fields = ["sender", "subject", "reason"]
    readonly_fields = [
        "received",
        "source",
        "sender",
        "subject",
        "outcome",
        "reason",
        "ticket_link",
        "answered",
        "message_id",
    ]
    fields = readonly_fields

    def get_queryset(self, request):
        since = timezone.now() - SHOWN_FOR
        return (
            super()
            .get_queryset(request)
            .filter(outcome__in=REFUSED, received_at__gte=since)
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "title": "E-mails refused in the last 30 days",
        }
        return super().changelist_view(request, extra_context)

    @admin.display(description="received", ordering="received_at")
    def received(self, inbound: InboundMessage) -> str:
        return readable(inbound.received_at)

    @admin.display(description="reason")
    def why(self, inbound: InboundMessage) -> str:
        return Truncator(inbound.reason).chars(160)

    @admin.display(description="answered")
    def answered(self, inbound: InboundMessage) -> str:
        if inbound.auto_replied_at is None:
            return "no automatic answer"
        return f"answered {readable(inbound.auto_replied_at)}"

    @admin.display(description="ticket")
    def ticket_link(self, inbound: InboundMessage) -> str:
        if inbound.ticket_id is None:
            return "—"
        url = reverse("admin:helpdesk_ticket_change", args=[inbound.ticket_id])
        return format_html('<a href="{}">{}</a>', url, inbound.ticket.reference)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/original/",
                self.admin_site.admin_view(self.original_view),
                name="helpdesk_inboundmessage_original",
            ),
            *super().get_urls(),
        ]

    @requires("helpdesk.view_attachment")
    def original_view(self, request, pk: int) -> FileResponse:
        """The accepted e-mail as it arrived, as a download (never rendered)."""
        inbound = InboundMessage.objects.filter(pk=pk).first()
        if inbound is None or not inbound.original:
            raise Http404("No original is kept for this e-mail.")
        return FileResponse(
            inbound.original.open("rb"),
            as_attachment=True,
            filename=f"{inbound.ticket.reference if inbound.ticket_id else 'email'}"
            f"-{inbound.pk}.eml",
            content_type="message/rfc822",
        )
