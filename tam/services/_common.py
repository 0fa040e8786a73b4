"""Private helpers shared by the service modules: collecting rule violations, role
checks and the contract status alias."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

from tam.models import TAMContract

if TYPE_CHECKING:
    from accounts.models import User

Status = TAMContract.Status


def _raise(violations: list[ValidationError]) -> None:
    """Raise all violations together, field by field."""
    if not violations:
        return
    errors: dict[str, list[ValidationError]] = {}
    for violation in violations:
        for name, items in violation.error_dict.items():
            errors.setdefault(name, []).extend(items)
    raise ValidationError(errors)


def _in_role(user: User | None, role: str) -> bool:
    if user is None or not user.is_active or not user.is_staff:
        return False
    return user.groups.filter(name=role).exists()
