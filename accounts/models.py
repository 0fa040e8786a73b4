"""People and customers: users (log in by e-mail), organisations, their licences and
named Support Administrators. Agent roles are Django groups (see ``accounts.roles``)."""

from __future__ import annotations

import zoneinfo
from datetime import date

from django.conf import settings
from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.models import HistoricalRecords


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, email: str) -> User:
        # Log-in is case-insensitive: Alice@Example.com and alice@example.com are one.
        return self.get(email__iexact=email)

    def _create_user(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(
        self, email: str, password: str | None = None, **extra
    ) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"{value!r} is not an IANA time zone (e.g. Europe/London)."
        )


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who logs in: agents (``is_staff``) and customers' administrators."""

    email = models.EmailField("e-mail address", unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(
        "agent", default=False, help_text="May log in to the agent console."
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Agents: the console shows every time in this zone. Empty: "
        "HELPDESK_AGENT_TIME_ZONE.",
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name.split() or [self.email])[0]

    @property
    def zone(self) -> str:
        """The zone this agent reads times in: their own, else the console's."""
        return self.time_zone or settings.HELPDESK_AGENT_TIME_ZONE


class OrganizationQuerySet(models.QuerySet["Organization"]):
    def licensed_on(self, day: date) -> OrganizationQuerySet:
        """Organisations whose licence is active on ``day``."""
        return self.filter(licence_active_until__gte=day)


class Organization(models.Model):
    """A customer: its licence decides whether its administrators may file tickets."""

    class LicenceType(models.TextChoices):
        SAAS = "saas", "SaaS subscription"
        ENTERPRISE = "enterprise", "Enterprise agreement"
        TRIAL = "trial", "Trial"
        PARTNER = "partner", "Partner / hosting provider"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    licence_type = models.CharField(
        max_length=20, choices=LicenceType.choices, default=LicenceType.SAAS
    )
    support_plan = models.ForeignKey(
        "policies.SupportPlan",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="organizations",
    )
    licence_active_until = models.DateField(
        help_text="Last day of the licence (inclusive); support needs an active one."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = OrganizationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def has_active_licence(self, on: date) -> bool:
        """Return whether the licence covers the day ``on`` (the end date included)."""
        return self.licence_active_until >= on


class SupportAdministrator(models.Model):
    """A customer's named liaison: the only people who may file Support Requests."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="administered"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="administrators"
    )
    job_title = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "organization"], name="one_admin_role_per_org"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.organization})"


class Team(models.Model):
    """A group of agents that new tickets are routed to (Janrain: "route the ticket
    to the appropriate team"): production support, deployment support, the TAM.

    ``helpdesk.routing`` picks the team of a new ticket by its environment (or the
    TAM when the ticket is TAM-routed) and notifies its members at once.
    """

    class Kind(models.TextChoices):
        PRODUCTION = "production", "Production support"
        DEPLOYMENT = "deployment", "Deployment support"
        TAM = "tam", "Technical account management"

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=12, choices=Kind.choices, unique=True)
    members = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", blank=True
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """An agent in a team; on-call members are paged for unassigned or unanswered
    continuous-effort (Sev1) tickets, day or night."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        User,
        on_delete=models.CASCADE,
        related_name="team_memberships",
        limit_choices_to={"is_staff": True},
    )
    is_on_call = models.BooleanField(
        "on call",
        default=False,
        help_text="Paged at once for an unassigned or unanswered Sev1 ticket.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["team", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="one_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"

    def clean(self) -> None:
        super().clean()
        if self.user_id and not self.user.is_staff:
            raise ValidationError({"user": "Only agents can be team members."})
