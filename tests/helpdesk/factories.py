"""Tickets are made the way users make them: through helpdesk.services."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk import services
from helpdesk.models import SLOClock, Ticket
from policies.loader import load_policy_packs
from policies.models import SupportPlan
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
    b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe"
    b"\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def png(name: str = "screenshot.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PNG, content_type="image/png")


def text_file(
    name: str = "app.log", body: str = "GET /login 500\n"
) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body.encode(), content_type="text/plain")


def plan(slug: str = "janrain-platinum") -> SupportPlan:
    if not SupportPlan.objects.filter(slug=slug).exists():
        load_policy_packs([slug])
    return SupportPlan.objects.get(slug=slug)


def administrator(plan_slug: str = "janrain-platinum", **kwargs):
    """A named Support Administrator of a licensed organisation on ``plan_slug``."""
    return SupportAdministratorFactory(
        organization__support_plan=plan(plan_slug), **kwargs
    )


def draft(**overrides) -> services.TicketDraft:
    values = {
        "summary": "Login widget returns 500",
        "description": "Since 09:00 the sign-in widget fails for every user.",
        "environment": "production",
    }
    return services.TicketDraft(**(values | overrides))


def file_ticket(admin=None, **overrides) -> Ticket:
    admin = admin or administrator()
    return services.open_ticket(
        admin.organization,
        draft(**overrides),
        requester=admin.user,
        filed_by=admin.user,
    )


def many_due_clocks(count: int) -> None:
    """``count`` open Jelastic Level 1 tickets whose 2 h response target passed,
    opened a second apart (3 h ago and earlier), so their alerts are not all at
    one instant."""
    admin = administrator("jelastic")
    AgentFactory(role="Support Engineer")
    level_1 = admin.organization.support_plan.severities.get(level=1)
    template = file_ticket(admin, severity=level_1, customer_contact="Ada")
    clock = SLOClock.objects.get(ticket=template)
    latest = timezone.now() - timedelta(hours=3)
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                reference=f"HD-9{i:05d}",
                organization=template.organization,
                requester=template.requester,
                filed_by=template.filed_by,
                plan=template.plan,
                severity=level_1,
                summary=f"Outage {i}",
                description="down",
                environment="production",
            )
            for i in range(count)
        ]
    )
    SLOClock.objects.bulk_create(
        [
            SLOClock(
                ticket=ticket,
                metric=clock.metric,
                started_at=opened,
                target=clock.target,
                target_label=clock.target_label,
                due_at=opened + clock.target,
                warning_75_at=opened + clock.target * 0.75,
                warning_90_at=opened + clock.target * 0.9,
            )
            for i, ticket in enumerate(tickets)
            for opened in [latest - timedelta(seconds=i)]
        ]
    )
