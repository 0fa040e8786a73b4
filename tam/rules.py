"""The rules of TAM contracts, in one place, each refusal naming its rule.

Services call these before writing; the database constraints on ``tam.models`` hold
the same rules where one row can show them, with the static messages of
``MESSAGES``. A refusal is a ``RuleViolation`` (a ``ValidationError``) whose ``code``
is the rule's slug and whose message starts with the rule's name.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError

MIN_HOURS_PER_MONTH = 10
HOURS_INCREMENT = 5
PM_FROM_HOURS = 30
TERMS_MONTHS = (6, 12)
START_NOTICE_BUSINESS_DAYS = 10  # two business weeks
REMOTE_NOTICE_BUSINESS_DAYS = 2
ONSITE_DOMESTIC_NOTICE_BUSINESS_DAYS = 15  # three business weeks
ONSITE_INTERNATIONAL_NOTICE_BUSINESS_DAYS = 20  # four business weeks

# The name each rule is known by; every refusal message starts with it.
NAMES = {
    "minimum-hours": "Minimum hours rule",
    "hour-increments": "5-hour increments rule",
    "term-length": "Term length rule",
    "project-manager": "Project manager rule",
    "start-notice": "Start notice rule",
    "one-active": "One active contract rule",
    "tam-role": "TAM role rule",
    "backup-tam": "Backup TAM rule",
    "pm-role": "Project manager role rule",
    "entry-minutes": "Time entry length rule",
    "entry-in-term": "Service period rule",
    "closed-term": "Closed term rule",
    "out-of-scope": "Change order rule",
    "remote-notice": "Remote meeting notice rule",
    "onsite-domestic-notice": "On-site meeting notice rule (domestic)",
    "onsite-international-notice": "On-site meeting notice rule (international)",
    "meeting-in-term": "Meeting date rule",
    "notice-date": "Termination notice rule",
    "licence": "Licence rule",
    "banked-hours": "Banked hours rule",
}

# Static messages, for the database constraints (no values to quote there).
MESSAGES = {
    "minimum-hours": f"{NAMES['minimum-hours']}: a TAM contract has at least "
    f"{MIN_HOURS_PER_MONTH} hours a month.",
    "hour-increments": f"{NAMES['hour-increments']}: hours a month are bought in "
    f"{HOURS_INCREMENT}-hour increments (10, 15, 20, ...).",
    "term-length": f"{NAMES['term-length']}: a TAM term is 6 or 12 months.",
    "project-manager": f"{NAMES['project-manager']}: contracts of {PM_FROM_HOURS} "
    "hours a month or more have an assigned project manager.",
    "start-notice": f"{NAMES['start-notice']}: service starts no earlier than two "
    "business weeks after the contract is signed.",
    "one-active": f"{NAMES['one-active']}: an organisation has one active TAM "
    "contract at a time.",
    "backup-tam": f"{NAMES['backup-tam']}: the backup TAM must be someone other "
    "than the named TAM.",
    "entry-minutes": f"{NAMES['entry-minutes']}: a time entry is between 1 minute "
    "and 24 hours.",
    "out-of-scope": f"{NAMES['out-of-scope']}: out-of-scope work (customer code, "
    "deployments needing additional resources) is done under an approved change "
    "order; choose one.",
}


class RuleViolation(ValidationError):
    """A refusal by one named rule; ``rule`` is its slug (also the error code)."""

    def __init__(self, rule: str, message: str, *, field: str | None = None) -> None:
        self.rule = rule
        text = f"{NAMES[rule]}: {message}"
        if field is None:
            super().__init__(text, code=rule)
        else:
            super().__init__({field: ValidationError(text, code=rule)})


def long_date(day: date) -> str:
    """Return ``day`` as people read it: Friday 27 November 2026."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def period(first: date, last: date) -> str:
    """Return a span of days: 1 Jan 2026 to 30 Jun 2026."""
    return f"{first:%-d %b %Y} to {last:%-d %b %Y}"


def check_hours_and_term(
    *, hours_per_month: int, term_months: int, has_project_manager: bool
) -> list[RuleViolation]:
    """Return the violations of the size rules of a contract (empty when fine)."""
    found = []
    if hours_per_month < MIN_HOURS_PER_MONTH:
        found.append(
            RuleViolation(
                "minimum-hours",
                f"a TAM contract has at least {MIN_HOURS_PER_MONTH} hours a month; "
                f"{hours_per_month} were given.",
                field="hours_per_month",
            )
        )
    elif hours_per_month % HOURS_INCREMENT:
        lower = hours_per_month - hours_per_month % HOURS_INCREMENT
        found.append(
            RuleViolation(
                "hour-increments",
                f"hours are bought in {HOURS_INCREMENT}-hour increments; "
                f"{hours_per_month} is not one (choose {lower} or "
                f"{lower + HOURS_INCREMENT}).",
                field="hours_per_month",
            )
        )
    if term_months not in TERMS_MONTHS:
        found.append(
            RuleViolation(
                "term-length",
                f"a TAM term is 6 or 12 months; {term_months} were given.",
                field="term_months",
            )
        )
    if hours_per_month >= PM_FROM_HOURS and not has_project_manager:
        found.append(
            RuleViolation(
                "project-manager",
                f"contracts of {PM_FROM_HOURS} hours a month or more have an "
                "assigned project manager (and an on-site workshop every 6 months); "
                "choose one.",
                field="project_manager",
            )
        )
    return found


def check_start(
    *, signed_on: date, starts_on: date, earliest_start: date
) -> RuleViolation | None:
    """Refuse a start earlier than two business weeks after signature."""
    if starts_on >= earliest_start:
        return None
    return RuleViolation(
        "start-notice",
        "service starts no earlier than two business weeks after the contract is "
        f"signed; signed on {long_date(signed_on)}, the earliest start is "
        f"{long_date(earliest_start)}.",
        field="starts_on",
    )


def check_licence(
    *, organization: str, licence_ends_on: date, starts_on: date, renewal: bool
) -> RuleViolation | None:
    """Refuse a term (or a renewal) whose start the customer's licence does not
    cover: TAM service runs inside the licence (Janrain TAM: "during the customer's
    license term")."""
    if licence_ends_on >= starts_on:
        return None
    what = "a renewal starting" if renewal else "a TAM term starting"
    return RuleViolation(
        "licence",
        f"TAM service runs inside the customer's licence; {organization}'s licence "
        f"ends on {long_date(licence_ends_on)}, so {what} on {long_date(starts_on)} "
        "is not covered. Extend the licence first.",
        field="starts_on",
    )


def check_meeting_notice(
    *, mode: str, is_international: bool, meeting_day: date, earliest: date
) -> RuleViolation | None:
    """Refuse a meeting requested with less notice than its kind needs."""
    if meeting_day >= earliest:
        return None
    if mode == "remote":
        rule, need = "remote-notice", f"{REMOTE_NOTICE_BUSINESS_DAYS} business days"
        what = "a remote meeting"
    elif is_international:
        rule, need = "onsite-international-notice", "4 business weeks"
        what = "an on-site meeting with international travel"
    else:
        rule, need = "onsite-domestic-notice", "3 business weeks"
        what = "an on-site meeting with domestic travel"
    return RuleViolation(
        rule,
        f"{what} needs at least {need}' notice, counted on the TAM's calendar; "
        f"the earliest allowed date is {long_date(earliest)}.",
        field="starts_at",
    )


def notice_business_days(mode: str, is_international: bool) -> int:
    """Return how many business days of notice a meeting request needs."""
    if mode == "remote":
        return REMOTE_NOTICE_BUSINESS_DAYS
    if is_international:
        return ONSITE_INTERNATIONAL_NOTICE_BUSINESS_DAYS
    return ONSITE_DOMESTIC_NOTICE_BUSINESS_DAYS
