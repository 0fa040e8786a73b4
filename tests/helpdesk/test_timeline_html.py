"""The ticket page's timeline built in Python (helpdesk.console.timeline_html) and
read as plain rows (helpdesk.timeline): the same markup the template had, every
value escaped, files linked only for those who may open them; who changed what,
named as people are everywhere else."""

import re
from datetime import UTC, datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from accounts import roles
from helpdesk import services
from helpdesk.console import timeline_html
from helpdesk.models import Attachment
from helpdesk.timeline import Entry
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import file_ticket

# The loop the ticket page's template had, kept here as the reference markup.
TEMPLATE = """{% load instants %}{% for entry in timeline %}
      <li class="{{ entry.css }}">
        <div class="entry-head">
          <span class="entry-label">{{ entry.label }}</span>
          <strong>{{ entry.who }}</strong>{% if entry.role %} <span class="entry-role">({{ entry.role }})</span>{% endif %}
          <time datetime="{{ entry.at.isoformat }}">{{ entry.at|instant }}</time>
        </div>
        <div class="entry-body">{{ entry.body|linebreaksbr }}</div>
        {% if entry.attachments %}
        <ul class="entry-files">
          {% for item in entry.attachments %}
          <li>{% if perms.helpdesk.view_attachment %}<a href="{% url 'admin:helpdesk_attachment_download' item.pk %}">{{ item.original_name }}</a>{% else %}{{ item.original_name }}{% endif %} <span class="entry-role">({{ item.size|filesizeformat }})</span></li>
          {% endfor %}
        </ul>
        {% endif %}
        {% if entry.original_email_id and perms.helpdesk.view_attachment %}
        <ul class="entry-files"><li><a href="{% url 'admin:helpdesk_inboundmessage_original' entry.original_email_id %}">The e-mail as received (.eml)</a></li></ul>
        {% endif %}
      </li>
      {% empty %}
      <li class="entry">No messages yet.</li>
      {% endfor %}"""  # noqa: E501

HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def tags_only(html: str) -> str:
    """The markup with the template's indentation between tags dropped."""
    return re.sub(r">\s+<", "><", html.strip())


def entries() -> list[Entry]:
    at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)  # the day the US leaves DST
    return [
        Entry(
            at=at,
            kind="public",
            label=f"Filed {HOSTILE}",
            who=f"Ada {HOSTILE}",
            role="customer",
            body=f"Line one\r\nLine two {HOSTILE}\n\nLast",
            attachments=[
                Attachment(pk=7, original_name=f"har{HOSTILE}.har", size=2_500_000),
                Attachment(pk=8, original_name="a.png", size=10),
            ],
            original_email_id=41,
        ),
        Entry(
            at=at.replace(hour=10),
            kind="internal",
            label="Internal note (agents only)",
            who="Erin",
            role=f"Support Engineer, {HOSTILE}",
            body="Likely the IdP cert.",
        ),
        Entry(
            at=at.replace(hour=11),
            kind="status",
            label="Change",
            who="the system",
            role="",
            body="Status: New → Waiting on customer",
        ),
    ]


@pytest.mark.parametrize("may_download", [True, False])
@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "UTC"])
def test_the_entries_are_the_templates_markup(may_download, zone):
    shown = entries()
    with timezone.override(zone):
        built = timeline_html.render(shown, may_download=may_download)
        reference = Template(TEMPLATE).render(
            Context(
                {
                    "timeline": shown,
                    "perms": {"helpdesk": {"view_attachment": may_download}},
                }
            )
        )

    assert tags_only(built) == tags_only(reference)
    assert "<script>" not in built
    assert "Line one<br>Line two" in built
    assert ("/attachments/7/" in built) is may_download
    assert ("as received (.eml)" in built) is may_download
    # The spaces between the label, the name and the time are kept.
    assert "</span> <strong>Ada " in built


def test_an_empty_timeline_says_so():
    assert tags_only(timeline_html.render([], may_download=True)) == tags_only(
        Template(TEMPLATE).render(Context({"timeline": [], "perms": {}}))
    )


@pytest.mark.django_db
def test_changes_name_who_made_them_and_the_people_assigned(client):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Erin Engineer")
    other = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="")
    ticket = file_ticket()
    services.assign_ticket(ticket, agent, actor=agent)
    services.assign_ticket(ticket, other, actor=agent)
    services.set_tam_routed(ticket, True, actor=agent)
    ticket.refresh_from_db()  # as each request reads it
    services.assign_ticket(ticket, None, actor=agent)
    services.set_tam_routed(ticket, False, actor=agent)
    services.post_reply(ticket, author=other, body="On it.\nSecond line.")
    client.force_login(agent)

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    changes = [(e.who, e.body) for e in page.context["timeline"] if e.kind == "status"]
    assert changes == [
        ("Erin Engineer", "Assigned to Erin Engineer"),
        ("Erin Engineer", f"Assigned to {other.email}"),
        ("Erin Engineer", "Routed to the TAM"),
        ("Erin Engineer", "Unassigned"),
        ("Erin Engineer", "No longer TAM-routed"),
        (other.email, "Status: New → Open"),  # the first public reply
    ]
    reply = next(e for e in page.context["timeline"] if e.body.startswith("On it"))
    assert (reply.who, reply.role, reply.kind) == (
        other.email,
        roles.SUPPORT_ENGINEER,
        "public",
    )
    assert "On it.<br>Second line." in page.content.decode()


@pytest.mark.django_db
def test_an_assignee_since_deleted_is_said_to_be(client):
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Erin Engineer")
    gone = AgentFactory(role=roles.SUPPORT_ENGINEER, full_name="Gone Soon")
    ticket = file_ticket()
    services.assign_ticket(ticket, gone, actor=agent)
    services.assign_ticket(ticket, agent, actor=agent)
    gone.delete()
    client.force_login(agent)

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    changes = [e.body for e in page.context["timeline"] if e.kind == "status"]
    assert changes[:2] == ["Assigned to a deleted user", "Assigned to Erin Engineer"]
