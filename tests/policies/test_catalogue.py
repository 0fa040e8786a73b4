"""Caps cannot be typed around (Jelastic, issue 15 §3.2): products and components
are a catalogue per plan with aliases, caps apply to the entry, and free text that
mentions a capped product is flagged to the agent."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk import services
from helpdesk.models import Ticket
from policies import catalogue
from policies.loader import PackError, load_policy_packs, read_pack
from policies.models import CatalogueEntry, SeverityCap
from tests.accounts.factories import AgentFactory, SupportAdministratorFactory
from tests.helpdesk.factories import administrator, draft, file_ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def jelastic():
    admin = administrator("jelastic")
    return admin, admin.organization.support_plan


def entry(plan, name: str) -> CatalogueEntry:
    return plan.catalogue.get(name=name)


# --- the pack -------------------------------------------------------------------


def test_the_jelastic_pack_loads_its_catalogue_and_ties_caps_to_entries(jelastic):
    _, plan = jelastic

    caps = {cap.component: cap for cap in plan.caps.select_related("entry")}

    assert caps[".Net"].entry == entry(plan, ".Net")
    assert caps["MS-SQL"].entry == entry(plan, "MS-SQL")
    assert "SQL Server" in entry(plan, "MS-SQL").alias_list
    assert ".NET Core" in entry(plan, ".Net").alias_list
    assert plan.upgrade_needs_customer_agreement


def test_loading_the_packs_again_changes_nothing(jelastic):
    reports = load_policy_packs(["jelastic"])

    assert not reports["jelastic"].changed


def test_a_spelling_that_names_two_entries_is_refused(tmp_path):
    pack = tmp_path / "twice.toml"
    pack.write_text(
        'slug = "twice"\nname = "Twice"\n'
        '[[calendars]]\nslug = "always"\nname = "Always"\nkind = "24x7"\n'
        'time_zone = "UTC"\n'
        '[[targets]]\nresponse = "1h"\nresponse_calendar = "always"\n'
        '[[catalogue]]\nname = "MS-SQL"\n'
        '[[catalogue]]\nname = "SQL Server"\naliases = ["MSSQL"]\n'
    )

    with pytest.raises(PackError, match=r"catalogue\[1\].aliases: 'MSSQL' already"):
        read_pack(pack)


# --- matching -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        (".NET Core", ".Net"),
        (".net", ".Net"),
        ("dotnet", ".Net"),
        ("ASP.NET MVC 5", ".Net"),
        ("MS SQL", "MS-SQL"),
        ("MSSQL", "MS-SQL"),
        ("mssql 2019 cluster", "MS-SQL"),
        ("SQL Server", "MS-SQL"),
        ("Microsoft SQL Server 2022", "MS-SQL"),
        ("PHP 8", "PHP"),
    ],
)
def test_a_typed_component_resolves_to_its_catalogue_entry(jelastic, typed, name):
    _, plan = jelastic

    assert catalogue.resolve(typed, plan.catalogue.all()) == entry(plan, name)


@pytest.mark.parametrize("typed", ["network timeout", "Netlify", "MySQL 8", "Tomcat"])
def test_other_words_are_not_a_capped_product(jelastic, typed):
    _, plan = jelastic
    capped = [entry(plan, ".Net"), entry(plan, "MS-SQL")]

    assert catalogue.mentions(typed, capped) == []


# --- filing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", [".NET Core", ".net", "MS SQL", "MSSQL", "SQL Server"]
)
def test_a_capped_product_typed_any_way_cannot_file_above_level_2(jelastic, typed):
    admin, plan = jelastic

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(
            admin,
            severity=plan.severities.get(level=1),
            component=typed,
            customer_contact="Gil",
        )

    assert "at most Level 2" in excinfo.value.message_dict["severity"][0]
    assert not Ticket.objects.exists()


def test_the_chosen_catalogue_entry_caps_the_severity(jelastic):
    admin, plan = jelastic

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(
            admin,
            severity=plan.severities.get(level=1),
            product=entry(plan, "MS-SQL"),
            customer_contact="Gil",
        )

    assert "MS-SQL are at most Level 2" in excinfo.value.message_dict["severity"][0]
    assert not Ticket.objects.exists()


def test_level_2_with_a_capped_product_is_filed_with_the_entry(jelastic):
    admin, plan = jelastic

    ticket = file_ticket(
        admin, severity=plan.severities.get(level=2), product=entry(plan, ".Net")
    )

    assert ticket.product == entry(plan, ".Net")


def test_an_entry_of_another_plan_is_refused(jelastic):
    admin, _ = jelastic
    other = administrator("janrain-platinum").organization.support_plan
    foreign = CatalogueEntry.objects.create(plan=other, name="Widget")

    with pytest.raises(ValidationError) as excinfo:
        file_ticket(admin, product=foreign)

    assert "not in the Jelastic catalogue" in excinfo.value.message_dict["product"][0]


def test_an_upgrade_above_the_cap_of_the_chosen_entry_is_refused(jelastic):
    from helpdesk import severity

    admin, plan = jelastic
    ticket = file_ticket(
        admin, severity=plan.severities.get(level=3), product=entry(plan, "MS-SQL")
    )

    with pytest.raises(ValidationError, match="at most Level 2"):
        severity.request_severity_change(
            ticket,
            plan.severities.get(level=1),
            actor=ticket.requester,
            reason="Everything is down.",
            expected=plan.severities.get(level=3),
            customer_contact="Gil",
        )

    ticket.refresh_from_db()
    assert ticket.severity.level == 3


def test_a_cap_on_an_entry_of_another_plan_is_invalid(jelastic):
    _, plan = jelastic
    other = administrator("janrain-platinum").organization.support_plan
    foreign = CatalogueEntry.objects.create(plan=other, name="Widget")

    cap = SeverityCap(plan=plan, component="Widget", max_level=2, entry=foreign)

    with pytest.raises(ValidationError) as excinfo:
        cap.full_clean()
    assert "entry" in excinfo.value.message_dict


# --- the summary mentions a capped product: flagged to the agent ---------------


def test_a_capped_product_in_the_summary_is_flagged_to_the_agent(jelastic, client):
    admin, plan = jelastic
    ticket = file_ticket(
        admin,
        severity=plan.severities.get(level=1),
        summary="Our MSSQL backed site is down for everyone",
        customer_contact="Gil",
    )
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    client.force_login(agent)

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    warnings = [str(w) for w in page.context["cap_warnings"]]
    assert warnings == [
        "The summary mentions MS-SQL, which is capped at Level 2: check the product "
        "and the severity."
    ]
    assert "capped at Level 2" in page.content.decode()


def test_no_flag_within_the_cap(jelastic, client):
    admin, plan = jelastic
    ticket = file_ticket(
        admin,
        severity=plan.severities.get(level=2),
        summary="Our MSSQL backed site is slow",
        customer_contact="Gil",
    )
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    page = client.get(reverse("admin:helpdesk_ticket_change", args=[ticket.pk]))

    assert page.context["cap_warnings"] == []
    assert 'id="cap-warnings"' not in page.content.decode()


# --- the forms offer the catalogue ----------------------------------------------


def test_the_portal_form_offers_the_catalogue_with_the_caps(jelastic, client):
    admin, _ = jelastic
    client.force_login(admin.user)

    page = client.get(reverse("portal:new_ticket")).content.decode()

    assert "MS-SQL (at most Level 2)" in page
    assert ".Net (at most Level 2)" in page
    assert ">PHP<" in page


def test_the_portal_refuses_level_1_for_a_capped_product_at_the_field(jelastic, client):
    admin, plan = jelastic
    client.force_login(admin.user)

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "Database errors",
            "description": "Queries time out.",
            "environment": "production",
            "severity": plan.severities.get(level=1).pk,
            "product": entry(plan, "MS-SQL").pk,
            "customer_contact": "Gil",
        },
    )

    assert response.status_code == 200
    assert "at most Level 2" in str(response.context["form"].errors["severity"])
    assert not Ticket.objects.exists()


def test_the_portal_refuses_an_entry_of_another_plan(jelastic, client):
    admin, _ = jelastic
    other = administrator("janrain-platinum").organization.support_plan
    foreign = CatalogueEntry.objects.create(plan=other, name="Widget")
    client.force_login(admin.user)

    response = client.post(
        reverse("portal:new_ticket"),
        {
            "summary": "Database errors",
            "description": "Queries time out.",
            "environment": "production",
            "product": foreign.pk,
        },
    )

    assert "product" in response.context["form"].errors
    assert not Ticket.objects.exists()


def test_a_plan_without_a_catalogue_shows_no_product_list(client):
    admin = administrator("janrain-platinum")
    client.force_login(admin.user)

    page = client.get(reverse("portal:new_ticket")).content.decode()

    assert 'name="product"' not in page


def test_a_customer_sees_the_product_of_their_own_ticket_only(jelastic, client):
    admin, plan = jelastic
    ticket = services.open_ticket(
        admin.organization,
        draft(severity=plan.severities.get(level=3), product=entry(plan, "PHP")),
        requester=admin.user,
        filed_by=admin.user,
    )
    url = reverse("portal:ticket", args=[ticket.reference])
    client.force_login(admin.user)
    assert "<dt>Product</dt><dd>PHP</dd>" in client.get(url).content.decode()

    client.force_login(SupportAdministratorFactory().user)
    assert client.get(url).status_code == 404


def test_the_console_files_with_a_product_from_the_plans_list_only(jelastic, client):
    admin, plan = jelastic
    other = administrator("janrain-platinum").organization.support_plan
    foreign = CatalogueEntry.objects.create(plan=other, name="Widget")
    agent = AgentFactory(role=roles.SUPPORT_ENGINEER)
    client.force_login(agent)
    url = reverse("admin:helpdesk_ticket_add")

    form = (
        client.get(url, {"organization": admin.organization.pk})
        .context["adminform"]
        .form
    )
    offered = set(form.fields["product"].queryset)
    assert offered == set(plan.catalogue.all())
    assert foreign not in offered

    values = {
        "organization": admin.organization.pk,
        "requester": admin.user.pk,
        "summary": "Database errors",
        "description": "Queries time out.",
        "environment": "production",
        "severity": plan.severities.get(level=1).pk,
        "product": entry(plan, "MS-SQL").pk,
        "customer_contact": "Gil",
    }
    refused = client.post(url, values)
    assert "at most Level 2" in str(refused.context["adminform"].form.errors)
    assert not Ticket.objects.exists()

    client.post(url, values | {"severity": plan.severities.get(level=2).pk})
    assert Ticket.objects.get().product == entry(plan, "MS-SQL")
