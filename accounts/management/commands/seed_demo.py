"""Load demo data: a superuser, one agent per role, three customer organisations."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import Organization, SupportAdministrator, User
from helpdesk.trust import demo as trust_demo
from policies.loader import load_policy_packs
from policies.models import SupportPlan

DEMO_PASSWORD = "helpdesk-demo"

AGENTS = [
    ("engineer@example.com", "Sam Engineer", roles.SUPPORT_ENGINEER),
    ("escalation@example.com", "Erin Escalation", roles.ESCALATION_ENGINEER),
    ("tam@example.com", "Tara Tam", roles.TAM),
    ("tam.backup@example.com", "Theo Backup", roles.TAM),
    ("pm@example.com", "Pat Manager", roles.PROJECT_MANAGER),
    ("manager@example.com", "Morgan Lead", roles.SUPPORT_MANAGER),
]

# (slug, name, time zone, plan, licence days from today, administrators). A state
# such as an expired licence is data (the licence days), never part of the name: the
# name is printed in sentences ("The licence of Initech ended on ...").
ORGANIZATIONS = [
    (
        "acme",
        "Acme Corporation",
        "America/Los_Angeles",
        "janrain-platinum",
        365,
        [("ada@acme.example", "Ada Admin")],
    ),
    (
        "globex",
        "Globex",
        "Europe/London",
        "jelastic",
        180,
        [("gil@globex.example", "Gil Admin"), ("ada@acme.example", "Ada Admin")],
    ),
    (
        "initech",
        "Initech",
        "America/Denver",
        "jumpcloud",
        -30,
        [("ian@initech.example", "Ian Admin")],
    ),
]

# Where demo agents work: the console shows each one times in their own zone.
AGENT_ZONES = {
    "engineer@example.com": "Europe/London",
    "escalation@example.com": "America/New_York",
    "tam@example.com": "America/Los_Angeles",
    "manager@example.com": "America/Los_Angeles",
}

# Shared canned replies: (name, text, status to set after sending).
MACROS = [
    (
        "Ask for a HAR file",
        "Hello {requester_first_name},\n\nThank you for reporting {reference}. To "
        "find out what the browser sees, could you record a HAR file while the "
        "problem happens and attach it here?\n\nBest regards,\n{agent_name}",
        "waiting",
    ),
    (
        "Acknowledge and investigating",
        "Hello {requester_first_name},\n\nWe are looking into {reference} now and "
        "will update you by {resolution_due_at} at the latest.\n\n{agent_name}",
        "",
    ),
    (
        "Fixed: please confirm",
        "Hello {requester_first_name},\n\nThe fix for {reference} is live. Please "
        "confirm it works for you; reply here if it does not and the ticket "
        "reopens.\n\n{agent_name}",
        "resolved",
    ),
]

# Teams new tickets are routed to (helpdesk.routing): (slug, name, kind, members as
# (e-mail, on call)).
TEAMS = [
    (
        "production-support",
        "Production support",
        "production",
        [("engineer@example.com", True), ("escalation@example.com", False)],
    ),
    (
        "deployment-support",
        "Deployment support",
        "deployment",
        [("engineer@example.com", False), ("pm@example.com", False)],
    ),
    (
        "tam",
        "Technical account managers",
        "tam",
        [("tam@example.com", False), ("tam.backup@example.com", False)],
    ),
]

# Names earlier versions of this command gave, by slug: renamed when still in place.
FORMER_NAMES = {"initech": "Initech (licence expired)"}


class Command(BaseCommand):
    help = (
        "Load the policy packs and create demo users and organisations on plans "
        "(idempotent: existing rows are kept)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Run even when DJANGO_ENV=production (demo passwords are public).",
        )

    def handle(self, *args, allow_production: bool = False, **options):
        if settings.IS_PRODUCTION and not allow_production:
            raise CommandError(
                "refusing to create demo logins with a public password in production "
                "(pass --allow-production to insist)"
            )
        with transaction.atomic():
            for slug, report in load_policy_packs().items():
                self.stdout.write(f"policy pack {slug}: {report}")
            created = self._seed()
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready ({created} new or updated rows).")
            if created
            else "Demo data already present; nothing changed."
        )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for email, description in self._logins():
            self.stdout.write(f"  {email:<26} {description}")

    def _seed(self) -> int:
        created = 0
        _, new = self._user("admin@example.com", "Demo Superuser", superuser=True)
        created += new
        for email, name, role in AGENTS:
            user, new = self._user(email, name, staff=True)
            created += new
            if new:
                user.groups.add(Group.objects.get(name=role))
                if email in AGENT_ZONES:
                    user.time_zone = AGENT_ZONES[email]
                    user.save(update_fields=["time_zone"])
        today = timezone.localdate()
        for slug, name, tz, plan, licence_days, admins in ORGANIZATIONS:
            org, new = Organization.objects.get_or_create(
                slug=slug,
                defaults={
                    "name": name,
                    "time_zone": tz,
                    "support_plan": SupportPlan.objects.get(slug=plan),
                    "licence_active_until": today + timedelta(days=licence_days),
                },
            )
            created += new
            if not new and org.name == FORMER_NAMES.get(slug):
                self.stdout.write(
                    f"organisation {slug}: renamed {org.name!r} to {name!r}"
                )
                org.name = name
                org.save(update_fields=["name", "updated_at"])  # history: the rename
                created += 1
            for email, full_name in admins:
                user, new_user = self._user(email, full_name)
                _, new_admin = SupportAdministrator.objects.get_or_create(
                    user=user, organization=org
                )
                created += new_user + new_admin
        created += self._demo_teams()
        created += self._demo_tickets()
        created += self._demo_macros()
        created += self._demo_tam_contract(today)
        created += trust_demo.seed()  # status, knowledge base, release notes
        created += self._demo_plan_revision()
        created += self._demo_inbound_mail()
        return created

    def _demo_inbound_mail(self) -> int:
        """An e-mail from Initech's administrator, refused for the expired licence
        and answered (once: the same bytes are processed once), so the console's
        inbound e-mail list shows what a refusal looks like."""
        from helpdesk.mail.inbound import DUPLICATE, process_message

        raw = (
            b"From: Ian Admin <ian@initech.example>\r\n"
            b"To: " + settings.HELPDESK_SUPPORT_ADDRESS.encode() + b"\r\n"
            b"Subject: TPS report export times out\r\n"
            b"Message-ID: <demo-refused-0001@initech.example>\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            b"Exporting the TPS report times out after 30 seconds.\r\n"
        )
        return int(process_message(raw).outcome != DUPLICATE)

    def _demo_plan_revision(self) -> int:
        """A draft revision of the JumpCloud plan (once): nothing is scheduled, so
        no customer hears of it until an administrator schedules it."""
        from policies import revisions
        from policies.models import PlanRevision

        plan = SupportPlan.objects.get(slug="jumpcloud")
        if PlanRevision.objects.filter(plan=plan).exists():
            return 0
        author = User.objects.get(email="admin@example.com")
        revision = revisions.draft_revision(
            plan,
            actor=author,
            note="Severity 3 tickets answered within 4 business hours instead of 8.",
        )
        content = revision.content
        for target in content["targets"]:
            if target["severity"] == 3:
                target["response_minutes"] = 4 * 60
        revisions.update_draft(revision, content, actor=author)
        return 1

    def _demo_teams(self) -> int:
        """The production, deployment and TAM teams with their members (once)."""
        from accounts.models import Team, TeamMembership

        created = 0
        for slug, name, kind, members in TEAMS:
            team, new = Team.objects.get_or_create(
                kind=kind, defaults={"slug": slug, "name": name}
            )
            created += new
            for email, on_call in members:
                _, new = TeamMembership.objects.get_or_create(
                    team=team,
                    user=User.objects.get(email=email),
                    defaults={"is_on_call": on_call},
                )
                created += new
        return created

    def _demo_tam_contract(self, today) -> int:
        """A running 12-month, 20-hour TAM contract for Acme (once)."""
        from tam.models import TAMContract, TAMProfile
        from tam.services import ContractDraft, create_contract

        acme = Organization.objects.get(slug="acme")
        if TAMContract.objects.filter(organization=acme).exists():
            return 0
        tam = User.objects.get(email="tam@example.com")
        backup = User.objects.get(email="tam.backup@example.com")
        for person in (tam, backup):
            TAMProfile.objects.get_or_create(
                user=person, defaults={"location": TAMProfile.Location.US_PACIFIC}
            )
        create_contract(
            acme,
            ContractDraft(
                tam=tam,
                backup_tam=backup,
                signed_on=today - timedelta(days=60),
                starts_on=today - timedelta(days=30),
                term_months=12,
                hours_per_month=20,
            ),
            acting_user=None,
            today=today,
        )
        return 1

    def _demo_tickets(self) -> int:
        """Two tickets for Acme, filed the way the portal files them (once)."""
        from helpdesk.services import TicketDraft, open_ticket

        acme = Organization.objects.select_related("support_plan").get(slug="acme")
        if acme.tickets.exists():
            return 0
        ada = User.objects.get(email="ada@acme.example")
        severities = {s.level: s for s in acme.support_plan.severities.all()}
        drafts = [
            TicketDraft(
                summary="Social sign-in button missing on the checkout page",
                description="Since this morning's release the Google button is gone.",
                environment="production",
                severity=severities[2],
                urls="https://shop.acme.example/checkout",
                customer_contact="Ada Admin, +1 555 0100, available all day",
            ),
            TicketDraft(
                summary="How do we add a second Client ID for the mobile app?",
                description="We are building an iOS app and need guidance.",
                environment="deployment",
            ),
        ]
        for draft in drafts:
            open_ticket(acme, draft, requester=ada, filed_by=ada)
        return len(drafts)

    def _demo_macros(self) -> int:
        """The shared canned replies (once), written by the demo superuser."""
        from helpdesk.macros import save_macro
        from helpdesk.models import Macro

        author = User.objects.get(email="admin@example.com")
        created = 0
        for name, body, then in MACROS:
            if Macro.objects.filter(name=name, owner__isnull=True).exists():
                continue
            macro = Macro(name=name, body=body, then_status=then)
            save_macro(macro, shared=True, actor=author)
            created += 1
        return created

    def _user(
        self,
        email: str,
        full_name: str,
        *,
        staff: bool = False,
        superuser: bool = False,
    ) -> tuple[User, bool]:
        user = User.objects.filter(email__iexact=email).first()
        if user is not None:
            return user, False
        make = User.objects.create_superuser if superuser else User.objects.create_user
        return make(email, DEMO_PASSWORD, full_name=full_name, is_staff=staff), True

    def _logins(self) -> list[tuple[str, str]]:
        logins = [("admin@example.com", "superuser — agent console at /admin/")]
        logins += [(email, f"agent: {role}") for email, _, role in AGENTS]
        for slug, _, _, plan, licence_days, admins in ORGANIZATIONS:
            state = "expired licence" if licence_days < 0 else "active licence"
            logins += [
                (email, f"Support Administrator of {slug} ({plan}, {state})")
                for email, _ in admins
            ]
        return logins
