"""Tickets are made the way users make them: through helpdesk.services."""

from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk import services
from helpdesk.models import Ticket
from policies.loader import load_policy_packs
from policies.models import SupportPlan
from tests.accounts.factories import SupportAdministratorFactory

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
