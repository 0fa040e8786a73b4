"""TAM service runs inside the customer's licence (issue 15 §3.6).

A contract and each renewal need an active licence on their first day: signing is
refused by ``validate_contract`` (``rules.check_licence``); an automatic renewal the
licence does not cover is refused by the daily sweep (``refuse_renewal``), which ends
the contract with the reason and e-mails the Support Managers. Sixty days before such
a renewal is due, ``warn_licence_endings`` (a daily beat task) tells them, once per
contract and licence end, so the licence can be extended in time.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tam import rules
from tam.models import TAMContract
from tam.routing import local_date
from tam.services._common import Status
from tam.services.routing import support_managers

if TYPE_CHECKING:
    from accounts.models import User

logger = logging.getLogger(__name__)

WARNING_DAYS = 60  # managers hear this many days before a refused renewal is due


def renewal_starts_on(contract: TAMContract) -> date:
    return contract.ends_on + timedelta(days=1)


def renewal_refusal(contract: TAMContract) -> rules.RuleViolation | None:
    """Return why ``contract`` may not renew (its licence ends before the renewal
    would start), or None when it may."""
    organization = contract.organization
    return rules.check_licence(
        organization=str(organization),
        licence_ends_on=organization.licence_active_until,
        starts_on=renewal_starts_on(contract),
        renewal=True,
    )


def refuse_renewal(contract: TAMContract, refusal: rules.RuleViolation) -> None:
    """End a contract whose renewal a rule refused, keeping the reason, and queue
    the Support Managers' e-mail (once per contract). Runs in the sweep's
    transaction with the contract row locked."""
    reason = refusal.messages[0]
    contract.status = Status.ENDED
    contract.renewal_refusal = reason[
        : TAMContract._meta.get_field("renewal_refusal").max_length
    ]
    contract._change_reason = "term ended; renewal refused (licence)"
    contract._history_user = None  # the sweep, not a person
    contract.save(update_fields=["status", "renewal_refusal", "updated_at"])
    _tell_managers(
        contract,
        template="tam_renewal_refused",
        key=f"tam-renewal-refused:{contract.pk}",
        reason=reason,
    )


def _tell_managers(
    contract: TAMContract, *, template: str, key: str, reason: str
) -> int:
    from helpdesk.emails import queue_email
    from helpdesk.models import OutboundEmail

    managers: list[User] = support_managers()
    keys = {m.email: f"{key}:{m.email}" for m in managers}
    already = set(
        OutboundEmail.objects.filter(key__in=keys.values()).values_list(
            "key", flat=True
        )
    )
    queued = 0
    for manager in managers:
        if keys[manager.email] in already:
            continue
        queue_email(
            key=keys[manager.email],
            to=manager.email,
            template=template,
            context={
                "contract": contract,
                "organization": contract.organization,
                "manager": manager,
                "reason": reason,
                "renewal_starts_on": renewal_starts_on(contract),
                "report_path": contract.get_absolute_url(),
            },
        )
        queued += 1
    return queued


def warn_licence_endings(*, now: datetime | None = None) -> dict[str, int]:
    """E-mail the Support Managers about each contract that will renew within
    ``WARNING_DAYS`` days into a period its customer's licence does not cover.

    Once per contract and licence end date (the outbox key holds both), so a run
    the next day sends nothing new, and a licence shortened again is told again.
    Safe to run late: a renewal already due is the sweep's to refuse.
    """
    now = now or timezone.now()
    # Every zone's local date is within 14 h of UTC.
    horizon = (now + timedelta(hours=14)).date() + timedelta(days=WARNING_DAYS)
    candidates = (
        TAMContract.objects.filter(
            status__in=TAMContract.CURRENT_STATUSES,
            auto_renew=True,
            notice_received_on__isnull=True,
            ends_on__lt=horizon,
            # The renewal would start the day after ends_on: uncovered when the
            # licence's last day is on or before ends_on.
            organization__licence_active_until__lte=F("ends_on"),
        )
        .select_related("organization")
        .order_by("ends_on", "pk")
    )
    counts = {"contracts": 0, "queued": 0, "failed": 0}
    for contract in candidates:
        today = local_date(now, contract.time_zone)
        starts_on = renewal_starts_on(contract)
        if not today < starts_on <= today + timedelta(days=WARNING_DAYS):
            continue
        refusal = renewal_refusal(contract)
        if refusal is None:
            continue
        try:
            with transaction.atomic():
                counts["queued"] += _tell_managers(
                    contract,
                    template="tam_licence_ending",
                    key=(
                        f"tam-licence-ending:{contract.pk}:"
                        f"{contract.organization.licence_active_until.isoformat()}"
                    ),
                    reason=refusal.messages[0],
                )
        except Exception:
            counts["failed"] += 1
            logger.exception("licence warning for TAM contract %s failed", contract.pk)
            continue
        counts["contracts"] += 1
    return counts
