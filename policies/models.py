"""Support policies as data: calendars, plans, severities, SLO targets and caps.

Every table keeps its history (django-simple-history): a policy edit never rewrites
what a ticket was promised. The arithmetic lives in ``business_time`` and ``slo``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from simple_history.models import HistoricalRecords

from accounts.models import validate_time_zone
from policies.business_time import Schedule
from policies.calendars import cached_schedule, default_years

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]

# BusinessCalendar.schedule(): pk -> (definition key, Schedule), for this process.
_schedules: dict[int, tuple[tuple, Schedule]] = {}
_SCHEDULE_CACHE_SIZE = 1024

_hh_mm = RegexValidator(r"^([01]\d|2[0-3]):[0-5]\d$", "Use HH:MM, e.g. 07:00.")
_hh_mm_or_24 = RegexValidator(
    r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", "Use HH:MM, e.g. 19:00, or 24:00."
)


class BusinessCalendar(models.Model):
    """When the clock runs: always, Monday to Friday, or weekly hours minus holidays."""

    class Kind(models.TextChoices):
        ALWAYS = "24x7", "24x7 (always open)"
        WEEKDAYS = "24x5", "24x5 (Mon 00:00 - Fri 24:00)"
        HOURS = "hours", "Weekly opening hours"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HOURS)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    holiday_country = models.CharField(
        max_length=8,
        blank=True,
        help_text="Also close on this country's public holidays (ISO code, e.g. US).",
    )
    holiday_subdivision = models.CharField(
        max_length=8, blank=True, help_text="Optional region, e.g. CA for California."
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.holiday_country:
            from policies.calendars import country_holidays

            try:
                country_holidays(self.holiday_country, self.holiday_subdivision, [2026])
            except ValueError as exc:
                raise ValidationError({"holiday_country": str(exc)}) from None

    def schedule(self, years: range | None = None) -> Schedule:
        """Return the engine's view of this calendar, built once per version.

        Country holidays are taken for ``years`` (default: five years around today);
        explicit holidays always count. The schedule is cached in this process by
        the calendar's pk and version (``updated_at``, which every change to the
        calendar, its opening hours or its holidays moves: see
        ``_calendar_definition_changed``), so a calendar row loaded with the query a
        request makes anyway (``select_related``) costs no query; a new version
        reads ``hours`` and ``holidays`` once.
        """
        if self.kind == self.Kind.ALWAYS:
            return Schedule.always()
        if years is None:
            years = default_years()
        key = self._schedule_key(self.updated_at, years)
        cached = _schedules.get(self.pk) if self.pk is not None else None
        if cached is not None and cached[0] == key:
            return cached[1]
        # Filed under the version read before the rows (which are as new or newer),
        # not the instance's: an instance loaded before an edit in this transaction
        # would file the edited rows under the old version, and a rollback would
        # leave them there.
        version = (
            BusinessCalendar.objects.filter(pk=self.pk)
            .values_list("updated_at", flat=True)
            .first()
            if self.pk is not None
            else None
        )
        weekly: dict[int, list[tuple[str, str]]] = {}
        if self.kind == self.Kind.WEEKDAYS:
            weekly = {day: [("00:00", "24:00")] for day in range(5)}
        else:
            for hours in self.hours.all():
                weekly.setdefault(hours.weekday, []).append((hours.opens, hours.closes))
        explicit = tuple(sorted(h.date for h in self.holidays.all()))
        schedule = cached_schedule(
            self.time_zone,
            tuple((day, tuple(sorted(spans))) for day, spans in sorted(weekly.items())),
            explicit,
            self.holiday_country,
            self.holiday_subdivision,
            years,
        )
        if version is not None:
            if len(_schedules) >= _SCHEDULE_CACHE_SIZE:
                _schedules.clear()
            _schedules[self.pk] = (self._schedule_key(version, years), schedule)
        return schedule

    def _schedule_key(self, version, years: range) -> tuple:
        return (
            version,
            self.kind,
            self.time_zone,
            self.holiday_country,
            self.holiday_subdivision,
            years,
        )


class OpeningHours(models.Model):
    """One open interval of one weekday: 07:00-19:00; overnight shifts use two rows."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.CharField(max_length=5, validators=[_hh_mm])
    closes = models.CharField(max_length=5, validators=[_hh_mm_or_24])

    history = HistoricalRecords()

    class Meta:
        ordering = ["calendar", "weekday", "opens"]
        verbose_name_plural = "opening hours"
        constraints = [
            # HH:MM strings compare like the times they spell.
            models.CheckConstraint(
                condition=Q(closes__gt=F("opens")), name="hours_close_after_open"
            ),
            models.CheckConstraint(
                condition=Q(weekday__lte=6), name="hours_weekday_0_to_6"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens}-{self.closes}"


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=120, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"], name="one_holiday_per_calendar_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class SupportPlan(models.Model):
    """What a customer bought: hours, channels, features and the severity rules."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    source = models.CharField(
        max_length=200, blank=True, help_text="The policy document this plan encodes."
    )
    prioritisation_rank = models.PositiveSmallIntegerField(
        default=0, help_text="Ticket prioritisation: higher is served first (0 = none)."
    )
    business_calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The plan's support hours. Empty: no business hours (every ticket "
        "gets the business-hours target).",
    )
    staffed_calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="When someone is on shift to read SLO alerts (issue 15): alerts of "
        "severities that do not page at once wait for it to open. Empty: alerts "
        "follow the clocks' own calendars.",
    )
    has_web = models.BooleanField("web portal", default=True)
    has_email = models.BooleanField("e-mail", default=True)
    has_chat = models.BooleanField("chat", default=False)
    has_phone = models.BooleanField("phone", default=False)
    includes_tam = models.BooleanField("technical account manager", default=False)
    includes_pair_programming = models.BooleanField(
        "pair programming and architecture reviews", default=False
    )
    includes_quarterly_reviews = models.BooleanField("quarterly reviews", default=False)
    includes_roadmap_insight = models.BooleanField(
        "product roadmap insight", default=False
    )
    default_severity = models.ForeignKey(
        "Severity",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Given to a ticket filed without a severity (the lowest).",
    )
    upgrade_needs_justification = models.BooleanField(
        default=False,
        help_text="An upgrade must show the increased impact in writing.",
    )
    downgrade_notifies_customer = models.BooleanField(default=True)
    downgrade_needs_customer_agreement = models.BooleanField(
        default=False, help_text="A downgrade applies only once the customer agrees."
    )
    upgrade_needs_customer_agreement = models.BooleanField(
        default=False,
        help_text="An upgrade an agent makes applies only once the customer agrees "
        "(Jelastic: changes after assessment need the customer's agreement).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-prioritisation_rank", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if (
            self.default_severity_id
            and self.pk
            and self.default_severity.plan_id != self.pk
        ):
            raise ValidationError(
                {"default_severity": "Choose one of this plan's own severities."}
            )

    @property
    def channels(self) -> list[str]:
        names = [("web", self.has_web), ("e-mail", self.has_email)]
        names += [("chat", self.has_chat), ("phone", self.has_phone)]
        return [name for name, present in names if present]

    @property
    def features(self) -> list[str]:
        flags = [
            "includes_tam",
            "includes_pair_programming",
            "includes_quarterly_reviews",
            "includes_roadmap_insight",
        ]
        return [
            str(self._meta.get_field(flag).verbose_name)
            for flag in flags
            if getattr(self, flag)
        ]


class Severity(models.Model):
    """One severity level of one plan: 1 is the most severe."""

    plan = models.ForeignKey(
        SupportPlan, on_delete=models.CASCADE, related_name="severities"
    )
    level = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    characteristics = models.TextField(
        blank=True, help_text="One characteristic per line; the ticket form lists them."
    )
    pages_at_once = models.BooleanField(
        default=True,
        help_text="Its SLO warnings and breaches are e-mailed at once, day or night. "
        "Off: held until the plan's staffed hours open.",
    )
    requires_customer_contact = models.BooleanField(
        default=False,
        help_text="The customer must name a person available during resolution.",
    )
    is_continuous_effort = models.BooleanField(
        "continuous effort",
        default=False,
        help_text="Worked 24x7 until a workaround, a resolution or a downgrade "
        "(Janrain Sev1): always assigned, and on-call agents are paged.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "level"]
        verbose_name_plural = "severities"
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "level"], name="one_severity_per_plan_level"
            ),
            models.CheckConstraint(
                condition=Q(level__gte=1), name="severity_level_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def characteristic_list(self) -> list[str]:
        return [
            line.strip() for line in self.characteristics.splitlines() if line.strip()
        ]


def _duration_parts(minutes: int | None, business_days: int | None) -> str:
    if business_days:
        return f"{business_days} business day{'s' if business_days != 1 else ''}"
    if minutes is None:
        return "-"
    if minutes % 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h"


class SLOTarget(models.Model):
    """Initial-response and goal-resolution targets of a plan, for one severity or all.

    Each target is either minutes of open time or whole business days, counted on its
    own calendar. ``off_hours_response_minutes`` is wall-clock time, used instead when
    the ticket opens while the plan's business hours are closed.
    """

    plan = models.ForeignKey(
        SupportPlan, on_delete=models.CASCADE, related_name="targets"
    )
    severity = models.ForeignKey(
        Severity,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="targets",
        help_text="Empty: the target for every severity of the plan.",
    )
    response_minutes = models.PositiveIntegerField(null=True, blank=True)
    response_business_days = models.PositiveSmallIntegerField(null=True, blank=True)
    response_calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="+"
    )
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_business_days = models.PositiveSmallIntegerField(null=True, blank=True)
    resolution_calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    off_hours_response_minutes = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Wall-clock minutes for a ticket opened outside business hours.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "severity__level"]
        verbose_name = "SLO target"
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "severity"], name="one_target_per_plan_severity"
            ),
            models.UniqueConstraint(
                fields=["plan"],
                condition=Q(severity__isnull=True),
                name="one_plan_wide_target",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        response_minutes__isnull=False,
                        response_business_days__isnull=True,
                    )
                    | Q(
                        response_minutes__isnull=True,
                        response_business_days__isnull=False,
                    )
                ),
                name="response_in_minutes_xor_business_days",
            ),
            models.CheckConstraint(
                condition=Q(resolution_minutes__isnull=True)
                | Q(resolution_business_days__isnull=True),
                name="resolution_in_minutes_xor_business_days",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        resolution_minutes__isnull=True,
                        resolution_business_days__isnull=True,
                    )
                    | Q(resolution_calendar__isnull=False)
                ),
                name="resolution_has_a_calendar",
            ),
        ]

    def __str__(self) -> str:
        scope = self.severity.name if self.severity_id else "all severities"
        return f"{self.plan}: {scope}"

    def clean(self) -> None:
        super().clean()
        errors = {}
        if (self.response_minutes is None) == (self.response_business_days is None):
            errors["response_minutes"] = (
                "Give the response target in minutes or in business days (one of them)."
            )
        if self.resolution_minutes is not None and self.resolution_business_days:
            errors["resolution_minutes"] = (
                "Give the resolution target in minutes or in business days, not both."
            )
        has_resolution = (
            self.resolution_minutes is not None or self.resolution_business_days
        )
        if has_resolution and not self.resolution_calendar_id:
            errors["resolution_calendar"] = "A resolution target needs its calendar."
        if self.severity_id and self.plan_id and self.severity.plan_id != self.plan_id:
            errors["severity"] = "Choose one of this plan's own severities."
        if errors:
            raise ValidationError(errors)

    @property
    def response_label(self) -> str:
        return _duration_parts(self.response_minutes, self.response_business_days)

    @property
    def resolution_label(self) -> str:
        return _duration_parts(self.resolution_minutes, self.resolution_business_days)

    @property
    def off_hours_label(self) -> str:
        return _duration_parts(self.off_hours_response_minutes, None)


class CatalogueEntry(models.Model):
    """A product or component of a plan's catalogue, with the other names people
    type for it: tickets choose one from a list, and caps apply to it, so ".NET
    Core" or "MSSQL" cannot be typed around a cap (``policies.catalogue``)."""

    plan = models.ForeignKey(
        SupportPlan, on_delete=models.CASCADE, related_name="catalogue"
    )
    name = models.CharField(max_length=120)
    aliases = models.TextField(
        blank=True, help_text="Other names for it, one per line (e.g. MSSQL)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "name"]
        verbose_name = "catalogue entry"
        verbose_name_plural = "catalogue entries"
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "name"], name="one_catalogue_entry_per_plan_name"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def alias_list(self) -> list[str]:
        return [line.strip() for line in self.aliases.splitlines() if line.strip()]

    @property
    def names(self) -> list[str]:
        """The name and every alias."""
        return [self.name, *self.alias_list]


class SeverityCap(models.Model):
    """A product or component whose tickets may be at most ``max_level`` severe."""

    plan = models.ForeignKey(SupportPlan, on_delete=models.CASCADE, related_name="caps")
    component = models.CharField(max_length=120)
    entry = models.ForeignKey(
        CatalogueEntry,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="caps",
        help_text="The catalogue entry capped: its name and every alias.",
    )
    max_level = models.PositiveSmallIntegerField(
        help_text="The most severe level allowed, e.g. 2 means Level 1 is refused."
    )
    reason = models.CharField(max_length=240, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "component"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "component"], name="one_cap_per_plan_component"
            )
        ]

    def __str__(self) -> str:
        return f"{self.component}: at most level {self.max_level}"

    def clean(self) -> None:
        super().clean()
        if self.entry_id and self.plan_id and self.entry.plan_id != self.plan_id:
            raise ValidationError(
                {"entry": "Choose an entry of this plan's catalogue."}
            )

    def refuses(self, level: int) -> bool:
        """Return whether ``level`` is more severe than this cap allows."""
        return level < self.max_level


class PlanRevision(models.Model):
    """A dated change to a plan, drafted without touching the live plan
    (``policies.revisions``): ``content`` is the plan as it will be, ``changes``
    the plain-word diff announced to customers when it was scheduled."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        APPLIED = "applied", "Live"
        CANCELLED = "cancelled", "Cancelled"

    plan = models.ForeignKey(
        SupportPlan, on_delete=models.CASCADE, related_name="revisions"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    content = models.JSONField(editable=False)
    note = models.TextField(
        blank=True, help_text="Why the plan changes; shown to customers with it."
    )
    is_marked_material = models.BooleanField(
        "material (marked by hand)",
        default=False,
        help_text="Treat as material even if the diff alone is not: it then needs "
        "the full notice period.",
    )
    is_material = models.BooleanField(default=False, editable=False)
    changes = models.JSONField(default=list, editable=False)
    effective_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    scheduled_at = models.DateTimeField(null=True, blank=True, editable=False)
    scheduled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
    )
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "-created_at"]
        verbose_name = "plan revision"
        indexes = [
            # The beat task's query: scheduled revisions by effective instant.
            models.Index(
                fields=["effective_at"],
                condition=Q(status="scheduled"),
                name="revision_scheduled_due",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["draft", "cancelled"])
                | Q(effective_at__isnull=False),
                name="revision_scheduled_has_effective_at",
            )
        ]

    def __str__(self) -> str:
        when = f" from {self.effective_at:%Y-%m-%d}" if self.effective_at else ""
        return f"{self.plan}: revision {self.pk or 'new'}{when}"


# Cache invalidation only (STYLE.md: signals for caches, never rules). A change to a
# calendar's hours or holidays moves the calendar's updated_at, the version its
# cached schedule is filed under, in the same transaction: every process sees the
# new version with the calendar row it loads next. This process also drops its
# entry at once, for instances of the calendar loaded before the change.


@receiver([post_save, post_delete], sender=OpeningHours)
@receiver([post_save, post_delete], sender=Holiday)
def _calendar_definition_changed(sender, instance, **kwargs) -> None:
    now = timezone.now()
    BusinessCalendar.objects.filter(pk=instance.calendar_id).update(updated_at=now)
    if sender.calendar.is_cached(instance) and instance.calendar is not None:
        instance.calendar.updated_at = now
    _schedules.pop(instance.calendar_id, None)


@receiver([post_save, post_delete], sender=BusinessCalendar)
def _calendar_changed(sender, instance, **kwargs) -> None:
    _schedules.pop(instance.pk, None)
