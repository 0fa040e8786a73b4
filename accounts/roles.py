"""Agent roles: Django groups and the model permissions each one holds.

The groups are created by a data migration; their permissions are granted after every
``migrate`` (``accounts.apps``), because a fresh database has no permission rows until
the migrations have run. Permissions that an administrator adds to a group by hand are
kept; a permission for a model that does not exist yet is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable

SUPPORT_ENGINEER = "Support Engineer"
ESCALATION_ENGINEER = "Escalation Engineer"
TAM = "TAM"
PROJECT_MANAGER = "Project Manager"
SUPPORT_MANAGER = "Support Manager"

AGENT_ROLES = (
    SUPPORT_ENGINEER,
    ESCALATION_ENGINEER,
    TAM,
    PROJECT_MANAGER,
    SUPPORT_MANAGER,
)


def _perms(app_label: str, actions: str, *models: str) -> list[str]:
    return [
        f"{app_label}.{action}_{model}"
        for model in models
        for action in actions.split()
    ]


_POLICY_MODELS = (
    "businesscalendar",
    "supportplan",
    "severity",
    "slotarget",
    "severitycap",
    "planrevision",  # dated plan changes (policies.revisions)
    "catalogueentry",  # products and aliases that caps apply to (issue 15 §3.2)
)
_TAM_MODELS = (
    "tamcontract",
    "hourbucket",
    "timeentry",
    "meeting",
    "changeorder",
    "tamprofile",
    "routingpreference",
)

# Everyone who works tickets reads customers, plans and targets.
_READ_CUSTOMERS_AND_POLICIES = [
    *_perms("accounts", "view", "organization", "supportadministrator", "user"),
    *_perms("accounts", "view", "team", "teammembership"),  # routing (§3.5)
    *_perms("policies", "view", *_POLICY_MODELS),
]
_WORK_TICKETS = [
    *_perms("helpdesk", "view add change", "ticket", "message", "attachment"),
    *_perms("helpdesk", "view add", "severitychange"),
    *_perms("helpdesk", "view", "escalation", "sloclock"),
    # Inbound e-mail refused in the last 30 days (helpdesk.admin.inbound).
    *_perms("helpdesk", "view", "inboundmessage"),
    # Canned replies: everyone who answers keeps their own (helpdesk.macros).
    *_perms("helpdesk", "view add change delete", "macro"),
]
_READ_TAM = _perms("tam", "view", *_TAM_MODELS)

ROLE_PERMISSIONS: dict[str, list[str]] = {
    SUPPORT_ENGINEER: [*_READ_CUSTOMERS_AND_POLICIES, *_WORK_TICKETS],
    ESCALATION_ENGINEER: [
        *_READ_CUSTOMERS_AND_POLICIES,
        *_WORK_TICKETS,
        *_perms("helpdesk", "change", "severitychange", "escalation"),
    ],
    TAM: [
        *_READ_CUSTOMERS_AND_POLICIES,
        *_WORK_TICKETS,
        *_READ_TAM,
        *_perms("tam", "add change", "timeentry", "meeting", "changeorder"),
    ],
    PROJECT_MANAGER: [
        *_READ_CUSTOMERS_AND_POLICIES,
        *_perms("helpdesk", "view", "ticket", "message"),
        *_READ_TAM,
        *_perms("tam", "add change", "meeting", "timeentry"),
    ],
    SUPPORT_MANAGER: [
        *_READ_CUSTOMERS_AND_POLICIES,
        *_WORK_TICKETS,
        *_READ_TAM,
        *_perms("accounts", "add change", "organization", "supportadministrator"),
        *_perms("accounts", "delete", "supportadministrator"),
        # Teams, their members and who is on call (helpdesk.routing).
        *_perms("accounts", "add change", "team"),
        *_perms("accounts", "add change delete", "teammembership"),
        *_perms("helpdesk", "change", "severitychange", "escalation"),
        # How far behind the SLO sweep is (the admin's "SLO sweep" page).
        *_perms("helpdesk", "view", "slosweep"),
        "helpdesk.view_slo_attainment",
        # Shared canned replies speak for support to every customer: the managers
        # own their wording (helpdesk.macros).
        "helpdesk.share_macro",
        "helpdesk.change_outboundemail",  # the outbox: stuck mail and "Retry now"
        *_perms("policies", "add change", *_POLICY_MODELS),
        *_perms("tam", "add change", *_TAM_MODELS),
    ],
}


# The trust site (helpdesk.trust). Everyone reads what the public reads, plus the
# documentation-error queue. Those who work incidents and know the fixes (engineers,
# escalation engineers, TAMs) run incidents and write articles, and work the error
# queue; project managers plan releases and maintenance; Support Managers own the
# structure (components, categories), may delete, see the subscribers' addresses
# and the deflection report.
_TRUST_READ = _perms(
    "trust",
    "view",
    "component",
    "incident",
    "incidentupdate",
    "maintenancewindow",
    "category",
    "article",
    "releasenote",
    "documentationreport",
)
_TRUST_AUTHOR = [
    *_perms("trust", "add change", "incident", "article"),
    "trust.add_incidentupdate",
    "trust.change_documentationreport",
]
_TRUST = {
    SUPPORT_ENGINEER: [*_TRUST_READ, *_TRUST_AUTHOR],
    ESCALATION_ENGINEER: [*_TRUST_READ, *_TRUST_AUTHOR],
    TAM: [*_TRUST_READ, *_TRUST_AUTHOR],
    PROJECT_MANAGER: [
        *_TRUST_READ,
        *_perms("trust", "add change", "maintenancewindow", "releasenote", "article"),
    ],
    SUPPORT_MANAGER: [
        *_TRUST_READ,
        *_TRUST_AUTHOR,
        *_perms(
            "trust",
            "add change delete",
            "component",
            "category",
            "maintenancewindow",
            "releasenote",
        ),
        "trust.delete_article",
        *_perms("trust", "view delete", "statussubscriber"),
        "trust.view_deflection_report",
    ],
}
for _role, _trust_perms in _TRUST.items():
    ROLE_PERMISSIONS[_role] = [*ROLE_PERMISSIONS[_role], *_trust_perms]


def grant_role_permissions(
    group_model, permission_model, roles: Iterable[str] = AGENT_ROLES
) -> None:
    """Create the role groups if missing and add the permissions that exist."""
    wanted = {perm for role in roles for perm in ROLE_PERMISSIONS[role]}
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in permission_model.objects.select_related("content_type")
        if f"{p.content_type.app_label}.{p.codename}" in wanted
    }
    for role in roles:
        group, _ = group_model.objects.get_or_create(name=role)
        present = [by_name[name] for name in ROLE_PERMISSIONS[role] if name in by_name]
        group.permissions.add(*present)


def members(role: str):
    """Return the active agents in ``role``, ordered by e-mail (empty if no group)."""
    from accounts.models import User

    return list(
        User.objects.filter(groups__name=role, is_active=True, is_staff=True).order_by(
            "email"
        )
    )
