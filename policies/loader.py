"""Policy packs: the seed support policies as TOML files under ``policies/packs/``.

``read_pack`` validates a file into plain values and names the file and field of the
first problem; ``apply_packs`` writes them in one transaction and touches only rows
that differ, so loading twice changes nothing (and writes no history).
"""

from __future__ import annotations

import re
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction

from policies.catalogue import normalise
from policies.models import (
    BusinessCalendar,
    CatalogueEntry,
    Holiday,
    OpeningHours,
    Severity,
    SeverityCap,
    SLOTarget,
    SupportPlan,
)

PACKS_DIR = Path(__file__).resolve().parent / "packs"

WEEKDAY_KEYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
CHANNELS = {
    "web": "has_web",
    "email": "has_email",
    "chat": "has_chat",
    "phone": "has_phone",
}
FEATURES = {
    "tam": "includes_tam",
    "pair_programming": "includes_pair_programming",
    "quarterly_reviews": "includes_quarterly_reviews",
    "roadmap_insight": "includes_roadmap_insight",
}
_DURATION = re.compile(r"^(\d+)\s*(m|h|bd)$")
_SPAN = re.compile(r"^(\d\d:\d\d)-(\d\d:\d\d)$")
_HH_MM = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


_KIND_NAMES = {
    int: "a whole number",
    str: "text",
    bool: "true or false",
    list: "a list",
    dict: "a table",
    date: "a date (YYYY-MM-DD)",
}


class PackError(ValueError):
    """A pack that cannot be loaded; the message names the file and the field."""


@dataclass
class CalendarSpec:
    slug: str
    name: str
    kind: str
    time_zone: str
    hours: list[tuple[int, str, str]] = field(default_factory=list)
    holidays: list[tuple[date, str]] = field(default_factory=list)
    holiday_country: str = ""
    holiday_subdivision: str = ""


@dataclass
class TargetSpec:
    severity: int | None
    response_minutes: int | None
    response_business_days: int | None
    response_calendar: str
    resolution_minutes: int | None = None
    resolution_business_days: int | None = None
    resolution_calendar: str | None = None
    off_hours_response_minutes: int | None = None


@dataclass
class PackSpec:
    path: Path
    slug: str
    plan: dict[str, Any]
    business_calendar: str | None
    default_severity: int | None
    calendars: list[CalendarSpec]
    severities: list[dict[str, Any]]
    targets: list[TargetSpec]
    caps: list[dict[str, Any]]
    # The plan's products and components with their aliases (issue 15 §3.2); every
    # cap's component is an entry too.
    catalogue: list[dict[str, Any]] = field(default_factory=list)
    staffed_calendar: str | None = None


class _Reader:
    """Typed access to one table of a pack, raising PackError with the field path."""

    def __init__(self, path: Path, where: str, table: Any):
        self.path, self.where = path, where
        if not isinstance(table, dict):
            raise self.error("", "must be a table")
        self.table = table
        self.seen: set[str] = set()

    def error(self, key: str, message: str) -> PackError:
        name = f"{self.where}.{key}" if self.where and key else self.where or key
        return PackError(f"{self.path.name}: {name}: {message}")

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        self.seen.add(key)
        if key not in self.table:
            if default is ...:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self.error(key, f"must be {_KIND_NAMES[kind]}, not {value!r}")
        return value

    def text(self, key: str, default: Any = ...) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and default is ... and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def strings(self, key: str, allowed: set[str] | None = None) -> list[str]:
        values = self.get(key, list, [])
        for value in values:
            if not isinstance(value, str) or (
                allowed is not None and value not in allowed
            ):
                hint = f" (one of {', '.join(sorted(allowed))})" if allowed else ""
                raise self.error(key, f"{value!r} is not allowed{hint}")
        return values

    def tables(self, key: str) -> list[Any]:
        return self.get(key, list, [])

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.seen)
        if unknown:
            raise self.error(unknown[0], "is not a known field")


def parse_duration(reader: _Reader, key: str, *, business_days: bool = True):
    """Return (minutes, business_days) from "30m", "4h" or "5bd"."""
    raw = reader.text(key)
    match = _DURATION.match(raw.strip())
    if not match or int(match[1]) == 0:
        raise reader.error(key, f"{raw!r} is not a duration like 30m, 4h or 5bd")
    amount, unit = int(match[1]), match[2]
    if unit == "bd":
        if not business_days:
            raise reader.error(key, "must be in minutes or hours (wall-clock time)")
        return None, amount
    return (amount * 60 if unit == "h" else amount), None


def _read_calendar(path: Path, index: int, table: Any) -> CalendarSpec:
    r = _Reader(path, f"calendars[{index}]", table)
    kind = r.text("kind")
    if kind not in BusinessCalendar.Kind.values:
        raise r.error("kind", f"{kind!r} is not one of 24x7, 24x5, hours")
    time_zone = r.text("time_zone")
    if time_zone not in zoneinfo.available_timezones():
        raise r.error("time_zone", f"{time_zone!r} is not an IANA time zone")
    spec = CalendarSpec(r.text("slug"), r.text("name"), kind, time_zone)
    hours = r.get("hours", dict, {})
    if kind == BusinessCalendar.Kind.HOURS and not hours:
        raise r.error("hours", "is required for a calendar of kind 'hours'")
    if kind != BusinessCalendar.Kind.HOURS and hours:
        raise r.error("hours", f"is only for kind 'hours', not {kind!r}")
    for day, spans in hours.items():
        if day not in WEEKDAY_KEYS:
            raise r.error(f"hours.{day}", "is not a weekday (mon, tue, ... sun)")
        if not isinstance(spans, list):
            raise r.error(f"hours.{day}", 'must be a list like ["07:00-19:00"]')
        for span in spans:
            match = _SPAN.match(span) if isinstance(span, str) else None
            if (
                not match
                or not _HH_MM.match(match[1])
                or not _HH_MM.match(match[2])
                or match[2] <= match[1]
                or match[1] == "24:00"
            ):
                raise r.error(
                    f"hours.{day}", f"{span!r} is not an interval like 07:00-19:00"
                )
            spec.hours.append((WEEKDAY_KEYS[day], match[1], match[2]))
    for i, holiday in enumerate(r.tables("holidays")):
        hr = _Reader(path, f"calendars[{index}].holidays[{i}]", holiday)
        spec.holidays.append((hr.get("date", date), hr.text("name", "")))
        hr.finish()
    spec.holiday_country = r.text("holiday_country", "")
    spec.holiday_subdivision = r.text("holiday_subdivision", "")
    r.finish()
    return spec


def read_pack(path: Path) -> PackSpec:
    """Parse and validate one pack file; raise PackError naming the file and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"{path.name}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise PackError(f"{path.name}: cannot be read ({exc.strerror})") from None
    r = _Reader(path, "", data)
    slug = r.text("slug")
    if slug != path.stem:
        raise r.error("slug", f"{slug!r} must match the file name {path.stem!r}")
    channels = set(r.strings("channels", set(CHANNELS)))
    features = set(r.strings("features", set(FEATURES)))
    plan = {
        "name": r.text("name"),
        "source": r.text("source", ""),
        "description": r.text("description", ""),
        "prioritisation_rank": r.get("prioritisation_rank", int, 0),
        "upgrade_needs_justification": r.get(
            "upgrade_needs_justification", bool, False
        ),
        "downgrade_notifies_customer": r.get("downgrade_notifies_customer", bool, True),
        "downgrade_needs_customer_agreement": r.get(
            "downgrade_needs_customer_agreement", bool, False
        ),
        "upgrade_needs_customer_agreement": r.get(
            "upgrade_needs_customer_agreement", bool, False
        ),
        **{flag: name in channels for name, flag in CHANNELS.items()},
        **{flag: name in features for name, flag in FEATURES.items()},
    }
    if plan["prioritisation_rank"] < 0:
        raise r.error("prioritisation_rank", "must not be negative")

    calendars = [
        _read_calendar(path, i, t) for i, t in enumerate(r.tables("calendars"))
    ]
    calendar_slugs = [c.slug for c in calendars]
    if len(set(calendar_slugs)) != len(calendar_slugs):
        raise r.error("calendars", "a calendar slug appears twice")
    business_calendar = r.text("business_calendar", None)
    if business_calendar is not None and business_calendar not in calendar_slugs:
        raise r.error("business_calendar", f"{business_calendar!r} is not in calendars")
    # Issue 15 section 2: when someone is on shift to read alerts of severities
    # that do not page at once (``pages_at_once = false``).
    staffed_calendar = r.text("staffed_calendar", None)
    if staffed_calendar is not None and staffed_calendar not in calendar_slugs:
        raise r.error("staffed_calendar", f"{staffed_calendar!r} is not in calendars")

    severities = []
    for i, table in enumerate(r.tables("severities")):
        sr = _Reader(path, f"severities[{i}]", table)
        level = sr.get("level", int)
        if not 1 <= level <= 9:
            raise sr.error("level", "must be between 1 and 9")
        severities.append(
            {
                "level": level,
                "name": sr.text("name"),
                "description": sr.text("description", ""),
                "characteristics": "\n".join(sr.strings("characteristics")),
                "requires_customer_contact": sr.get(
                    "requires_customer_contact", bool, False
                ),
                "is_continuous_effort": sr.get("continuous_effort", bool, False),
                "pages_at_once": sr.get("pages_at_once", bool, True),
            }
        )
        sr.finish()
    levels = [s["level"] for s in severities]
    if len(set(levels)) != len(levels):
        raise r.error("severities", "a level appears twice")
    default_severity = r.get("default_severity", int, None)
    if default_severity is not None and default_severity not in levels:
        raise r.error(
            "default_severity", f"level {default_severity} is not in severities"
        )
    if severities and default_severity is None:
        raise r.error("default_severity", "is required when the plan has severities")

    targets = []
    for i, table in enumerate(r.tables("targets")):
        tr = _Reader(path, f"targets[{i}]", table)
        severity = tr.get("severity", int, None)
        if severity is not None and severity not in levels:
            raise tr.error("severity", f"level {severity} is not in severities")
        response = parse_duration(tr, "response")
        target = TargetSpec(severity, *response, tr.text("response_calendar"))
        if "resolution" in table:
            target.resolution_minutes, target.resolution_business_days = parse_duration(
                tr, "resolution"
            )
            target.resolution_calendar = tr.text("resolution_calendar")
        if "off_hours_response" in table:
            target.off_hours_response_minutes, _ = parse_duration(
                tr, "off_hours_response", business_days=False
            )
        for key in ("response_calendar", "resolution_calendar"):
            slug_ = getattr(target, key)
            if slug_ is not None and slug_ not in calendar_slugs:
                raise tr.error(key, f"{slug_!r} is not in calendars")
        tr.finish()
        targets.append(target)
    if not targets:
        raise r.error("targets", "at least one target is required")
    scopes = [t.severity for t in targets]
    if len(set(scopes)) != len(scopes):
        raise r.error("targets", "two targets for the same severity")
    missing = set(levels) - set(scopes)
    if missing and None not in scopes:
        raise r.error("targets", f"no target for severity {min(missing)}")

    catalogue = _read_catalogue(path, r.tables("catalogue"))
    caps = []
    for i, table in enumerate(r.tables("caps")):
        cr = _Reader(path, f"caps[{i}]", table)
        cap = {
            "component": cr.text("component"),
            "max_level": cr.get("max_level", int),
            "reason": cr.text("reason", ""),
        }
        if cap["max_level"] not in levels:
            raise cr.error(
                "max_level", f"level {cap['max_level']} is not in severities"
            )
        cr.finish()
        caps.append(cap)
        if not any(entry["name"] == cap["component"] for entry in catalogue):
            catalogue.append({"name": cap["component"], "aliases": ""})
    r.finish()
    return PackSpec(
        path,
        slug,
        plan,
        business_calendar,
        default_severity,
        calendars,
        severities,
        targets,
        caps,
        catalogue=catalogue,
        staffed_calendar=staffed_calendar,
    )


def _read_catalogue(path: Path, tables: list[Any]) -> list[dict[str, Any]]:
    """``[[catalogue]]`` tables: a name and its aliases; no spelling may name two
    entries ("MS SQL" and "MSSQL" are one spelling)."""
    entries: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for i, table in enumerate(tables):
        er = _Reader(path, f"catalogue[{i}]", table)
        name = er.text("name")
        aliases = er.strings("aliases")
        er.finish()
        for spelling in [name, *aliases]:
            key = normalise(spelling)
            if not key:
                raise er.error("aliases", f"{spelling!r} has no letters or digits")
            if seen.get(key, name) != name:
                raise er.error("aliases", f"{spelling!r} already names {seen[key]!r}")
            seen[key] = name
        entries.append({"name": name, "aliases": "\n".join(aliases)})
    return entries


def available_packs() -> dict[str, Path]:
    return {path.stem: path for path in sorted(PACKS_DIR.glob("*.toml"))}


def read_packs(slugs: list[str] | None = None) -> list[PackSpec]:
    """Read the named packs (all when ``slugs`` is empty), validating every one first.

    Packs that share a calendar slug must define it identically.
    """
    packs = available_packs()
    unknown = [slug for slug in slugs or [] if slug not in packs]
    if unknown:
        raise PackError(f"unknown pack {unknown[0]!r}; available: {', '.join(packs)}")
    specs = [read_pack(packs[slug]) for slug in (slugs or packs)]
    seen: dict[str, tuple[PackSpec, CalendarSpec]] = {}
    for spec in specs:
        for calendar in spec.calendars:
            if calendar.slug in seen and seen[calendar.slug][1] != calendar:
                other = seen[calendar.slug][0].path.name
                raise PackError(
                    f"{spec.path.name}: calendars: {calendar.slug!r} differs from its "
                    f"definition in {other}"
                )
            seen.setdefault(calendar.slug, (spec, calendar))
    return specs


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    removed: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)

    def __str__(self) -> str:
        if not self.changed:
            return "unchanged"
        return f"{self.created} created, {self.updated} updated, {self.removed} removed"


def _upsert(model, report: LoadReport, lookup: dict, values: dict):
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean()
        obj.save()
        report.created += 1
        return obj
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.full_clean()
        obj.save()
        report.updated += 1
    return obj


def _remove(queryset, report: LoadReport) -> None:
    for obj in queryset:  # one by one, so each removal is in the history
        obj.delete()
        report.removed += 1


def _apply_calendar(spec: CalendarSpec, report: LoadReport) -> BusinessCalendar:
    calendar = _upsert(
        BusinessCalendar,
        report,
        {"slug": spec.slug},
        {
            "name": spec.name,
            "kind": spec.kind,
            "time_zone": spec.time_zone,
            "holiday_country": spec.holiday_country,
            "holiday_subdivision": spec.holiday_subdivision,
        },
    )
    wanted_hours = set(spec.hours)
    for row in calendar.hours.all():
        key = (row.weekday, row.opens, row.closes)
        if key in wanted_hours:
            wanted_hours.discard(key)
        else:
            _remove([row], report)
    for weekday, opens, closes in sorted(wanted_hours):
        _upsert(
            OpeningHours,
            report,
            {"calendar": calendar, "weekday": weekday, "opens": opens},
            {"closes": closes},
        )
    wanted_days = dict(spec.holidays)
    _remove(calendar.holidays.exclude(date__in=wanted_days), report)
    for day, name in wanted_days.items():
        _upsert(Holiday, report, {"calendar": calendar, "date": day}, {"name": name})
    return calendar


def apply_pack(spec: PackSpec, calendars: dict[str, BusinessCalendar]) -> LoadReport:
    report = LoadReport()
    plan = _upsert(
        SupportPlan,
        report,
        {"slug": spec.slug},
        {
            **spec.plan,
            "business_calendar": calendars.get(spec.business_calendar),
            "staffed_calendar": calendars.get(spec.staffed_calendar),
        },
    )
    severities = {
        values["level"]: _upsert(
            Severity,
            report,
            {"plan": plan, "level": values["level"]},
            {k: v for k, v in values.items() if k != "level"},
        )
        for values in spec.severities
    }
    default = severities.get(spec.default_severity)
    if plan.default_severity_id != (default.pk if default else None):
        plan.default_severity = default
        plan.save(update_fields=["default_severity", "updated_at"])
        report.updated += 1

    wanted_scopes = set()
    for target in spec.targets:
        severity = severities.get(target.severity)
        wanted_scopes.add(severity.pk if severity else None)
        _upsert(
            SLOTarget,
            report,
            {"plan": plan, "severity": severity},
            {
                "response_minutes": target.response_minutes,
                "response_business_days": target.response_business_days,
                "response_calendar": calendars[target.response_calendar],
                "resolution_minutes": target.resolution_minutes,
                "resolution_business_days": target.resolution_business_days,
                "resolution_calendar": calendars.get(target.resolution_calendar),
                "off_hours_response_minutes": target.off_hours_response_minutes,
            },
        )
    _remove(
        [t for t in plan.targets.all() if t.severity_id not in wanted_scopes], report
    )
    wanted_entries = {entry["name"] for entry in spec.catalogue}
    _remove(plan.catalogue.exclude(name__in=wanted_entries), report)
    entries = {
        entry["name"]: _upsert(
            CatalogueEntry,
            report,
            {"plan": plan, "name": entry["name"]},
            {"aliases": entry["aliases"]},
        )
        for entry in spec.catalogue
    }
    wanted_caps = {cap["component"] for cap in spec.caps}
    _remove(plan.caps.exclude(component__in=wanted_caps), report)
    for cap in spec.caps:
        _upsert(
            SeverityCap,
            report,
            {"plan": plan, "component": cap["component"]},
            {
                "max_level": cap["max_level"],
                "reason": cap["reason"],
                "entry": entries[cap["component"]],
            },
        )
    _remove(plan.severities.exclude(level__in=list(severities)), report)
    return report


@transaction.atomic
def apply_packs(specs: list[PackSpec]) -> dict[str, LoadReport]:
    """Write validated packs in one transaction; return what changed, per pack."""
    reports: dict[str, LoadReport] = {}
    calendars: dict[str, BusinessCalendar] = {}
    calendar_report = LoadReport()
    for spec in specs:
        for calendar in spec.calendars:
            if calendar.slug not in calendars:
                calendars[calendar.slug] = _apply_calendar(calendar, calendar_report)
    for spec in specs:
        pack_calendars = {c.slug: calendars[c.slug] for c in spec.calendars}
        reports[spec.slug] = apply_pack(spec, pack_calendars)
    reports["calendars"] = calendar_report
    return reports


def load_policy_packs(slugs: list[str] | None = None) -> dict[str, LoadReport]:
    """Validate and load the named packs (all by default): all of them or none."""
    return apply_packs(read_packs(slugs))
