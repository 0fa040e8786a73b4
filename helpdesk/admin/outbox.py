"""The e-mail outbox in the console: what was sent, what waits, what is stuck or
failed and why, and "Retry now" for whoever may change outbox e-mails (Support
Managers). A row itself stays read-only: only ``helpdesk.emails`` writes it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.text import Truncator

from accounts.console import readable
from helpdesk import emails
from helpdesk.models import OutboundEmail


class OutboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        now = timezone.now()
        stuck = OutboundEmail.objects.stuck(before=now - emails.STUCK_AFTER).count()
        failed = OutboundEmail.objects.failed().count()
        minutes = int(emails.STUCK_AFTER.total_seconds() // 60)
        return [
            ("waiting", "Waiting"),
            ("stuck", f"Stuck: waiting over {minutes} min ({stuck})"),
            ("failed", f"Failed ({failed})"),
            ("sent", "Sent"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "waiting":
                return queryset.waiting()
            case "stuck":
                return queryset.stuck(before=timezone.now() - emails.STUCK_AFTER)
            case "failed":
                return queryset.failed()
            case "sent":
                return queryset.filter(sent_at__isnull=False)
        return queryset


@admin.register(OutboundEmail)
class OutboundEmailAdmin(admin.ModelAdmin):
    list_display = ["subject", "to", "queued", "state", "attempts", "error"]
    list_filter = [OutboxStateFilter]
    search_fields = ["to", "subject", "key"]
    readonly_fields = [f.name for f in OutboundEmail._meta.fields]
    actions = ["retry_now"]

    @admin.display(description="queued", ordering="created_at")
    def queued(self, email: OutboundEmail) -> str:
        return readable(email.created_at)

    @admin.display(description="state")
    def state(self, email: OutboundEmail) -> str:
        """Sent, failed, held, being sent, retrying or waiting, with its instant."""
        now = timezone.now()
        if email.sent_at:
            return f"sent {readable(email.sent_at)}"
        if email.failed_at:
            return f"failed {readable(email.failed_at)}"
        stuck = (email.send_after or email.created_at) < now - emails.STUCK_AFTER
        if email.claimed_by and email.next_attempt_at > now:
            text = f"being sent since {readable(email.claimed_at)}"
        elif email.next_attempt_at > now:
            verb = "retrying" if email.attempts else "held until"
            text = f"{verb} {readable(email.next_attempt_at)}"
        else:
            text = "waiting"
        return f"stuck, {text}" if stuck else text

    @admin.display(description="last error")
    def error(self, email: OutboundEmail) -> str:
        return Truncator(email.last_error).chars(120)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset) -> None:
        selected = queryset.count()
        count = emails.retry_now(queryset)
        self.message_user(
            request,
            f"{count} e-mail{'s' if count != 1 else ''} will be sent again now."
            if count
            else "Nothing to retry: the selected e-mails are sent or being sent.",
            messages.SUCCESS if count else messages.WARNING,
        )
        if 0 < count < selected:
            self.message_user(
                request,
                f"{selected - count} already sent or being sent: left alone.",
                messages.INFO,
            )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission allows "Retry now" on the list; a row's own page
        # stays read-only for everyone.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False
