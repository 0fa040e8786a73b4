"""Writes about ticket routing: an organisation's routing preference, and who the
Support Managers are. The read-only routing hooks live in ``tam.routing``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from accounts import roles
from tam.models import RoutingPreference

if TYPE_CHECKING:
    from accounts.models import Organization, User


@transaction.atomic
def set_routing(
    organization: Organization, mode: str, *, acting_user: User | None
) -> RoutingPreference:
    """Choose whether all deployment tickets go to the TAM or the customer chooses."""
    preference = RoutingPreference.objects.select_for_update().filter(
        organization=organization
    ).first() or RoutingPreference(organization=organization)
    preference.mode = mode
    preference.full_clean()
    preference._history_user = acting_user
    preference.save()
    return preference


def support_managers() -> list[User]:
    """Return the active agents in the Support Manager role."""
    return roles.members(roles.SUPPORT_MANAGER)
