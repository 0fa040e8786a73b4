"""The ticket core: tickets, their conversation and attachments, and the e-mail outbox.

Writes go through ``helpdesk.services``; status rules live in ``helpdesk.lifecycle``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.models import Organization
from helpdesk.console.urgency import next_due
from helpdesk.indexes import BrinOnPostgreSQL
from helpdesk.mail.models import InboundMessage  # noqa: F401 (its own module)
from policies.models import Severity, SupportPlan


class TicketQuerySet(models.QuerySet["Ticket"]):
    def visible_to_customer(self, user) -> TicketQuerySet:
        """Tickets of the organisations ``user`` is a named administrator of."""
        return self.filter(organization__administrators__user=user)

    def open(self) -> TicketQuerySet:
        return self.exclude(status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])


class Ticket(models.Model):
    """One support request: one problem, from one organisation."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        WAITING_ON_CUSTOMER = "waiting", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    class Environment(models.TextChoices):
        PRODUCTION = "production", "Production (a live site taking public traffic)"
        DEPLOYMENT = "deployment", "Deployment (implementation, non-production)"

    reference = models.CharField(max_length=16, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="tickets"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="requested_tickets",
        help_text="The Support Administrator the ticket is for.",
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who filed it: the requester, or an agent on their behalf.",
    )
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="+")
    severity = models.ForeignKey(
        Severity,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Empty on plans without severities.",
    )
    summary = models.CharField(max_length=200)
    description = models.TextField()
    environment = models.CharField(max_length=12, choices=Environment.choices)
    component = models.CharField("product / component", max_length=120, blank=True)
    app_ids = models.TextField("affected App IDs", blank=True)
    client_ids = models.TextField("affected Client IDs", blank=True)
    urls = models.TextField("URLs", blank=True)
    steps_to_reproduce = models.TextField(blank=True)
    customer_contact = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who at the customer is available while we resolve a Sev1/Sev2, "
        "and how to reach them.",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_tickets",
        limit_choices_to={"is_staff": True},
    )
    is_tam_routed = models.BooleanField("routed to the TAM", default=False)
    is_escalated = models.BooleanField(default=False)
    # Issue 15 section 3 (helpdesk.routing, policies.catalogue,
    # helpdesk.continuous_effort).
    team = models.ForeignKey(
        "accounts.Team",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
        help_text="Routed by environment: production or deployment support, or "
        "the TAM.",
    )
    product = models.ForeignKey(
        "policies.CatalogueEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="From the plan's catalogue; its severity cap applies.",
    )
    continuous_effort_since_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Since when the ticket is worked 24x7 (a Sev1); empty when not.",
    )
    managers_paged_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the managers were paged about this Sev1 ticket being "
        "unassigned or unanswered.",
    )
    workaround_provided_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Ends the continuous effort; the resolution clock runs on.",
    )
    workaround_provided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The filing's instant, the one the SLO counts from (services.open_ticket sets
    # it before the insert); now, for tickets made otherwise.
    created_at = models.DateTimeField(
        default=timezone.now, editable=False, db_index=True
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["first_response_due_at"],
                condition=Q(first_responded_at__isnull=True),
                name="tkt_response_due",
            ),
            models.Index(
                fields=["resolution_due_at"],
                condition=Q(resolved_at__isnull=True),
                name="tkt_resolution_due",
            ),
            models.Index(fields=["organization", "status"], name="tkt_org_status"),
            # The console's list (helpdesk.console.urgency): the urgency order, the
            # overdue and due-within-the-hour ranges and the sort by due instant
            # walk the first; the views of open tickets (mine, unassigned, waiting,
            # escalated) walk the partial ones, in the same order.
            models.Index(next_due(), F("id").desc(), name="tkt_urgency"),
            models.Index(
                F("assignee"),
                next_due(),
                F("id").desc(),
                condition=Q(resolved_at__isnull=True),
                name="tkt_open_assignee",
            ),
            models.Index(
                F("status"),
                next_due(),
                F("id").desc(),
                condition=Q(resolved_at__isnull=True),
                name="tkt_open_status",
            ),
            # "Unassigned": a B-tree orders by its later columns only after an
            # equality on the first, and IS NULL is none; so a partial index of
            # its own, walked in urgency order.
            models.Index(
                next_due(),
                F("id").desc(),
                condition=Q(resolved_at__isnull=True, assignee__isnull=True),
                name="tkt_open_unassigned",
            ),
            models.Index(
                next_due(),
                F("id").desc(),
                condition=Q(is_escalated=True),
                name="tkt_escalated",
            ),
            models.Index(
                F("team"),
                next_due(),
                F("id").desc(),
                condition=Q(resolved_at__isnull=True),
                name="tkt_open_team",
            ),
            # helpdesk.continuous_effort: Sev1 tickets by the instant the continuous
            # effort began (the managers' page, the attainment report's table).
            models.Index(
                fields=["continuous_effort_since_at"],
                condition=Q(continuous_effort_since_at__isnull=False),
                name="tkt_continuous_effort",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.summary}"

    def get_absolute_url(self) -> str:
        return reverse("portal:ticket", args=[self.reference])

    @property
    def is_reopenable(self) -> bool:
        return self.status == self.Status.RESOLVED


class TicketSequence(models.Model):
    """The counter behind ticket references: one row, locked while a ticket is
    created, so references have no gaps (a rolled-back ticket rolls it back too)."""

    name = models.CharField(max_length=20, primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_number}"


class Message(models.Model):
    """A public reply (the customer sees it) or an internal note (agents only)."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public reply"
        INTERNAL = "internal", "Internal note"
        # A change the customer sees in the conversation (severity, escalation);
        # never a response, never mailed as a reply.
        EVENT = "event", "Ticket event"

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    is_from_email = models.BooleanField(
        "received by e-mail",
        default=False,
        help_text="Written as an e-mail to the support address (helpdesk.mail).",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="msg_ticket")]

    def __str__(self) -> str:
        return (
            f"{self.get_visibility_display()} on {self.ticket_id} by {self.author_id}"
        )

    @property
    def is_public(self) -> bool:
        return self.visibility != self.Visibility.INTERNAL


def attachment_path(instance: Attachment, filename: str) -> str:
    # Never the customer's file name: a generated one, grouped by ticket.
    return f"attachments/{instance.ticket_id}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    """A file on a ticket, stored under a generated name, served only to people
    who may see the ticket."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="attachments"
    )
    message = models.ForeignKey(
        Message,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attachments",
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("portal:attachment", args=[self.ticket.reference, self.pk])

    @property
    def is_public(self) -> bool:
        return self.message_id is None or self.message.is_public


class OutboundEmailQuerySet(models.QuerySet["OutboundEmail"]):
    def waiting(self) -> OutboundEmailQuerySet:
        """Neither sent nor failed for good: a worker will try it (again)."""
        return self.filter(sent_at__isnull=True, failed_at__isnull=True)

    def due(self, now: datetime) -> OutboundEmailQuerySet:
        """Waiting e-mails a worker may claim at ``now`` (the ``outbox_due`` index)."""
        return self.waiting().filter(next_attempt_at__lte=now)

    def stuck(self, before: datetime) -> OutboundEmailQuerySet:
        """Waiting e-mails that were due to go out before ``before`` (queued then,
        or held until then) and still have not."""
        return self.waiting().filter(
            Q(send_after__isnull=True) | Q(send_after__lt=before),
            created_at__lt=before,
        )

    def failed(self) -> OutboundEmailQuerySet:
        return self.filter(failed_at__isnull=False)


class OutboundEmail(models.Model):
    """An e-mail to send, written in the transaction that causes it.

    ``key`` makes each e-mail unique (``ticket-created:42:ada@acme.example``), so a
    retried service writes no second row; ``sent_at`` makes delivery idempotent: a
    redelivered task finds it set and sends nothing. ``helpdesk.emails`` is the only
    writer after the row is queued: a worker claims due rows until
    ``next_attempt_at`` (its claim ends there), then marks each sent, retried later
    (``next_attempt_at`` after a back-off, ``last_error``) or failed for good
    (``failed_at``, ``last_error``). ``message_id`` is the same on every attempt, so
    a rare second delivery is recognisable as the same message.
    """

    key = models.CharField(max_length=200, unique=True)
    to = models.EmailField()
    subject = models.CharField(max_length=250)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="emails"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Held until then (business-time SLO alerts wait for opening hours).",
    )
    next_attempt_at = models.DateTimeField(
        default=timezone.now,
        help_text="A worker may try it from then on: when it is queued or held "
        "until, after a failure the back-off, while a worker holds it the end of "
        "that worker's claim.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(
        max_length=100, blank=True, help_text="The claim of the worker sending it."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Refused for good (the recipient's server answered 5xx), or "
        "still failing when the retries ran out; the reason is the last error.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    message_id = models.CharField(
        max_length=250, blank=True, help_text="The Message-ID header of every attempt."
    )

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "outbound e-mail"
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(sent_at__isnull=True),
                name="outbox_unsent",
            ),
            # What workers claim: the waiting rows by the instant they fall due.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(sent_at__isnull=True, failed_at__isnull=True),
                name="outbox_due",
            ),
            models.Index(
                fields=["failed_at"],
                condition=Q(failed_at__isnull=False),
                name="outbox_failed",
            ),
            # Inbound replies find their ticket by the Message-ID they answer.
            models.Index(fields=["message_id"], name="outbox_message_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(failed_at__isnull=True),
                name="outbox_sent_or_failed",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to}"


class SLOClock(models.Model):
    """One SLO clock of one ticket: first response, or resolution.

    The due instant is derived, never edited: ``started_at`` plus ``target`` of open
    time on ``calendar`` (absolute time when there is none), skipping the pauses.
    ``helpdesk.clocks`` is the only writer (``helpdesk.alerts`` records warnings and
    breaches, and sets ``breached_at``); every transition appends an SLOEvent, so
    the clock can be rebuilt from its events (``assignee`` is a copy of the ticket's,
    not part of the clock's timing, and moves without one).
    """

    class Metric(models.TextChoices):
        FIRST_RESPONSE = "first_response", "First response"
        RESOLUTION = "resolution", "Resolution"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        MET = "met", "Stopped"
        BEST_EFFORT = "best_effort", "Best effort"

    # No separate index: the (ticket, metric) unique constraint serves ticket lookups,
    # and every index costs the sweep on each clock it updates.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="clocks", db_index=False
    )
    metric = models.CharField(max_length=16, choices=Metric.choices)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.RUNNING
    )
    started_at = models.DateTimeField()
    calendar = models.ForeignKey(
        "policies.BusinessCalendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # only a calendar's deletion looks clocks up by it
        help_text="Empty: elapsed wall-clock time.",
    )
    target = models.DurationField(help_text="Open time on the calendar.")
    target_label = models.CharField(max_length=80)
    # A copy of ticket.assignee, kept by helpdesk.clocks (at filing and on every
    # assignment), so the sweep finds who to warn without reading 10,000 ticket rows
    # (the join cost 100-165 ms of a 10,000-clock sweep; bench/slo_sweep.py).
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        db_index=False,  # only a user's deletion looks clocks up by it
    )
    policy_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The SLO target's history id it started under."
    )
    due_at = models.DateTimeField(null=True, blank=True)
    due_version = models.PositiveIntegerField(default=1)
    # When 75% and 90% of the target will have been counted (due_at is 100%), set
    # with due_at whenever the clock is recomputed; None once a pause that has not
    # ended comes first. The sweep finds its alerts by range on these three (the
    # partial indexes below) and never writes the clock, except breached_at.
    warning_75_at = models.DateTimeField(null=True, blank=True, editable=False)
    warning_90_at = models.DateTimeField(null=True, blank=True, editable=False)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    is_reclassification_breach = models.BooleanField(
        default=False,
        help_text="Breached because a severity change moved the due instant into the "
        "past: kept apart in attainment reports.",
    )

    class Meta:
        ordering = ["ticket", "metric"]
        verbose_name = "SLO clock"
        # A Support Manager report (SPEC §1): /staff/slo/attainment/.
        permissions = [("view_slo_attainment", "Can view the SLO attainment report")]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket", "metric"], name="one_clock_per_ticket_metric"
            )
        ]
        indexes = [
            *(
                models.Index(
                    fields=[field],
                    condition=Q(status="running", **{f"{field}__isnull": False}),
                    name=f"clock_running_{name}",
                )
                for field, name in (
                    ("warning_75_at", "75"),
                    ("warning_90_at", "90"),
                    ("due_at", "due"),
                )
            ),
            BrinOnPostgreSQL(fields=["started_at"], name="clock_started"),
            # The attainment report's "still open" column: the clocks without an
            # outcome yet (the backlog), by start. The sweep writes only
            # breached_at, in neither column nor condition, so it stays HOT.
            models.Index(
                fields=["started_at"],
                condition=Q(status__in=["running", "paused"]),
                name="clock_unfinished_started",
            ),
            # The console's "Paused" and "Best effort" filters: tickets with such a
            # clock. Both states are rare, so the index is small and the filter
            # reads it instead of every clock.
            models.Index(
                fields=["ticket", "status"],
                condition=Q(status__in=["paused", "best_effort"]),
                name="clock_paused_best_effort",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket.reference} {self.get_metric_display()}"

    @property
    def is_breached(self) -> bool:
        return self.breached_at is not None

    @property
    def outcome(self) -> str:
        """Return "met", "breached", "best effort" or "open" for reports."""
        if self.status == self.Status.BEST_EFFORT:
            return "best effort"
        if self.breached_at is not None or (
            self.met_at and self.due_at and self.met_at > self.due_at
        ):
            return "breached"
        return "met" if self.status == self.Status.MET else "open"


class SLOAttainmentMonth(models.Model):
    """The SLO outcomes of the clocks started in one month (UTC) on one plan, severity
    and metric: the attainment report's roll-up.

    Kept by ``helpdesk.attainment`` in the transaction that decides each outcome (a
    clock met, a breach recorded, best effort, a reopen, a severity change that moves
    a ticket's clocks), as increments; ``manage.py rebuild_slo_attainment`` rebuilds
    it from the clocks. A clock counts once in ``total`` once it has an outcome (met,
    breached or best effort); a breached best-effort clock is in both columns, as the
    report always counted it. The clocks still without one are counted live.
    """

    month = models.DateField(help_text="The first day of the month the clocks started.")
    plan = models.ForeignKey(SupportPlan, on_delete=models.PROTECT, related_name="+")
    severity = models.ForeignKey(
        Severity, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    metric = models.CharField(max_length=16, choices=SLOClock.Metric.choices)
    met = models.IntegerField(default=0)
    breached = models.IntegerField(default=0)
    reclassified = models.IntegerField(default=0)
    best_effort = models.IntegerField(default=0)
    total = models.IntegerField(default=0)

    class Meta:
        verbose_name = "SLO attainment month"
        constraints = [
            # One row per bucket, a ticket without severity included (NULLs are
            # distinct in a plain unique index): the target of the roll-up's
            # INSERT ... ON CONFLICT.
            models.UniqueConstraint(
                F("month"),
                F("plan"),
                Coalesce(F("severity"), Value(0)),
                F("metric"),
                name="one_attainment_row_per_bucket",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.plan_id}/{self.severity_id} {self.metric}"


class SLOSweep(models.Model):
    """How far the sweep has recorded warnings and breaches: one row.

    A sweep (``helpdesk.alerts``) records the thresholds of running clocks that fell
    in (``swept_until``, now] and moves ``swept_until`` to now, in the same
    transaction. A transition (``helpdesk.clocks``) records the thresholds it puts at
    or before ``swept_until``, and those a clock reached before it stops. So every
    threshold is recorded by one of them, and the unique constraint on alert events
    is the last word.

    The row's lock keeps the two apart: a clock transition holds it shared for its
    transaction, before it locks a clock; a sweep chunk holds it exclusively (and
    does not wait for it, so nothing queues behind a sweep that waits).
    """

    swept_until = models.DateTimeField()
    swept_at = models.DateTimeField(
        null=True, blank=True, help_text="When a sweep last moved swept_until."
    )

    class Meta:
        verbose_name = "SLO sweep"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="one_slo_sweep_row"),
        ]

    def __str__(self) -> str:
        return f"swept until {self.swept_until:%Y-%m-%d %H:%M:%S}"


class SLOPause(models.Model):
    """A stretch of time that does not count (waiting on customer; resolved until
    reopened). ``ended_at`` is empty while the pause lasts."""

    clock = models.ForeignKey(SLOClock, on_delete=models.CASCADE, related_name="pauses")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=40)

    class Meta:
        ordering = ["clock", "started_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True)
                | Q(ended_at__gte=models.F("started_at")),
                name="pause_ends_after_it_starts",
            ),
            models.UniqueConstraint(
                fields=["clock"],
                condition=Q(ended_at__isnull=True),
                name="one_open_pause_per_clock",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.started_at:%Y-%m-%d %H:%M}"


class SLOEventQuerySet(models.QuerySet):
    def alerts(self) -> SLOEventQuerySet:
        """Warnings and breaches: the events that carry a threshold."""
        return self.filter(threshold__isnull=False)


class SLOEvent(models.Model):
    """The append-only log of a clock: what happened, when, and the due instant before
    and after.

    A warning (75, 90) or breach (100) is an event with a threshold, recorded once
    per (clock, threshold, due version) whatever the number of sweeps or workers: a
    unique constraint. Other events have no threshold, and NULLs never collide, so
    the same index serves a clock's whole log.
    """

    class Kind(models.TextChoices):
        START = "start", "Started"
        PAUSE = "pause", "Paused"
        RESUME = "resume", "Resumed"
        TARGET_CHANGE = "target_change", "Target changed"
        MET = "met", "Met"
        REOPEN = "reopen", "Reopened"
        WARNING = "warning", "Warning"
        BREACH = "breach", "Breached"
        BEST_EFFORT = "best_effort", "Best effort"

    # The (clock, threshold, due_version) unique constraint serves clock lookups.
    # No database foreign key: a sweep writes 10,000 events in one go, and checking
    # each against its clock at commit took a seventh of it (bench/slo_sweep.py).
    # The writers, helpdesk.clocks and helpdesk.alerts, hold the clock's row lock or
    # the sweep's (SLOSweep) when they append, and deleting a clock deletes its events
    # (Django's CASCADE), so an event never points at nothing.
    clock = models.ForeignKey(
        SLOClock,
        on_delete=models.CASCADE,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField(help_text="When it happened.")
    due_before = models.DateTimeField(null=True, blank=True)
    due_after = models.DateTimeField(null=True, blank=True)
    due_version = models.PositiveIntegerField()
    threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    target = models.DurationField(null=True, blank=True)
    target_label = models.CharField(max_length=80, blank=True)
    calendar_id_used = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # written by every alert, looked up only if a user goes
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = SLOEventQuerySet.as_manager()

    class Meta:
        ordering = ["clock", "at", "pk"]
        verbose_name = "SLO event"
        constraints = [
            models.UniqueConstraint(
                fields=["clock", "threshold", "due_version"],
                name="one_alert_per_version",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["warning", "breach"], threshold__isnull=False)
                | (~Q(kind__in=["warning", "breach"]) & Q(threshold__isnull=True)),
                name="alerts_and_only_alerts_have_a_threshold",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("SLO events are append-only")
        super().save(*args, **kwargs)


class SeverityChange(models.Model):
    """A request to change a ticket's severity, and what became of it."""

    class Direction(models.TextChoices):
        UPGRADE = "upgrade", "Upgrade"
        DOWNGRADE = "downgrade", "Downgrade"

    class State(models.TextChoices):
        APPLIED = "applied", "Applied"
        AWAITING_CUSTOMER = "awaiting", "Awaiting the customer's agreement"
        REJECTED = "rejected", "Declined"

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="severity_changes"
    )
    from_severity = models.ForeignKey(
        Severity, on_delete=models.PROTECT, related_name="+"
    )
    to_severity = models.ForeignKey(
        Severity, on_delete=models.PROTECT, related_name="+"
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    state = models.CharField(max_length=10, choices=State.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(state="awaiting"),
                name="one_pending_severity_change",
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket.reference}: {self.from_severity} → {self.to_severity}"


class Escalation(models.Model):
    """A customer's request to escalate, and the three checks before it may end."""

    ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, related_name="escalations"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    requested_at = models.DateTimeField(auto_now_add=True)
    engineer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="escalations_evaluated",
        limit_choices_to={"groups__name": "Escalation Engineer"},
    )
    action_plan_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    action_plan_confirmed_at = models.DateTimeField(null=True, blank=True)
    action_plan_note = models.TextField(blank=True)
    process_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    process_verified_at = models.DateTimeField(null=True, blank=True)
    process_note = models.TextField(blank=True)
    parties_agree_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    parties_agree_at = models.DateTimeField(null=True, blank=True)
    parties_note = models.TextField(blank=True)
    de_escalated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    de_escalated_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["ticket"],
                condition=Q(de_escalated_at__isnull=True),
                name="one_open_escalation",
            )
        ]

    def __str__(self) -> str:
        return f"Escalation of {self.ticket.reference}"

    @property
    def is_open(self) -> bool:
        return self.de_escalated_at is None


class Macro(models.Model):
    """A canned reply: a text with ``{placeholders}`` filled from the ticket by plain
    substitution (``helpdesk.macros``), and optionally the status to set when it is
    sent. Shared (no owner, every agent uses it) or personal (its owner's only)."""

    class ThenStatus(models.TextChoices):
        # Values of Ticket.Status: the statuses the composer's "send and set" offers.
        WAITING_ON_CUSTOMER = "waiting", "Waiting on customer"
        RESOLVED = "resolved", "Resolved"

    name = models.CharField(max_length=120)
    body = models.TextField(
        help_text="Placeholders such as {requester_first_name}, {reference} and "
        "{first_response_due_at} are filled in from the ticket."
    )
    then_status = models.CharField(
        "then set status",
        max_length=10,
        choices=ThenStatus.choices,
        blank=True,
        help_text="Empty: sending it leaves the status as it is.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="macros",
        help_text="Empty: shared with every agent.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "canned reply"
        verbose_name_plural = "canned replies"
        ordering = ["name", "pk"]
        permissions = [("share_macro", "Can add and change shared canned replies")]
        constraints = [
            models.UniqueConstraint(
                fields=["name"],
                condition=Q(owner__isnull=True),
                name="macro_shared_name_unique",
                violation_error_message="A shared canned reply has this name.",
            ),
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(owner__isnull=False),
                name="macro_personal_name_unique",
                violation_error_message="You have a canned reply with this name.",
            ),
            models.CheckConstraint(
                condition=Q(then_status__in=["", "waiting", "resolved"]),
                name="macro_then_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None
