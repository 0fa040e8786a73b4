"""The customer portal: every URL walked as every kind of visitor, and the flows."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from helpdesk import services
from helpdesk.models import Message, Ticket
from tests.accounts.factories import (
    PASSWORD,
    AgentFactory,
    SupportAdministratorFactory,
    UserFactory,
)
from tests.helpdesk.factories import administrator, file_ticket, png, text_file

pytestmark = pytest.mark.django_db

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"


@pytest.fixture
def world():
    """Two customers on a plan, each with a ticket that has an attachment."""
    ours = administrator()
    theirs = administrator()
    our_ticket = file_ticket(ours, uploads=[png()])
    their_ticket = file_ticket(theirs, uploads=[png()])
    services.change_status(our_ticket, "resolved", actor=AgentFactory())
    return {
        "ours": ours,
        "theirs": theirs,
        "our_ticket": our_ticket,
        "their_ticket": their_ticket,
    }


def _urls(ticket: Ticket) -> dict[str, tuple[str, str]]:
    attachment = ticket.attachments.get()
    return {
        "tickets": ("get", reverse("portal:tickets")),
        "new": ("get", reverse("portal:new_ticket")),
        "file": ("post", reverse("portal:new_ticket")),
        "ticket": ("get", ticket.get_absolute_url()),
        "reply": ("post", ticket.get_absolute_url()),
        "reopen": ("post", reverse("portal:reopen", args=[ticket.reference])),
        "attachment": ("get", attachment.get_absolute_url()),
        "plan": ("get", reverse("portal:plan")),
        "choose": ("get", reverse("portal:choose")),
    }


def _visit(client, method, url):
    data = {"body": "Still failing", "summary": "x"} if method == "post" else None
    return getattr(client, method)(url, data)


PAGES = [
    "tickets",
    "new",
    "file",
    "ticket",
    "reply",
    "reopen",
    "attachment",
    "plan",
    "choose",
]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, world, name):
    method, url = _urls(world["our_ticket"])[name]

    response = _visit(client, method, url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize("who", ["customer user", "agent"])
def test_people_who_are_not_named_administrators_get_a_page_that_says_why(
    client, world, name, who
):
    user = UserFactory() if who == "customer user" else AgentFactory()
    client.force_login(user)
    method, url = _urls(world["our_ticket"])[name]

    response = _visit(client, method, url)

    assert response.status_code == 403
    assert b"named Support Administrators" in response.content
    assert b"Traceback" not in response.content
    assert Message.objects.count() == 0


@pytest.mark.parametrize("name", ["ticket", "reply", "reopen", "attachment"])
def test_another_organisations_tickets_and_attachments_are_not_found(
    client, world, name
):
    client.force_login(world["theirs"].user)
    method, url = _urls(world["our_ticket"])[name]

    response = _visit(client, method, url)

    assert response.status_code == 404
    assert world["our_ticket"].reference.encode() not in response.content


def test_the_ticket_list_shows_only_my_organisation(client, world):
    client.force_login(world["ours"].user)

    response = client.get(reverse("portal:tickets"))

    assert world["our_ticket"].reference.encode() in response.content
    assert world["their_ticket"].reference.encode() not in response.content


@pytest.fixture
def expired(world):
    organization = world["ours"].organization
    organization.licence_active_until = date(2020, 1, 31)
    organization.save()
    return world


@pytest.mark.parametrize("name", ["new", "file", "reply", "reopen"])
def test_an_expired_licence_refuses_filing_and_replying_and_says_why(
    client, expired, name
):
    client.force_login(expired["ours"].user)
    method, url = _urls(expired["our_ticket"])[name]

    response = _visit(client, method, url)

    assert response.status_code == 403
    assert b"ended on 31 January 2020" in response.content
    assert Ticket.objects.count() == 2
    assert Message.objects.count() == 0


@pytest.mark.parametrize("name", ["tickets", "ticket", "attachment", "plan"])
def test_an_expired_licence_still_reads_its_history(client, expired, name):
    client.force_login(expired["ours"].user)
    method, url = _urls(expired["our_ticket"])[name]

    response = _visit(client, method, url)

    assert response.status_code == 200


@pytest.mark.parametrize("name", ["tickets", "ticket", "plan"])
def test_an_expired_licence_offers_no_new_ticket_link_but_says_why(
    client, expired, name
):
    client.force_login(expired["ours"].user)
    method, url = _urls(expired["our_ticket"])[name]

    response = _visit(client, method, url)

    assert f'href="{reverse("portal:new_ticket")}"'.encode() not in response.content
    assert b"No new tickets: the licence ended on 31 January 2020" in response.content


@pytest.mark.parametrize("name", ["tickets", "ticket", "plan"])
def test_an_active_licence_offers_the_new_ticket_link(client, world, name):
    client.force_login(world["ours"].user)
    method, url = _urls(world["our_ticket"])[name]

    response = _visit(client, method, url)

    assert f'href="{reverse("portal:new_ticket")}"'.encode() in response.content
    assert b"No new tickets" not in response.content


def test_the_new_ticket_page_shows_severity_guidance_and_targets(client):
    admin = administrator()
    client.force_login(admin.user)

    response = client.get(reverse("portal:new_ticket"))

    text = response.content.decode()
    assert "Platform services unavailable to all users." in text
    assert "30 min" in text
    assert "1 business day" in text
    assert "If you do not choose, it will be Severity 3" in text
    assert 'value="production"' in text


def test_filing_a_ticket_in_the_portal(client, django_capture_on_commit_callbacks):
    admin = administrator()
    client.force_login(admin.user)
    severity = admin.organization.support_plan.severities.get(level=2)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("portal:new_ticket"),
            {
                "summary": "Checkout sign-in slow",
                "severity": severity.pk,
                "environment": "production",
                "description": "Sign-in takes 30 s for many users.",
                "customer_contact": "Ada, +1 555 0100, 24x7",
                "attachments": [png(), text_file()],
            },
        )

    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == ticket.get_absolute_url()
    assert ticket.severity == severity
    assert ticket.attachments.count() == 2
    assert [m.to for m in mail.outbox] == [[admin.user.email]]
    page = client.get(ticket.get_absolute_url())
    assert b"Checkout sign-in slow" in page.content
    assert b"screenshot.png" in page.content


def test_form_errors_sit_next_to_their_fields_and_nothing_is_created(client):
    admin = administrator()
    client.force_login(admin.user)
    severity = admin.organization.support_plan.severities.get(level=1)

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "",
            "severity": severity.pk,
            "description": PRIVATE_KEY,
            "attachments": [SimpleUploadedExe()],
        },
    )

    form = response.context["form"]
    assert response.status_code == 200
    assert set(form.errors) >= {"summary", "environment", "description", "attachments"}
    text = response.content.decode()
    # In the summary at the top, and again at its field.
    assert text.index("private key") < text.index('id="description-field"')
    assert (
        text.index('id="description-field"')
        < text.index("private key", text.index('id="description-field"'))
        < text.index('id="component-field"')
    )
    assert not Ticket.objects.exists()


def SimpleUploadedExe():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 64)


def test_service_errors_map_onto_fields(client):
    admin = administrator()
    client.force_login(admin.user)
    severity = admin.organization.support_plan.severities.get(level=1)

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "Down",
            "severity": severity.pk,
            "environment": "production",
            "description": "Everything is down",
        },
    )

    assert "customer_contact" in response.context["form"].errors
    assert not Ticket.objects.exists()
    page = response.content.decode()
    # A summary at the top, linking to the field, and a word about attachments.
    assert page.index('id="form-errors"') < page.index('name="summary"')
    assert 'href="#id_customer_contact"' in page
    assert 'id="reattach"' in page


def test_replying_and_reopening_in_the_portal(client, world):
    client.force_login(world["ours"].user)
    ticket = world["our_ticket"]

    client.post(
        reverse("portal:reopen", args=[ticket.reference]), {"body": "Back again"}
    )
    client.post(
        ticket.get_absolute_url(), {"body": "More detail", "attachments": [png()]}
    )

    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert list(ticket.messages.values_list("body", flat=True)) == [
        "Back again",
        "More detail",
    ]
    assert ticket.attachments.count() == 2


def test_internal_notes_and_their_attachments_stay_hidden(client, world):
    ticket = world["our_ticket"]
    note = services.post_reply(
        ticket,
        author=AgentFactory(),
        body="Customer misconfigured SSO",
        internal=True,
        uploads=[text_file("debug.log")],
    )
    client.force_login(world["ours"].user)

    page = client.get(ticket.get_absolute_url())
    hidden = client.get(note.attachments.get().get_absolute_url())

    assert b"misconfigured" not in page.content
    assert b"debug.log" not in page.content
    assert hidden.status_code == 404


def test_attachments_download_with_safe_headers(client, world):
    client.force_login(world["ours"].user)
    item = services.post_reply(
        world["our_ticket"],
        author=world["ours"].user,
        body="log attached",
        uploads=[text_file("page.html", "<script>alert(1)</script>")],
    ).attachments.get()

    response = client.get(item.get_absolute_url())

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"


def test_the_list_filters_and_paginates_in_a_constant_number_of_queries(
    client, django_assert_max_num_queries
):
    admin = administrator()
    plan = admin.organization.support_plan
    sev3 = plan.severities.get(level=3)
    for i in range(30):
        file_ticket(admin, summary=f"Problem {i}", severity=sev3)
    client.force_login(admin.user)

    with django_assert_max_num_queries(12):
        first = client.get(reverse("portal:tickets"))
    second = client.get(reverse("portal:tickets"), {"page": 2, "severity": 3})
    none = client.get(reverse("portal:tickets"), {"status": "closed"})

    assert first.content.count(b'href="/portal/tickets/HD-') == 25
    assert second.content.count(b'href="/portal/tickets/HD-') == 5
    assert b"severity=3" in second.content
    assert b"No tickets match these filters" in none.content


def test_someone_with_several_organisations_picks_one(client):
    first = administrator()
    second = SupportAdministratorFactory(
        user=first.user, organization__support_plan=first.organization.support_plan
    )
    client.force_login(first.user)

    redirect = client.get(reverse("portal:tickets"))
    client.post(reverse("portal:choose"), {"organization": second.organization.slug})
    page = client.get(reverse("portal:tickets"))

    assert redirect.status_code == 302
    assert redirect["Location"].startswith(reverse("portal:choose"))
    assert f"Tickets of {second.organization}".encode() in page.content


def test_choosing_an_organisation_one_does_not_administer_changes_nothing(client):
    first = administrator()
    SupportAdministratorFactory(user=first.user)
    stranger = administrator()
    client.force_login(first.user)

    client.post(reverse("portal:choose"), {"organization": stranger.organization.slug})

    assert client.session.get("portal_organization") is None


def test_my_plan_shows_entitlements_and_the_response_table(client):
    admin = administrator("ironio-247")
    client.force_login(admin.user)

    response = client.get(reverse("portal:plan"))

    text = response.content.decode()
    assert "Iron.io 24/7" in text
    assert "web, e-mail, chat, phone" in text
    assert "technical account manager" in text
    assert "1 h" in text
    assert "3 h" in text


def test_logging_in_and_out_with_an_email_address(client):
    admin = administrator()

    response = client.post(
        reverse("portal:login"),
        {"username": admin.user.email.upper(), "password": PASSWORD},
    )
    logout = client.post(reverse("portal:logout"))

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:tickets")
    assert logout.status_code == 302


def test_password_reset_by_email(client):
    admin = administrator()

    response = client.post(
        reverse("portal:password_reset"), {"email": admin.user.email}
    )

    assert response.status_code == 302
    [email] = mail.outbox
    assert "/portal/password-reset/" in email.body
