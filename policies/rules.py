"""Severity rules that ticket filing and severity changes share."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.models import Severity, SupportPlan


def severity_cap_error(plan: SupportPlan, component: str, severity: Severity) -> str:
    """Return why ``severity`` is refused for ``component`` on ``plan``, or "".

    Jelastic caps .Net and MS-SQL at Level 2: Level 1 for ".net" is refused with a
    message that names the cap. Components match case-insensitively.
    """
    wanted = component.strip().casefold()
    if not wanted:
        return ""
    for cap in plan.caps.all():
        if cap.component.casefold() == wanted and cap.refuses(severity.level):
            reason = f" {cap.reason}" if cap.reason else ""
            return (
                f"Issues with {cap.component} are at most Level {cap.max_level} on the "
                f"{plan} plan; choose Level {cap.max_level} or lower.{reason}"
            )
    return ""
