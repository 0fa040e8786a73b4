"""Effective-dated plan revisions (issue 15, Iron.io: "Current Support Plan customers
will be notified in advance of any material changes that affect scope, quality, or
timeliness of support").

A revision is the whole plan as it will be (``content``, plain JSON: entitlements,
the calendars its targets count on, severities and targets), drafted from the live
plan without touching it. ``diff`` compares two such contents in plain words and
decides what is material: a lengthened target, shortened coverage, a removed channel,
feature or severity (and a lower prioritisation). The admin may mark a revision
material, never less. ``schedule_revision`` enforces the notice period
(``HELPDESK_POLICY_NOTICE_DAYS``, default 30) and e-mails every Support Administrator
of every organisation on the plan once; ``apply_due_revisions`` (beat, every minute)
makes each live exactly once, however late it runs. Open tickets keep the targets
they started under: their clocks hold their own targets, and the admin's "apply
current targets" action stays the only way to move them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.dateformat import format as date_format

from policies.models import (
    BusinessCalendar,
    PlanRevision,
    Severity,
    SLOTarget,
    SupportPlan,
)

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

DEFAULT_NOTICE_DAYS = 30

CHANNELS = {
    "has_web": "web portal",
    "has_email": "e-mail",
    "has_chat": "chat",
    "has_phone": "phone",
}
FEATURES = {
    "includes_tam": "technical account manager",
    "includes_pair_programming": "pair programming and architecture reviews",
    "includes_quarterly_reviews": "quarterly reviews",
    "includes_roadmap_insight": "product roadmap insight",
}
SEVERITY_FIELDS = (
    "name",
    "description",
    "characteristics",
    "requires_customer_contact",
)
TARGET_FIELDS = (
    "response_minutes",
    "response_business_days",
    "response_calendar",
    "resolution_minutes",
    "resolution_business_days",
    "resolution_calendar",
    "off_hours_response_minutes",
)
# (metric label, minutes key, business-days key, calendar key)
METRICS = (
    (
        "initial response",
        "response_minutes",
        "response_business_days",
        "response_calendar",
    ),
    (
        "goal resolution",
        "resolution_minutes",
        "resolution_business_days",
        "resolution_calendar",
    ),
)
WEEK_MINUTES = 7 * 24 * 60


def notice_days() -> int:
    return int(getattr(settings, "HELPDESK_POLICY_NOTICE_DAYS", DEFAULT_NOTICE_DAYS))


# --- content: the plan as plain values ----------------------------------------------


def snapshot(plan: SupportPlan) -> dict[str, Any]:
    """Return the live plan as revision content."""
    severities = list(plan.severities.order_by("level"))
    targets = list(plan.targets.select_related("severity"))
    calendars = BusinessCalendar.objects.in_bulk(
        (
            {plan.business_calendar_id}
            | {t.response_calendar_id for t in targets}
            | {t.resolution_calendar_id for t in targets}
        )
        - {None}
    )
    return _content(plan, severities, targets, calendars)


def snapshot_as_of(plan: SupportPlan, at: datetime) -> dict[str, Any] | None:
    """Return the plan as it was at ``at`` (django-simple-history), or None if it did
    not exist yet."""
    try:
        old_plan = plan.history.as_of(at)
    except SupportPlan.DoesNotExist:
        return None
    severities = sorted(
        Severity.history.as_of(at).filter(plan_id=plan.pk), key=lambda s: s.level
    )
    targets = list(SLOTarget.history.as_of(at).filter(plan_id=plan.pk))
    calendars = BusinessCalendar.objects.in_bulk(
        (
            {old_plan.business_calendar_id}
            | {t.response_calendar_id for t in targets}
            | {t.resolution_calendar_id for t in targets}
        )
        - {None}
    )
    return _content(old_plan, severities, targets, calendars)


def _content(plan, severities, targets, calendars: dict) -> dict[str, Any]:
    level_of = {s.pk: s.level for s in severities}

    def slug(calendar_id):
        return calendars[calendar_id].slug if calendar_id in calendars else None

    return {
        "entitlements": {
            "prioritisation_rank": plan.prioritisation_rank,
            **{flag: getattr(plan, flag) for flag in (*CHANNELS, *FEATURES)},
        },
        "business_calendar": slug(plan.business_calendar_id),
        "default_severity": level_of.get(plan.default_severity_id),
        "severities": [
            {"level": s.level, **{f: getattr(s, f) for f in SEVERITY_FIELDS}}
            for s in severities
        ],
        "targets": sorted(
            (
                {
                    "severity": level_of.get(t.severity_id),
                    "response_minutes": t.response_minutes,
                    "response_business_days": t.response_business_days,
                    "response_calendar": slug(t.response_calendar_id),
                    "resolution_minutes": t.resolution_minutes,
                    "resolution_business_days": t.resolution_business_days,
                    "resolution_calendar": slug(t.resolution_calendar_id),
                    "off_hours_response_minutes": t.off_hours_response_minutes,
                }
                for t in targets
                if t.severity_id is None or t.severity_id in level_of
            ),
            key=lambda t: t["severity"] or 0,
        ),
    }


def validate_content(content: dict[str, Any]) -> None:
    """Raise ValidationError (one message per problem) unless ``content`` can be
    made live: known calendars, one target per severity, each with a response."""
    errors = []
    slugs = set(BusinessCalendar.objects.values_list("slug", flat=True))
    levels = [s["level"] for s in content["severities"]]
    if len(set(levels)) != len(levels):
        errors.append("A severity level appears twice.")
    if content["business_calendar"] and content["business_calendar"] not in slugs:
        errors.append(f"Unknown calendar {content['business_calendar']!r}.")
    if levels and content["default_severity"] not in levels:
        errors.append("The default severity must be one of the plan's severities.")
    scopes = [t["severity"] for t in content["targets"]]
    if len(set(scopes)) != len(scopes):
        errors.append("Two targets for the same severity.")
    for target in content["targets"]:
        name = scope_name(content, target["severity"])
        if target["severity"] is not None and target["severity"] not in levels:
            errors.append(f"{name}: the severity is not in the plan.")
        if (target["response_minutes"] is None) == (
            target["response_business_days"] is None
        ):
            errors.append(f"{name}: give the initial response in minutes or days.")
        for key in ("response_calendar", "resolution_calendar"):
            if target[key] is not None and target[key] not in slugs:
                errors.append(f"{name}: unknown calendar {target[key]!r}.")
        has_resolution = (
            target["resolution_minutes"] is not None
            or target["resolution_business_days"] is not None
        )
        if has_resolution and not target["resolution_calendar"]:
            errors.append(f"{name}: a goal resolution needs its calendar.")
    missing = set(levels) - set(scopes)
    if missing and None not in scopes:
        errors.append(f"No target for severity {min(missing)}.")
    if not content["targets"]:
        errors.append("The plan needs at least one target.")
    if errors:
        raise ValidationError(errors)


# --- the diff, in plain words --------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One difference between the live plan and a revision, as a customer reads it:
    "Severity 3 initial response: 1 business day → 2 business days"."""

    text: str
    is_material: bool = False
    reason: str = ""  # why it is material: "lengthens a target", ...


def duration_label(minutes: int | None, business_days: int | None) -> str:
    """30 -> "30 min", 240 -> "4 hours", business days 2 -> "2 business days"."""
    if business_days:
        return f"{business_days} business day{'s' if business_days != 1 else ''}"
    if minutes is None:
        return "none"
    if minutes % 60:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} hour{'s' if hours != 1 else ''}"


def scope_name(content: dict, level: int | None) -> str:
    if level is None:
        return "All severities"
    for severity in content["severities"]:
        if severity["level"] == level:
            return severity["name"]
    return f"Severity {level}"


def _weekly_minutes(calendar: BusinessCalendar | None) -> int:
    """Open minutes in a week: how much of it a calendar covers."""
    if calendar is None or calendar.kind == BusinessCalendar.Kind.ALWAYS:
        return WEEK_MINUTES
    if calendar.kind == BusinessCalendar.Kind.WEEKDAYS:
        return 5 * 24 * 60
    total = 0
    for hours in calendar.hours.all():
        opens_h, opens_m = map(int, hours.opens.split(":"))
        closes_h, closes_m = map(int, hours.closes.split(":"))
        total += (closes_h * 60 + closes_m) - (opens_h * 60 + opens_m)
    return total


def _day_minutes(calendar: BusinessCalendar | None) -> int:
    """The open minutes of an average working day of ``calendar``."""
    if calendar is None or calendar.kind != BusinessCalendar.Kind.HOURS:
        return 24 * 60
    days = {hours.weekday for hours in calendar.hours.all()}
    return _weekly_minutes(calendar) // max(1, len(days))


def _length(target: dict, minutes_key: str, days_key: str, calendar) -> int | None:
    """A target's length in open minutes, business days counted as whole days of
    its calendar (comparable across units); None when there is no target."""
    if target.get(days_key):
        return target[days_key] * _day_minutes(calendar)
    return target.get(minutes_key)


def diff(before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """Return what changes from ``before`` to ``after``, material changes marked.

    Material: a target that lengthens (or disappears), a calendar that covers less
    of the week, a channel or feature removed, a severity removed, a lower
    prioritisation rank, a default severity less severe than before.
    """
    slugs = {
        before.get("business_calendar"),
        after.get("business_calendar"),
        *(
            t[k]
            for c in (before, after)
            for t in c["targets"]
            for k in TARGET_FIELDS
            if k.endswith("calendar")
        ),
    } - {None}
    calendars = {
        c.slug: c
        for c in BusinessCalendar.objects.filter(slug__in=slugs).prefetch_related(
            "hours"
        )
    }

    def calendar_name(slug: str | None) -> str:
        if slug is None:
            return "none"
        return calendars[slug].name if slug in calendars else slug

    changes: list[Change] = []
    old_ent, new_ent = before["entitlements"], after["entitlements"]
    old_rank, new_rank = old_ent["prioritisation_rank"], new_ent["prioritisation_rank"]
    if old_rank != new_rank:
        changes.append(
            Change(
                f"Ticket prioritisation rank: {old_rank} → {new_rank}",
                new_rank < old_rank,
                "lowers prioritisation",
            )
        )
    old_hours, new_hours = before["business_calendar"], after["business_calendar"]
    if old_hours != new_hours:
        # No business hours: the business-hours target applies around the clock.
        shorter = _weekly_minutes(calendars.get(new_hours)) < _weekly_minutes(
            calendars.get(old_hours)
        )
        changes.append(
            Change(
                f"Support hours: {calendar_name(old_hours)} → "
                f"{calendar_name(new_hours)}",
                shorter,
                "shortens coverage",
            )
        )
    for flags, kind in ((CHANNELS, "channel"), (FEATURES, "feature")):
        for flag, label in flags.items():
            if old_ent[flag] and not new_ent[flag]:
                changes.append(
                    Change(f"{label.capitalize()}: removed", True, f"removes a {kind}")
                )
            elif new_ent[flag] and not old_ent[flag]:
                changes.append(Change(f"{label.capitalize()}: added"))

    old_sev = {s["level"]: s for s in before["severities"]}
    new_sev = {s["level"]: s for s in after["severities"]}
    for level in sorted(old_sev.keys() - new_sev.keys()):
        changes.append(
            Change(f"{old_sev[level]['name']}: removed", True, "removes a severity")
        )
    for level in sorted(new_sev.keys() - old_sev.keys()):
        changes.append(Change(f"{new_sev[level]['name']}: added"))
    for level in sorted(old_sev.keys() & new_sev.keys()):
        old, new = old_sev[level], new_sev[level]
        if old["name"] != new["name"]:
            changes.append(Change(f"{old['name']}: renamed {new['name']}"))
        for key, label in (
            ("description", "description"),
            ("characteristics", "characteristics"),
        ):
            if old[key] != new[key]:
                changes.append(Change(f"{new['name']}: {label} reworded"))
        if old["requires_customer_contact"] != new["requires_customer_contact"]:
            needs = "needs" if new["requires_customer_contact"] else "no longer needs"
            changes.append(
                Change(f"{new['name']}: {needs} a named contact during resolution")
            )
    old_default, new_default = before["default_severity"], after["default_severity"]
    if old_default != new_default and old_default is not None:
        changes.append(
            Change(
                f"Default severity: {scope_name(before, old_default)} → "
                f"{scope_name(after, new_default)}",
                new_default is not None and new_default > old_default,
                "lowers the default severity",
            )
        )

    old_targets = {t["severity"]: t for t in before["targets"]}
    new_targets = {t["severity"]: t for t in after["targets"]}
    for scope in sorted(old_targets.keys() | new_targets.keys(), key=lambda s: s or 0):
        old, new = old_targets.get(scope), new_targets.get(scope)
        name = scope_name(after if new else before, scope)
        if new is None:
            if scope is None or scope in new_sev:
                changes.append(
                    Change(f"{name}: targets removed", True, "lengthens a target")
                )
            continue  # a removed severity takes its target with it
        if old is None:
            changes.append(Change(f"{name}: targets added"))
            continue
        changes += _target_changes(name, old, new, calendars, calendar_name)
    return changes


def _target_changes(name, old, new, calendars, calendar_name) -> list[Change]:
    changes = []
    for label, minutes_key, days_key, calendar_key in METRICS:
        old_cal, new_cal = old[calendar_key], new[calendar_key]
        old_label = duration_label(old[minutes_key], old[days_key])
        new_label = duration_label(new[minutes_key], new[days_key])
        old_len = _length(old, minutes_key, days_key, calendars.get(old_cal))
        new_len = _length(new, minutes_key, days_key, calendars.get(new_cal))
        if old_label != new_label:
            longer = old_len is not None and (new_len is None or new_len > old_len)
            changes.append(
                Change(
                    f"{name} {label}: {old_label} → {new_label}",
                    longer,
                    "lengthens a target",
                )
            )
        if old_cal != new_cal and new_len is not None and old_len is not None:
            shorter = _weekly_minutes(calendars.get(new_cal)) < _weekly_minutes(
                calendars.get(old_cal)
            )
            changes.append(
                Change(
                    f"{name} {label} counted on: {calendar_name(old_cal)} → "
                    f"{calendar_name(new_cal)}",
                    shorter,
                    "shortens coverage",
                )
            )
    old_off, new_off = (
        old["off_hours_response_minutes"],
        new["off_hours_response_minutes"],
    )
    if old_off != new_off:
        changes.append(
            Change(
                f"{name} off-hours response: {duration_label(old_off, None)} → "
                f"{duration_label(new_off, None)}",
                # Without one, an off-hours ticket waits for the business-hours
                # target: dropping or lengthening it can only make answers later.
                old_off is not None and (new_off is None or new_off > old_off),
                "lengthens a target",
            )
        )
    return changes


def is_material(changes: list[Change], *, marked: bool = False) -> bool:
    """Return whether a revision with ``changes`` is material: any material change,
    or the admin's mark (which can add materiality, never take it away)."""
    return marked or any(change.is_material for change in changes)


def changes_of(revision: PlanRevision) -> list[Change]:
    """The revision's changes: as announced once scheduled, else against the live
    plan now."""
    if revision.status in (PlanRevision.Status.SCHEDULED, PlanRevision.Status.APPLIED):
        return [Change(**c) for c in revision.changes]
    return diff(snapshot(revision.plan), revision.content)


# --- the impact on open tickets ----------------------------------------------------


@dataclass
class Impact:
    """What making a revision live would do to the plan's open tickets, if the
    "apply current targets" action were then run on them (it is not run for them:
    open tickets keep their targets)."""

    open_tickets: int
    rows: list[dict] = field(default_factory=list)  # clock, old/new label and due

    @property
    def tickets_moved(self) -> int:
        return len({row["clock"].ticket_id for row in self.rows})


def impact(revision: PlanRevision) -> Impact:
    """Return the plan's open tickets and how their due instants would move."""
    from helpdesk import clocks  # the clocks are the ticket core's
    from helpdesk.models import Ticket
    from policies.slo import due_for

    plan = revision.plan
    draft = draft_plan(plan, revision.content)
    severities = {s.pk: s for s in plan.severities.all()}
    rows = clocks.policy_changes(
        [plan],
        due_of=lambda ticket: due_for(
            draft, severities.get(ticket.severity_id), ticket.created_at
        ),
    )
    open_tickets = Ticket.objects.open().filter(plan=plan).count()
    return Impact(open_tickets, rows)


def draft_plan(plan: SupportPlan, content: dict[str, Any]) -> SupportPlan:
    """Return an unsaved copy of ``plan`` carrying ``content``'s entitlements and
    targets (for ``policies.slo.due_for``): the live plan is not touched."""
    calendars = {c.slug: c for c in BusinessCalendar.objects.all()}
    severities = {s.level: s for s in plan.severities.all()}
    draft = SupportPlan(
        pk=plan.pk,
        slug=plan.slug,
        name=plan.name,
        **content["entitlements"],
        business_calendar=calendars.get(content["business_calendar"]),
        default_severity=severities.get(content["default_severity"]),
    )
    targets = []
    for values in content["targets"]:
        level = values["severity"]
        if level is not None and level not in severities:
            continue  # a severity that does not exist yet has no tickets
        targets.append(
            SLOTarget(
                plan=draft,
                severity=severities.get(level),
                **{
                    key: (
                        calendars.get(values[key])
                        if key.endswith("calendar")
                        else values[key]
                    )
                    for key in TARGET_FIELDS
                },
            )
        )
    queryset = SLOTarget.objects.none()
    queryset._result_cache = targets
    queryset._prefetch_done = True
    draft._prefetched_objects_cache = {"targets": queryset}
    return draft


# --- services ---------------------------------------------------------------------


def _require(actor: User | None, perm: str) -> None:
    if actor is None or not actor.has_perm(perm):
        raise PermissionDenied(f"You may not do this (needs {perm}).")


@transaction.atomic
def draft_revision(
    plan: SupportPlan,
    *,
    actor: User,
    note: str = "",
    is_marked_material: bool = False,
) -> PlanRevision:
    """Start a revision from the live plan (which it does not touch)."""
    _require(actor, "policies.add_planrevision")
    revision = PlanRevision(
        plan=plan,
        content=snapshot(plan),
        note=note,
        is_marked_material=is_marked_material,
        created_by=actor,
    )
    revision.full_clean()
    revision._history_user = actor
    revision.save()
    return revision


@transaction.atomic
def update_draft(
    revision: PlanRevision,
    content: dict[str, Any],
    *,
    actor: User,
    note: str | None = None,
    is_marked_material: bool | None = None,
) -> PlanRevision:
    """Change a draft's content (validated) and its note and mark."""
    _require(actor, "policies.change_planrevision")
    revision = _locked(revision)
    if revision.status != PlanRevision.Status.DRAFT:
        raise ValidationError(
            "Only a draft can be edited; this one is "
            f"{revision.get_status_display().lower()}."
        )
    validate_content(content)
    revision.content = content
    fields = ["content", "updated_at"]
    if note is not None:
        revision.note = note
        fields.append("note")
    if is_marked_material is not None:
        revision.is_marked_material = is_marked_material
        fields.append("is_marked_material")
    revision._history_user = actor
    revision.save(update_fields=fields)
    return revision


def earliest_effective_at(*, material: bool, now: datetime) -> datetime:
    """The earliest instant a revision may take effect: ``now`` for one that is not
    material, HELPDESK_POLICY_NOTICE_DAYS later for one that is."""
    return now + timedelta(days=notice_days()) if material else now


@transaction.atomic
def schedule_revision(
    revision: PlanRevision,
    effective_at: datetime,
    *,
    actor: User,
    now: datetime | None = None,
) -> PlanRevision:
    """Schedule a draft to take effect at ``effective_at`` and tell the customers.

    Refused with a ValidationError naming the field when the revision is not a
    draft, changes nothing, is invalid, another revision of the plan is scheduled,
    or a material revision gives less than HELPDESK_POLICY_NOTICE_DAYS' notice.
    """
    _require(actor, "policies.change_planrevision")
    now = now or timezone.now()
    if timezone.is_naive(effective_at):
        raise ValidationError({"effective_at": "Give the instant with its time zone."})
    revision = _locked(revision)
    if revision.status != PlanRevision.Status.DRAFT:
        raise ValidationError(
            f"Only a draft can be scheduled; this one is "
            f"{revision.get_status_display().lower()}."
        )
    validate_content(revision.content)
    pending = PlanRevision.objects.filter(
        plan_id=revision.plan_id, status=PlanRevision.Status.SCHEDULED
    ).first()
    if pending is not None:
        raise ValidationError(
            f"Revision {pending.pk} of {revision.plan} is already scheduled for "
            f"{_utc_label(pending.effective_at)}; cancel it or let it take effect "
            "first."
        )
    changes = diff(snapshot(revision.plan), revision.content)
    if not changes:
        raise ValidationError("This revision changes nothing on the live plan.")
    material = is_material(changes, marked=revision.is_marked_material)
    earliest = earliest_effective_at(material=material, now=now)
    if effective_at <= now:
        raise ValidationError({"effective_at": "Choose an instant in the future."})
    if effective_at < earliest:
        reasons = sorted({c.reason for c in changes if c.is_material}) or [
            "marked material"
        ]
        raise ValidationError(
            {
                "effective_at": (
                    f"A material revision ({', '.join(reasons)}) needs "
                    f"{notice_days()} days' notice: choose {_utc_label(earliest)} "
                    "or later."
                )
            }
        )
    revision.status = PlanRevision.Status.SCHEDULED
    revision.effective_at = effective_at
    revision.is_material = material
    revision.changes = [asdict(c) for c in changes]
    revision.scheduled_at, revision.scheduled_by = now, actor
    revision._history_user = actor
    revision.save(
        update_fields=[
            "status",
            "effective_at",
            "is_material",
            "changes",
            "scheduled_at",
            "scheduled_by",
            "updated_at",
        ]
    )
    notify_customers(revision)
    return revision


@transaction.atomic
def cancel_revision(revision: PlanRevision, *, actor: User) -> PlanRevision:
    """Withdraw a draft or a scheduled revision that has not taken effect."""
    _require(actor, "policies.change_planrevision")
    revision = _locked(revision)
    if revision.status not in (
        PlanRevision.Status.DRAFT,
        PlanRevision.Status.SCHEDULED,
    ):
        raise ValidationError(
            f"This revision is {revision.get_status_display().lower()}: it can no "
            "longer be cancelled."
        )
    revision.status = PlanRevision.Status.CANCELLED
    revision._history_user = actor
    revision.save(update_fields=["status", "updated_at"])
    return revision


def notify_customers(revision: PlanRevision) -> int:
    """Queue one e-mail per Support Administrator of the organisations on the plan
    (keyed: once per person and revision, however often this runs)."""
    from accounts.models import SupportAdministrator
    from helpdesk.emails import queue_email

    admins = (
        SupportAdministrator.objects.filter(
            organization__support_plan_id=revision.plan_id, user__is_active=True
        )
        .select_related("user", "organization")
        .order_by("user_id", "organization__name")
    )
    told: set[int] = set()
    changes = [Change(**c) for c in revision.changes]
    for admin in admins:
        if admin.user_id in told:
            continue
        told.add(admin.user_id)
        zone = ZoneInfo(admin.organization.time_zone)
        queue_email(
            key=f"plan-revision:{revision.pk}:{admin.user_id}",
            to=admin.user.email,
            template="plan_revision_scheduled",
            context={
                "recipient": admin.user,
                "organization": admin.organization,
                "revision": revision,
                "plan": revision.plan,
                "changes": changes,
                # Formatted here: templates would show the instant in UTC.
                "effective_date": date_format(
                    timezone.localtime(revision.effective_at, zone), "j F Y"
                ),
                "effective_label": date_format(
                    timezone.localtime(revision.effective_at, zone), "j F Y, H:i T"
                ),
            },
        )
    return len(told)


def apply_due_revisions(now: datetime | None = None) -> list[int]:
    """Make every scheduled revision whose instant has come live, each once, in
    its own transaction (a failing one is logged and retried next time). Runs late
    as well as on time: a machine that was off at the instant applies it when it
    comes back. Return the ids applied."""
    now = now or timezone.now()
    due = PlanRevision.objects.filter(
        status=PlanRevision.Status.SCHEDULED, effective_at__lte=now
    ).order_by("effective_at", "pk")
    applied = []
    for pk in due.values_list("pk", flat=True):
        try:
            if apply_revision(pk, now=now):
                applied.append(pk)
        except Exception:
            logger.exception("plan revision %s could not be applied", pk)
    return applied


@transaction.atomic
def apply_revision(pk: int, *, now: datetime) -> bool:
    """Write one due revision onto its live plan, unless it is not due or another
    run applied it already. Return whether this call applied it."""
    revision = (
        PlanRevision.objects.select_for_update(of=("self",))
        .select_related("plan", "scheduled_by")
        .filter(pk=pk, status=PlanRevision.Status.SCHEDULED, effective_at__lte=now)
        .first()
    )
    if revision is None:
        return False
    write_plan(revision.plan, revision.content, actor=revision.scheduled_by)
    revision.status = PlanRevision.Status.APPLIED
    revision.applied_at = now
    revision._history_user = revision.scheduled_by
    revision.save(update_fields=["status", "applied_at", "updated_at"])
    logger.info(
        "plan revision %s of %s is live (effective %s)",
        pk,
        revision.plan,
        revision.effective_at.isoformat(),
    )
    return True


def write_plan(plan: SupportPlan, content: dict[str, Any], *, actor=None) -> None:
    """Make ``plan`` what ``content`` says, row by row with history. Clocks that
    are running keep their own targets."""
    calendars = {c.slug: c for c in BusinessCalendar.objects.all()}
    plan = SupportPlan.objects.select_for_update().get(pk=plan.pk)
    wanted = {
        **content["entitlements"],
        "business_calendar_id": getattr(
            calendars.get(content["business_calendar"]), "pk", None
        ),
    }
    severities = {s.level: s for s in plan.severities.all()}
    for values in content["severities"]:
        severity = severities.get(values["level"])
        if severity is None:
            severity = Severity(plan=plan, level=values["level"])
        fields = [f for f in SEVERITY_FIELDS if getattr(severity, f) != values[f]]
        if severity.pk is None or fields:
            for name in SEVERITY_FIELDS:
                setattr(severity, name, values[name])
            severity._history_user = actor
            severity.full_clean()
            severity.save()
        severities[values["level"]] = severity
    default = severities.get(content["default_severity"])
    wanted["default_severity_id"] = default.pk if default else None
    changed = [name for name, value in wanted.items() if getattr(plan, name) != value]
    if changed:
        for name in changed:
            setattr(plan, name, wanted[name])
        plan._history_user = actor
        plan.save(update_fields=[*changed, "updated_at"])

    kept_levels = {s["level"] for s in content["severities"]}
    existing = {t.severity_id: t for t in plan.targets.all()}
    wanted_scopes = set()
    for values in content["targets"]:
        severity = severities.get(values["severity"]) if values["severity"] else None
        scope = severity.pk if severity else None
        wanted_scopes.add(scope)
        target = existing.get(scope) or SLOTarget(plan=plan, severity=severity)
        row = {
            key: (
                getattr(calendars.get(values[key]), "pk", None)
                if key.endswith("calendar")
                else values[key]
            )
            for key in TARGET_FIELDS
        }
        attnames = {
            key: f"{key}_id" if key.endswith("calendar") else key for key in row
        }
        if target.pk is None or any(
            getattr(target, attnames[k]) != v for k, v in row.items()
        ):
            for key, value in row.items():
                setattr(target, attnames[key], value)
            target._history_user = actor
            target.full_clean()
            target.save()
    for scope, target in existing.items():
        if scope not in wanted_scopes:
            target._history_user = actor
            target.delete()
    for level, severity in severities.items():
        if level in kept_levels:
            continue
        try:
            with transaction.atomic():
                severity._history_user = actor
                severity.delete()
        except ProtectedError:
            # Tickets still refer to it (Ticket.severity is PROTECT): the row
            # stays, without a target of its own (the plan-wide one, if any,
            # applies). Logged for the administrator.
            logger.warning(
                "severity %s of %s is kept: tickets refer to it", severity, plan
            )


def _locked(revision: PlanRevision) -> PlanRevision:
    """Lock the revision's row for this transaction and reload ``revision`` (the
    caller's instance) from it."""
    list(PlanRevision.objects.select_for_update().filter(pk=revision.pk).values("pk"))
    revision.refresh_from_db()
    return revision


def _utc_label(at: datetime) -> str:
    return f"{timezone.localtime(at, ZoneInfo('UTC')):%d %b %Y %H:%M} UTC"


# --- what customers see --------------------------------------------------------------


def upcoming(plan: SupportPlan) -> list[PlanRevision]:
    """The plan's scheduled revisions, soonest first (for "My plan")."""
    return list(
        PlanRevision.objects.filter(
            plan=plan, status=PlanRevision.Status.SCHEDULED
        ).order_by("effective_at")
    )


def end_of_day(day: date, zone: str) -> datetime:
    """The last instant of ``day`` in ``zone``: "the plan as it was on D" shows the
    plan at the end of that day."""
    next_day = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(zone))
    return next_day - timedelta(microseconds=1)


@dataclass
class PlanView:
    """Revision content ready for a page: names instead of slugs and levels."""

    support_hours: str
    rank: int
    channels: list[str]
    features: list[str]
    default_severity: str
    severities: list[dict]
    targets: list[dict]  # scope, response, resolution, off_hours (labels)


def describe(content: dict[str, Any]) -> PlanView:
    """Return ``content`` as a page shows it."""
    names = dict(BusinessCalendar.objects.values_list("slug", "name"))
    entitlements = content["entitlements"]
    targets = []
    for t in content["targets"]:
        resolution = duration_label(
            t["resolution_minutes"], t["resolution_business_days"]
        )
        targets.append(
            {
                "scope": scope_name(content, t["severity"]),
                "response": duration_label(
                    t["response_minutes"], t["response_business_days"]
                ),
                "response_calendar": names.get(t["response_calendar"], "—"),
                "resolution": resolution,
                "resolution_calendar": names.get(t["resolution_calendar"], "—"),
                "off_hours": duration_label(t["off_hours_response_minutes"], None),
            }
        )
    return PlanView(
        support_hours=names.get(content["business_calendar"], "No fixed support hours"),
        rank=entitlements["prioritisation_rank"],
        channels=[label for flag, label in CHANNELS.items() if entitlements[flag]],
        features=[label for flag, label in FEATURES.items() if entitlements[flag]],
        default_severity=(
            scope_name(content, content["default_severity"])
            if content["default_severity"] is not None
            else "—"
        ),
        severities=content["severities"],
        targets=targets,
    )
