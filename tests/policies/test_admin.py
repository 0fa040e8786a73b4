import pytest
from django.urls import reverse

from policies.loader import load_policy_packs
from policies.models import BusinessCalendar, SupportPlan
from tests.accounts.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client):
    load_policy_packs()
    client.force_login(AgentFactory(is_superuser=True))
    return client


def test_plan_page_shows_inline_severities_targets_and_caps(agent_client):
    plan = SupportPlan.objects.get(slug="jelastic")

    response = agent_client.get(
        reverse("admin:policies_supportplan_change", args=[plan.pk])
    )

    assert response.status_code == 200
    assert b"Critical Business Impact" in response.content
    assert b"MS-SQL" in response.content
    assert b"targets-TOTAL_FORMS" in response.content


def test_calendar_page_shows_inline_hours_and_holidays(agent_client):
    calendar = BusinessCalendar.objects.get(slug="jumpcloud-hours")

    response = agent_client.get(
        reverse("admin:policies_businesscalendar_change", args=[calendar.pk])
    )

    assert response.status_code == 200
    assert b"17:00" in response.content
    assert b"holidays-TOTAL_FORMS" in response.content


def test_plan_list_links_to_the_slo_calculator(agent_client):
    response = agent_client.get(reverse("admin:policies_supportplan_changelist"))

    assert reverse("admin:policies_slo_calculator").encode() in response.content


def test_slo_calculator_shows_both_due_instants_and_the_counted_intervals(agent_client):
    plan = SupportPlan.objects.get(slug="janrain-platinum")
    severity = plan.severities.get(level=3)

    response = agent_client.get(
        reverse("admin:policies_slo_calculator"),
        {
            "plan": plan.pk,
            "severity": severity.pk,
            "opened_at": "2026-03-06T10:00",
            "time_zone": "America/Los_Angeles",
        },
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "Mon 9 Mar 2026 10:00 PDT" in text  # first response: 1 business day
    assert "Fri 13 Mar 2026 10:00 PDT" in text  # resolution: 5 business days
    assert "24x5 Pacific" in text
    assert "Explain the first response due instant" in text
    assert "Fri 6 Mar 2026 10:00 PST" in text  # first counted interval starts


def test_slo_calculator_uses_the_plan_default_severity(agent_client):
    plan = SupportPlan.objects.get(slug="jumpcloud")

    response = agent_client.get(
        reverse("admin:policies_slo_calculator"),
        {
            "plan": plan.pk,
            "opened_at": "2026-03-07T12:00",
            "time_zone": "America/Denver",
        },
    )

    text = response.content.decode()
    assert "Severity 3 (Minor)" in text
    assert "Mon 9 Mar 2026 17:00 MDT" in text


def test_slo_calculator_shows_field_errors(agent_client):
    jelastic = SupportPlan.objects.get(slug="jelastic")
    janrain_sev1 = SupportPlan.objects.get(slug="janrain-platinum").severities.get(
        level=1
    )

    response = agent_client.get(
        reverse("admin:policies_slo_calculator"),
        {
            "plan": jelastic.pk,
            "severity": janrain_sev1.pk,
            "opened_at": "yesterday",
            "time_zone": "Mars/Base",
        },
    )

    errors = response.context["form"].errors
    assert set(errors) == {"severity", "opened_at", "time_zone"}
    assert response.context["result"] is None


def test_customers_cannot_reach_the_calculator(client):
    from tests.accounts.factories import SupportAdministratorFactory

    client.force_login(SupportAdministratorFactory().user)

    response = client.get(reverse("admin:policies_slo_calculator"))

    assert response.status_code == 302


def test_overlapping_opening_hours_are_refused_in_the_calendar_form(agent_client):
    calendar = BusinessCalendar.objects.get(slug="jumpcloud-hours")
    url = reverse("admin:policies_businesscalendar_change", args=[calendar.pk])
    rows = list(calendar.hours.order_by("weekday"))
    data = {
        "slug": calendar.slug,
        "name": calendar.name,
        "kind": calendar.kind,
        "time_zone": calendar.time_zone,
        "holiday_country": "",
        "holiday_subdivision": "",
        "hours-TOTAL_FORMS": str(len(rows) + 1),
        "hours-INITIAL_FORMS": str(len(rows)),
        "holidays-TOTAL_FORMS": "0",
        "holidays-INITIAL_FORMS": "0",
    }
    for i, row in enumerate(rows):
        data |= {
            f"hours-{i}-id": row.pk,
            f"hours-{i}-calendar": calendar.pk,
            f"hours-{i}-weekday": row.weekday,
            f"hours-{i}-opens": row.opens,
            f"hours-{i}-closes": row.closes,
        }
    data |= {
        f"hours-{len(rows)}-calendar": calendar.pk,
        f"hours-{len(rows)}-weekday": 0,
        f"hours-{len(rows)}-opens": "16:00",
        f"hours-{len(rows)}-closes": "18:00",
    }

    response = agent_client.post(url, data)

    assert response.status_code == 200
    assert "overlap" in response.content.decode()
    assert calendar.hours.count() == len(rows)
