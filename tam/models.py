"""TAM contracts: terms, monthly hour buckets, time entries, change orders, meetings.

Writes go through ``tam.services``; the rules and their messages live in
``tam.rules``. What can be an invariant of one row is also a database constraint,
whose message names the same rule.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.db.models.lookups import Exact
from django.urls import reverse
from simple_history.models import HistoricalRecords

from accounts.models import Organization, validate_time_zone
from tam import rules


class TAMProfile(models.Model):
    """Where a TAM works (which business hours count) and when they are away."""

    class Location(models.TextChoices):
        US_PACIFIC = "us-pacific", "US Pacific (America/Los_Angeles)"
        UK_LONDON = "uk-london", "UK (Europe/London)"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tam_profile"
    )
    location = models.CharField(
        max_length=12, choices=Location.choices, default=Location.US_PACIFIC
    )
    away_from = models.DateField(null=True, blank=True)
    away_until = models.DateField(
        null=True, blank=True, help_text="Last day away (inclusive)."
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "TAM profile"
        constraints = [
            models.CheckConstraint(
                condition=(Q(away_from__isnull=True) & Q(away_until__isnull=True))
                | Q(
                    away_from__isnull=False,
                    away_until__isnull=False,
                    away_until__gte=F("away_from"),
                ),
                name="tam_away_is_a_date_range",
                violation_error_message="Absence rule: give both the first and the "
                "last day away, the last on or after the first.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_location_display()})"

    def is_away(self, on: date) -> bool:
        """Return whether the TAM is away on ``on`` (both ends included)."""
        return (
            self.away_from is not None
            and self.away_until is not None
            and self.away_from <= on <= self.away_until
        )


class RoutingPreference(models.Model):
    """Whether an organisation's deployment tickets all go to its TAM or per ticket.

    Kept apart from the contract so that it survives renewals; no row means per
    ticket. Janrain sets it for the customer and it can change at any time.
    """

    class Mode(models.TextChoices):
        ALL_DEPLOYMENT = "all", "All deployment tickets go to the TAM"
        PER_TICKET = "per-ticket", "The customer chooses per ticket"

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, related_name="tam_routing"
    )
    mode = models.CharField(
        max_length=12, choices=Mode.choices, default=Mode.PER_TICKET
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "TAM routing preference"

    def __str__(self) -> str:
        return f"{self.organization}: {self.get_mode_display()}"


class TAMContractQuerySet(models.QuerySet["TAMContract"]):
    def covering(self, on: date) -> TAMContractQuerySet:
        """Contracts whose service covers the day ``on``: inside the term, not yet
        started by the sweep counts, a cancelled one only up to its cancellation."""
        return self.filter(starts_on__lte=on, ends_on__gte=on).filter(
            ~Q(status=TAMContract.Status.CANCELLED) | Q(cancelled_on__gte=on)
        )

    def current(self) -> TAMContractQuerySet:
        return self.filter(status__in=TAMContract.CURRENT_STATUSES)


class UnusedHours(models.TextChoices):
    """What happens to a term's unused hours (TAM seed: "Any unused hours may be
    rolled into the TAM contract renewal or scheduled for future use")."""

    ROLL_OVER = "roll-over", "Rolled into the renewal"
    BANK = "bank", "Banked for scheduled use in the next term"
    LAPSE = "lapse", "Lapse at the end of the term"


class TAMContract(models.Model):
    """One term of TAM service for one organisation; a renewal is a new row."""

    UnusedHours = UnusedHours

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        ACTIVE = "active", "Active"
        IN_GRACE = "in-grace", "Ended, in the 45-day grace period"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"

    class Term(models.IntegerChoices):
        SIX_MONTHS = 6, "6 months"
        TWELVE_MONTHS = 12, "12 months"

    CURRENT_STATUSES = (Status.SCHEDULED, Status.ACTIVE)
    GRACE_DAYS = 45

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="tam_contracts"
    )
    tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="tam_contracts",
        verbose_name="named TAM",
    )
    backup_tam = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="backup_tam_contracts",
        verbose_name="backup TAM",
    )
    project_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pm_tam_contracts",
        help_text="Required from 30 hours a month.",
    )
    signed_on = models.DateField()
    starts_on = models.DateField()
    ends_on = models.DateField(editable=False, help_text="Last day of the term.")
    term_months = models.PositiveSmallIntegerField(choices=Term.choices)
    hours_per_month = models.PositiveSmallIntegerField(
        help_text="At least 10, in 5-hour increments."
    )
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="The zone the monthly buckets and term dates are counted in.",
    )
    auto_renew = models.BooleanField(default=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.SCHEDULED
    )
    renews = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="renewal",
        help_text="The contract this one renews.",
    )
    rolled_over_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Unused minutes of the previous term, spread over this one.",
    )
    unused_hours = models.CharField(
        "unused hours at renewal",
        max_length=10,
        choices=UnusedHours.choices,
        default=UnusedHours.ROLL_OVER,
        help_text="What the contract says happens to hours a term leaves unused.",
    )
    banked_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Unused minutes of the previous term banked for scheduled use in "
        "this one (each use is scheduled into a month of this term).",
    )
    renewal_refusal = models.CharField(
        max_length=300,
        blank=True,
        help_text="Why the term was not renewed, when a rule refused the renewal.",
    )
    notice_received_on = models.DateField(
        "termination notice received on", null=True, blank=True
    )
    notice_from = models.CharField(
        "notice given by",
        max_length=200,
        blank=True,
        help_text="Who at the customer gave written notice.",
    )
    notice_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    notice_document = models.FileField(
        "written notice", upload_to="tam/notices/", blank=True, max_length=200
    )
    cancelled_on = models.DateField(
        null=True,
        blank=True,
        help_text="Service stopped on this day (a renewal "
        "cancelled by a notice in the grace period).",
    )
    feed_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = TAMContractQuerySet.as_manager()

    class Meta:
        ordering = ["organization__name", "-starts_on"]
        verbose_name = "TAM contract"
        constraints = [
            models.CheckConstraint(
                condition=Q(hours_per_month__gte=rules.MIN_HOURS_PER_MONTH),
                name="tam_minimum_hours",
                violation_error_message=rules.MESSAGES["minimum-hours"],
            ),
            models.CheckConstraint(
                condition=Exact(Mod("hours_per_month", rules.HOURS_INCREMENT), 0),
                name="tam_hours_in_5_hour_increments",
                violation_error_message=rules.MESSAGES["hour-increments"],
            ),
            models.CheckConstraint(
                condition=Q(term_months__in=[6, 12]),
                name="tam_term_6_or_12_months",
                violation_error_message=rules.MESSAGES["term-length"],
            ),
            models.CheckConstraint(
                condition=Q(hours_per_month__lt=rules.PM_FROM_HOURS)
                | Q(project_manager__isnull=False),
                name="tam_pm_from_30_hours",
                violation_error_message=rules.MESSAGES["project-manager"],
            ),
            models.CheckConstraint(
                # The full rule counts business days on the TAM's calendar
                # (tam.rules); the database holds the part it can check alone.
                condition=Q(starts_on__gt=F("signed_on")),
                name="tam_starts_after_signature",
                violation_error_message=rules.MESSAGES["start-notice"],
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gt=F("starts_on")),
                name="tam_term_ends_after_it_starts",
            ),
            models.CheckConstraint(
                condition=~Q(tam=F("backup_tam")),
                name="tam_backup_is_someone_else",
                violation_error_message=rules.MESSAGES["backup-tam"],
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=Q(status="active"),
                name="tam_one_active_contract_per_org",
                violation_error_message=rules.MESSAGES["one-active"],
            ),
            models.CheckConstraint(
                condition=Q(unused_hours__in=UnusedHours.values),
                name="tam_unused_hours_choice",
            ),
        ]
        indexes = [
            models.Index(
                fields=["ends_on"],
                condition=Q(status__in=["scheduled", "active", "in-grace"]),
                name="tam_contract_sweep",
            ),
            models.Index(fields=["organization", "starts_on"], name="tam_org_term"),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {rules.period(self.starts_on, self.ends_on)}"

    def get_absolute_url(self) -> str:
        return reverse("tam:contract", args=[self.pk])

    @property
    def grace_ends_on(self) -> date:
        """Return the last day a written notice can still stop this term's renewal."""
        return self.ends_on + timedelta(days=self.GRACE_DAYS)

    @property
    def service_ends_on(self) -> date:
        """Return the last day of service: the cancellation day or the term's end."""
        return self.cancelled_on or self.ends_on

    @property
    def allotted_minutes_per_month(self) -> int:
        return self.hours_per_month * 60

    @property
    def includes_onsite_workshops(self) -> bool:
        return self.hours_per_month >= rules.PM_FROM_HOURS


class HourBucket(models.Model):
    """One contract month's allowance: the monthly hours plus a rollover share."""

    contract = models.ForeignKey(
        TAMContract, on_delete=models.CASCADE, related_name="buckets"
    )
    index = models.PositiveSmallIntegerField(help_text="Month of the term, from 0.")
    starts_on = models.DateField()
    ends_on = models.DateField(help_text="Last day (inclusive).")
    allotted_minutes = models.PositiveIntegerField()
    rollover_minutes = models.PositiveIntegerField(default=0)
    banked_minutes = models.PositiveIntegerField(
        default=0,
        help_text="Banked minutes of the previous term scheduled into this month.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["contract", "starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "starts_on"], name="tam_one_bucket_per_month"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="tam_bucket_dates"
            ),
        ]
        indexes = [models.Index(fields=["starts_on"], name="tam_bucket_month")]

    def __str__(self) -> str:
        return f"{self.contract.organization} {self.starts_on:%b %Y}"

    @property
    def allowance_minutes(self) -> int:
        """Return what this month may use before work becomes best effort."""
        return self.allotted_minutes + self.rollover_minutes + self.banked_minutes


class ChangeOrder(models.Model):
    """Out-of-scope work, scoped and approved separately from the monthly hours."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        APPROVED = "approved", "Approved"
        COMPLETED = "completed", "Completed"
        REJECTED = "rejected", "Rejected"

    contract = models.ForeignKey(
        TAMContract, on_delete=models.PROTECT, related_name="change_orders"
    )
    reference = models.CharField(max_length=30, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    estimated_minutes = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PROPOSED
    )
    approved_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    @property
    def accepts_time(self) -> bool:
        return self.status in (self.Status.APPROVED, self.Status.COMPLETED)


class Activity(models.TextChoices):
    """What TAM time is spent on: SPEC §7's in-scope list, then out-of-scope work."""

    CONFIGURATION = "configuration", "Configuration of the platform"
    TICKETS = "tickets", "Triaging and resolving portal tickets"
    CONSULTATION = "consultation", "Consultation, strategy and architecture"
    TRAINING = "training", "Training"
    REPORTING = "reporting", "Reporting of monthly hours"
    MEETINGS = "meetings", "Attending project meetings"
    CHANGE_ORDERS = "change-orders", "Assisting with change orders"
    POC = "poc", "Proofs of concept"
    TIER2 = "tier2", "Tier-2 production support"
    CUSTOMER_CODE = (
        "customer-code",
        "Writing, reviewing or troubleshooting customer code",
    )
    EXTRA_RESOURCES = "extra-resources", "Deployment needing additional resources"


OUT_OF_SCOPE = (Activity.CUSTOMER_CODE, Activity.EXTRA_RESOURCES)
IN_SCOPE = tuple(a for a in Activity if a not in OUT_OF_SCOPE)


class TimeEntry(models.Model):
    """Time an agent spent for a contract's customer on one day.

    In-scope work is billable and draws down the month's bucket; the part beyond
    the allowance is ``best_effort_minutes``. Out-of-scope work is billed through its
    change order and does not draw down the bucket.
    """

    Activity = Activity

    contract = models.ForeignKey(
        TAMContract, on_delete=models.PROTECT, related_name="time_entries"
    )
    bucket = models.ForeignKey(
        HourBucket, on_delete=models.PROTECT, related_name="entries"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tam_time"
    )
    worked_on = models.DateField()
    minutes = models.PositiveIntegerField()
    activity = models.CharField(max_length=16, choices=Activity.choices)
    ticket = models.ForeignKey(
        "helpdesk.Ticket",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tam_time",
    )
    change_order = models.ForeignKey(
        ChangeOrder,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="time_entries",
    )
    note = models.TextField(blank=True)
    best_effort_minutes = models.PositiveIntegerField(
        default=0, help_text="The part beyond the month's allowance."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["worked_on", "pk"]
        verbose_name_plural = "time entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gt=0, minutes__lte=24 * 60),
                name="tam_entry_minutes_in_a_day",
                violation_error_message=rules.MESSAGES["entry-minutes"],
            ),
            models.CheckConstraint(
                condition=Q(best_effort_minutes__lte=F("minutes")),
                name="tam_entry_best_effort_within_minutes",
            ),
            models.CheckConstraint(
                condition=Q(activity__in=IN_SCOPE) | Q(change_order__isnull=False),
                name="tam_out_of_scope_needs_change_order",
                violation_error_message=rules.MESSAGES["out-of-scope"],
            ),
        ]
        indexes = [
            models.Index(fields=["bucket", "activity"], name="tam_entry_bucket"),
            models.Index(fields=["contract", "worked_on"], name="tam_entry_contract"),
        ]

    def __str__(self) -> str:
        return f"{self.minutes} min {self.get_activity_display()} on {self.worked_on}"

    @property
    def is_in_scope(self) -> bool:
        return self.activity in IN_SCOPE

    @property
    def is_billable(self) -> bool:
        """All in-scope work is billable against the contract (SPEC §7)."""
        return self.is_in_scope

    @property
    def is_best_effort(self) -> bool:
        return self.best_effort_minutes > 0


class Meeting(models.Model):
    """A kickoff, status call, planning meeting, workshop or requested meeting."""

    class Kind(models.TextChoices):
        KICKOFF = "kickoff", "Kick-off"
        WEEKLY_STATUS = "weekly-status", "Weekly status call"
        QUARTERLY_PLANNING = "quarterly", "Quarterly planning and retrospective"
        ONSITE_WORKSHOP = "workshop", "On-site workshop"
        REQUESTED = "requested", "Requested meeting"

    class Mode(models.TextChoices):
        REMOTE = "remote", "Remote"
        ONSITE = "onsite", "On site"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        CANCELLED = "cancelled", "Cancelled"

    contract = models.ForeignKey(
        TAMContract, on_delete=models.CASCADE, related_name="meetings"
    )
    kind = models.CharField(max_length=14, choices=Kind.choices)
    mode = models.CharField(max_length=6, choices=Mode.choices, default=Mode.REMOTE)
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    location = models.CharField(max_length=200, blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        help_text="On-site meetings: ISO country code, to tell domestic from "
        "international travel for the TAM.",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PLANNED
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    sequence = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gt=0), name="tam_meeting_has_a_duration"
            ),
        ]
        indexes = [
            models.Index(fields=["contract", "starts_at"], name="tam_meeting_when")
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.starts_at:%d %b %Y})"

    @property
    def ends_at(self):
        return self.starts_at + timedelta(minutes=self.duration_minutes)
