"""Severity rules that ticket filing and severity changes share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies import catalogue

if TYPE_CHECKING:
    from policies.models import CatalogueEntry, Severity, SupportPlan


def severity_cap_error(
    plan: SupportPlan,
    component: str,
    severity: Severity,
    product: CatalogueEntry | None = None,
) -> str:
    """Return why ``severity`` is refused for the ticket's product on ``plan``, or "".

    Jelastic caps .Net and MS-SQL at Level 2: Level 1 for the ".Net" catalogue entry,
    or for a component typed as ".NET Core", "MSSQL" or "SQL Server" (its aliases),
    is refused with a message that names the cap. Both the chosen ``product`` and
    the entry the free-text ``component`` names are checked.
    """
    entries = plan.catalogue.all()
    named = [product, catalogue.resolve(component, entries) if component else None]
    for entry in dict.fromkeys(e for e in named if e is not None):
        cap = catalogue.cap_for(plan, entry, severity)
        if cap is not None:
            return _refusal(plan, entry.name, cap)
    # Caps not tied to a catalogue entry match the component's exact name.
    wanted = component.strip().casefold()
    if not wanted:
        return ""
    for cap in plan.caps.all():
        if (
            cap.entry_id is None
            and cap.component.casefold() == wanted
            and cap.refuses(severity.level)
        ):
            return _refusal(plan, cap.component, cap)
    return ""


def _refusal(plan: SupportPlan, name: str, cap) -> str:
    reason = f" {cap.reason}" if cap.reason else ""
    return (
        f"Issues with {name} are at most Level {cap.max_level} on the {plan} plan; "
        f"choose Level {cap.max_level} or lower.{reason}"
    )
