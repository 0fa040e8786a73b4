"""Changing a signed contract: who works it (TAM, backup TAM, project manager) and
whether it renews; the term itself stays as signed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import roles
from tam import rules
from tam.models import TAMContract
from tam.services._common import _in_role, _raise

if TYPE_CHECKING:
    from accounts.models import User


def validate_contract_change(
    contract: TAMContract,
    *,
    tam: User,
    backup_tam: User,
    project_manager: User | None,
) -> None:
    """Raise a ValidationError naming the rules a change of people would break."""
    violations: list[ValidationError] = []
    if not _in_role(tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role", f"{tam} is not an agent in the TAM role.", field="tam"
            )
        )
    if backup_tam == tam:
        violations.append(
            rules.RuleViolation(
                "backup-tam",
                "the backup TAM must be someone other than the named TAM.",
                field="backup_tam",
            )
        )
    elif not _in_role(backup_tam, roles.TAM):
        violations.append(
            rules.RuleViolation(
                "tam-role",
                f"{backup_tam} is not an agent in the TAM role.",
                field="backup_tam",
            )
        )
    if project_manager is None and contract.hours_per_month >= rules.PM_FROM_HOURS:
        violations.append(
            rules.RuleViolation(
                "project-manager",
                f"contracts of {rules.PM_FROM_HOURS} hours a month or more have an "
                "assigned project manager.",
                field="project_manager",
            )
        )
    elif project_manager is not None and not _in_role(
        project_manager, roles.PROJECT_MANAGER
    ):
        violations.append(
            rules.RuleViolation(
                "pm-role",
                f"{project_manager} is not an agent in the Project Manager role.",
                field="project_manager",
            )
        )
    _raise(violations)


@transaction.atomic
def change_contract(
    contract: TAMContract,
    *,
    tam: User,
    backup_tam: User,
    project_manager: User | None,
    auto_renew: bool,
    acting_user: User | None,
) -> TAMContract:
    """Change who works a contract, or whether it renews; the term stays as signed."""
    validate_contract_change(
        contract, tam=tam, backup_tam=backup_tam, project_manager=project_manager
    )
    contract.tam, contract.backup_tam = tam, backup_tam
    contract.project_manager, contract.auto_renew = project_manager, auto_renew
    contract._history_user = acting_user
    contract.save(
        update_fields=[
            "tam",
            "backup_tam",
            "project_manager",
            "auto_renew",
            "updated_at",
        ]
    )
    return contract
