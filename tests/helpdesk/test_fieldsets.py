"""The ticket page's fieldsets built in Python (helpdesk.console.fieldsets): the
markup of the admin's own ``admin/includes/fieldset.html`` for the same form, on the
change page and the filing page, with errors, read-only fields and checkboxes."""

import re

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import AdminForm
from django.forms import modelform_factory
from django.template.loader import get_template
from django.urls import reverse
from django.utils.safestring import mark_safe

from accounts import roles
from accounts.models import Team
from helpdesk.console import fieldsets
from tests.accounts.factories import AgentFactory
from tests.admin_forms import change_form_data
from tests.helpdesk.factories import administrator, file_ticket

pytestmark = pytest.mark.django_db


def tags_only(html: str) -> str:
    """The markup with the template's indentation between tags dropped."""
    return re.sub(r">\s+<", "><", str(html).strip())


def the_admins(adminform) -> str:
    template = get_template("admin/includes/fieldset.html")
    return "\n".join(
        template.render(
            {
                "fieldset": fieldset,
                "heading_level": 2,
                "prefix": "fieldset",
                "id_prefix": 0,
                "id_suffix": n,
            }
        )
        for n, fieldset in enumerate(adminform)
    )


def assert_the_admins_markup(page):
    adminform = page.context["adminform"]
    built = fieldsets.render(adminform)
    assert tags_only(built) == tags_only(the_admins(adminform))
    assert tags_only(built) in tags_only(page.content.decode())
    return built


def agent(client, role=roles.SUPPORT_ENGINEER):
    user = AgentFactory(role=role, full_name="Erin <b>Engineer</b>")
    client.force_login(user)
    return user


def test_the_change_page(client):
    agent(client)
    ticket = file_ticket()

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    built = assert_the_admins_markup(page)
    assert 'class="flex-container checkbox-row"' in built  # TAM-routed
    assert 'class="readonly"' in built  # the reference
    assert "form-multiline" in built  # app and client ids on one line


def test_the_change_page_with_errors_at_their_fields(client):
    agent(client)
    ticket = file_ticket()
    url = reverse("admin:helpdesk_ticket_change", args=[ticket.pk])
    page = client.get(url)
    data = change_form_data(
        page,
        assignee="999999",
        app_ids="AKIA" + "Z3MHN5QW7XJ2PLRT",  # a secret: refused at the field
        client_ids="<script>x</script>",
    )

    refused = client.post(url, data)

    assert refused.status_code == 200
    # On the line of two fields, each field's errors are its own.
    assert set(refused.context["adminform"].form.errors) == {"assignee", "app_ids"}
    built = assert_the_admins_markup(refused)
    assert "errorlist" in built
    assert "<script>x" not in built


def test_a_view_only_agent_reads_every_field(client):
    agent(client, roles.PROJECT_MANAGER)
    ticket = file_ticket()

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    built = assert_the_admins_markup(page)
    assert "<textarea" not in built
    assert "<input" not in built


def test_filing_on_behalf_and_its_errors(client):
    agent(client)
    admin = administrator("janrain-platinum")
    url = reverse("admin:helpdesk_ticket_add")

    page = client.get(url, {"organization": admin.organization.pk})
    refused = client.post(url, {"organization": admin.organization.pk})

    assert_the_admins_markup(page)
    assert refused.context["adminform"].form.errors
    assert_the_admins_markup(refused)


def test_collapsed_described_and_safe_named_fieldsets():
    """Branches the ticket page does not use: a collapsed fieldset (open when it
    holds an error), a description, a name already marked safe."""
    form = modelform_factory(Team, fields=["slug", "name", "kind"])(
        data={"slug": "", "name": "Ops & <b>night</b>", "kind": "nope"}
    )
    form.is_valid()
    adminform = AdminForm(
        form,
        [
            (
                mark_safe("<em>Who</em> &amp; what"),
                {"fields": ["name"], "classes": ["collapse"], "description": "<b>"},
            ),
            ("Keys & kinds", {"fields": [("slug", "kind")], "classes": ["collapse"]}),
            (None, {"fields": ["name"]}),
        ],
        {},
        model_admin=admin.site._registry[Team],
    )

    built = fieldsets.render(adminform)

    assert tags_only(built) == tags_only(the_admins(adminform))
    assert "<details><summary>" in built  # the fieldset without an error
    assert "<em>Who</em> &amp; what" in built
    assert "Keys &amp; kinds" in built
