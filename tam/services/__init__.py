"""Every write to TAM contracts goes through here: admin, views, tasks and commands.

Each service runs in one transaction, checks the rules of ``tam.rules`` first (so a
refusal names its rule and changes nothing) and records who acted in the history.
The read-only hooks of the ticket core live in ``tam.routing`` and are re-exported.

Import from ``tam.services``; the rules are grouped by subject:

- ``contracts``: the signed contract (``ContractDraft``, ``validate_contract``,
  ``create_contract``, ``earliest_start``) and the term's ``unused_minutes``.
- ``renewal``: activation, automatic renewal, the grace period and written notices
  (``renew_due_contracts``, ``record_notice``).
- ``hours``: time entries against the monthly buckets (``validate_time_entry``,
  ``record_time_entry``) and whose time an agent may log (``bookable_agents``,
  ``may_log_time_for_others``).
- ``feed``: the secret link of a contract's calendar feed (``rotate_feed_token``,
  ``may_rotate_feed_token``).
- ``meetings``: planned and requested meetings (``generate_meetings``,
  ``validate_meeting_request``, ``request_meeting``, ``cancel_meeting``).
- ``changes``: changing who works a contract and whether it renews
  (``validate_contract_change``, ``change_contract``).
- ``routing``: the routing preference (``set_routing``) and ``support_managers``.
- ``monthly_report``: the monthly hours report (``send_monthly_hours_report``,
  ``previous_month``).
- ``licence``: TAM service inside the customer's licence (``warn_licence_endings``;
  the sweep's ``renewal_refusal``).
- ``banking``: banked hours scheduled into months of the next term
  (``schedule_banked_hours``, ``may_schedule_banked_hours``).
- ``_common``: private helpers shared by the modules above.
"""

from tam.models import IN_SCOPE
from tam.routing import (
    hours_remain,
    should_route_to_tam,
    tam_due_for,
    tam_for,
    tam_schedule,
)
from tam.services.banking import (
    may_schedule_banked_hours,
    schedule_banked_hours,
    unscheduled_minutes,
)
from tam.services.changes import change_contract, validate_contract_change
from tam.services.contracts import (
    ContractDraft,
    create_contract,
    earliest_start,
    unused_minutes,
    validate_contract,
)
from tam.services.feed import may_rotate_feed_token, rotate_feed_token
from tam.services.hours import (
    bookable_agents,
    is_agent,
    may_log_time_for_others,
    record_time_entry,
    validate_time_entry,
)
from tam.services.licence import warn_licence_endings
from tam.services.meetings import (
    cancel_meeting,
    earliest_meeting_day,
    generate_meetings,
    request_meeting,
    validate_meeting_request,
)
from tam.services.monthly_report import previous_month, send_monthly_hours_report
from tam.services.renewal import record_notice, renew_due_contracts
from tam.services.routing import set_routing, support_managers

__all__ = [
    "IN_SCOPE",
    "ContractDraft",
    "bookable_agents",
    "cancel_meeting",
    "change_contract",
    "create_contract",
    "earliest_meeting_day",
    "earliest_start",
    "generate_meetings",
    "hours_remain",
    "is_agent",
    "may_log_time_for_others",
    "may_rotate_feed_token",
    "may_schedule_banked_hours",
    "previous_month",
    "record_notice",
    "record_time_entry",
    "renew_due_contracts",
    "request_meeting",
    "rotate_feed_token",
    "schedule_banked_hours",
    "send_monthly_hours_report",
    "set_routing",
    "should_route_to_tam",
    "support_managers",
    "tam_due_for",
    "tam_for",
    "tam_schedule",
    "unscheduled_minutes",
    "unused_minutes",
    "validate_contract",
    "validate_contract_change",
    "validate_meeting_request",
    "validate_time_entry",
    "warn_licence_endings",
]
