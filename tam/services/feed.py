"""The calendar feed of a contract: its URL carries a secret token (calendar apps
cannot log in), so whoever holds the link reads the meetings. Replacing the token
kills every copy of the old link at once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction

from tam.models import TAMContract

if TYPE_CHECKING:
    from accounts.models import User

CHANGE_CONTRACT = "tam.change_tamcontract"


def may_rotate_feed_token(user: User | None, contract: TAMContract) -> bool:
    """Return whether ``user`` may replace the feed link of ``contract``: a named
    Support Administrator of its organisation, or an active agent who may change
    TAM contracts (Support Managers, superusers)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff and user.has_perm(CHANGE_CONTRACT):
        return True
    return contract.organization.administrators.filter(user=user).exists()


@transaction.atomic
def rotate_feed_token(contract: TAMContract, *, acting_user: User) -> TAMContract:
    """Give ``contract`` a new feed token and return the contract as stored.

    The old feed URL stops resolving as soon as this commits (the feed looks the
    contract up by its token alone). Refuses with ``PermissionDenied`` unless
    ``may_rotate_feed_token``; the history records who replaced it.
    """
    if not may_rotate_feed_token(acting_user, contract):
        raise PermissionDenied(
            "Only the customer's Support Administrators and agents who may change "
            "TAM contracts can replace the calendar link."
        )
    locked = TAMContract.objects.select_for_update().get(pk=contract.pk)
    locked.feed_token = uuid.uuid4()
    locked._history_user = acting_user
    locked._change_reason = "Calendar feed link replaced"
    locked.save(update_fields=["feed_token", "updated_at"])
    contract.feed_token = locked.feed_token
    return locked
