"""What became of each e-mail that reached the support address (importable from
``helpdesk.models``).

One row per message, written in the transaction that acts on it: the unique
constraints on the Message-ID and on the SHA-256 of the bytes make a second
delivery of the same message fail its insert, so it is processed exactly once
however many doors or workers see it. A refused message keeps only who wrote, the
subject and why (never its text); an accepted one keeps the original ``.eml`` for
agents.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


def original_path(instance: InboundMessage, filename: str) -> str:
    return f"inbound/{instance.received_at:%Y/%m}/{uuid.uuid4().hex}.eml"


class InboundMessage(models.Model):
    class Outcome(models.TextChoices):
        CREATED = "created", "Created a ticket"
        REPLIED = "replied", "Added a reply"
        ESCALATED = "escalated", "Escalated a ticket"
        REFUSED = "refused", "Refused"
        IGNORED = "ignored", "Ignored (automatic mail)"
        FAILED = "failed", "Failed (malformed or oversized)"

    class Source(models.TextChoices):
        IMAP = "imap", "IMAP"
        MAILDIR = "maildir", "Maildir"
        PIPE = "pipe", "MTA pipe (receive_mail)"

    message_id = models.CharField(
        "Message-ID", max_length=250, blank=True, help_text="Empty when it had none."
    )
    content_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    source = models.CharField(max_length=8, choices=Source.choices)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=250, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.TextField(blank=True, help_text="Why it was refused or ignored.")
    ticket = models.ForeignKey(
        "helpdesk.Ticket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbound_messages",
    )
    ticket_message = models.OneToOneField(
        "helpdesk.Message",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="inbound",
    )
    original = models.FileField(
        upload_to=original_path,
        max_length=200,
        blank=True,
        help_text="The e-mail as received (accepted mail only), for agents.",
    )
    auto_replied_at = models.DateTimeField(
        null=True, blank=True, help_text="When the refusal was answered."
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        verbose_name = "inbound e-mail"
        constraints = [
            models.UniqueConstraint(
                fields=["message_id"],
                condition=~Q(message_id=""),
                name="inbound_once_per_message_id",
            ),
            models.UniqueConstraint(
                fields=["content_sha256"], name="inbound_once_per_content"
            ),
        ]
        indexes = [
            models.Index(
                fields=["outcome", "received_at"], name="inbound_outcome_received"
            ),
            models.Index(
                fields=["sender", "auto_replied_at"],
                condition=Q(auto_replied_at__isnull=False),
                name="inbound_auto_replies",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.subject or '(no subject)'}"
