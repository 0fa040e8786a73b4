"""The agent console for TAM contracts goes through tam.services."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts import roles
from tam.models import HourBucket, Meeting, TAMContract, TimeEntry
from tests.accounts.factories import AgentFactory, OrganizationFactory, UserFactory
from tests.helpdesk.factories import administrator, file_ticket
from tests.tam.factories import contract, project_manager, tam

pytestmark = pytest.mark.django_db

DURING_TERM = datetime(2027, 3, 10, 18, tzinfo=UTC)


@pytest.fixture
def manager_client(client):
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
    return client


def _contract_form(**overrides):
    values = {
        "organization": OrganizationFactory().pk,
        "tam": tam().pk,
        "backup_tam": tam().pk,
        "signed_on": "2027-01-04",
        "starts_on": "2027-02-01",
        "term_months": "6",
        "hours_per_month": "20",
        "time_zone": "",
        "auto_renew": "on",
    }
    return values | overrides


def test_a_contract_entered_in_the_console_goes_through_the_service(manager_client):
    response = manager_client.post(
        reverse("admin:tam_tamcontract_add"), _contract_form(hours_per_month="30")
    )

    assert response.status_code == 200
    assert "Project manager rule" in response.content.decode()
    assert TAMContract.objects.count() == 0

    pm = project_manager()
    response = manager_client.post(
        reverse("admin:tam_tamcontract_add"),
        _contract_form(hours_per_month="30", project_manager=pm.pk),
    )

    signed = TAMContract.objects.get()
    assert response.status_code == 302
    assert signed.status == TAMContract.Status.SCHEDULED
    assert signed.buckets.count() == 6
    assert signed.meetings.filter(kind=Meeting.Kind.ONSITE_WORKSHOP).count() == 1


def test_the_start_rule_is_shown_on_the_form(manager_client):
    response = manager_client.post(
        reverse("admin:tam_tamcontract_add"), _contract_form(starts_on="2027-01-11")
    )

    assert "the earliest start is Tuesday 19 January 2027" in response.content.decode()


def test_the_contract_page_lists_buckets_and_entries_and_logs_time(manager_client):
    signed = contract(hours_per_month=10)
    url = reverse("admin:tam_tamcontract_change", args=[signed.pk])
    page = manager_client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {
        name: (value.pk if hasattr(value, "pk") else value)
        for name, value in form.initial.items()
        if name in form.fields and value is not None and name != "notice_document"
    }
    data["auto_renew"] = "on"
    data.update(_inline_data(page))
    prefix = next(
        f.formset.prefix
        for f in page.context["inline_admin_formsets"]
        if f.opts.__class__.__name__ == "NewTimeEntryInline"
    )
    data.update(
        {
            f"{prefix}-0-worked_on": "2027-02-10",
            f"{prefix}-0-agent": signed.tam.pk,
            f"{prefix}-0-minutes": "700",
            f"{prefix}-0-activity": "configuration",
            f"{prefix}-0-note": "SSO setup",
        }
    )

    response = manager_client.post(url, data, follow=True)

    entry = TimeEntry.objects.get()
    assert response.status_code == 200
    assert (entry.minutes, entry.best_effort_minutes) == (700, 100)
    assert "beyond the month&#x27;s hours: best effort" in response.content.decode()


def test_the_bucket_and_entry_lists_cost_the_same_for_few_and_many(
    manager_client, django_assert_max_num_queries
):
    first = contract()
    manager_client.get(reverse("admin:tam_hourbucket_changelist"))
    with django_assert_max_num_queries(100) as few:
        manager_client.get(reverse("admin:tam_hourbucket_changelist"))
        manager_client.get(reverse("admin:tam_tamcontract_changelist"))
        manager_client.get(reverse("admin:tam_timeentry_changelist"))
    for _ in range(3):
        contract()
    from tam import services

    for day in range(2, 12):
        services.record_time_entry(
            first,
            agent=first.tam,
            worked_on=date(2027, 2, day),
            minutes=30,
            activity="training",
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        manager_client.get(reverse("admin:tam_hourbucket_changelist"))
        manager_client.get(reverse("admin:tam_tamcontract_changelist"))
        manager_client.get(reverse("admin:tam_timeentry_changelist"))
    assert HourBucket.objects.count() == 24


def test_a_notice_recorded_in_the_console_stops_the_renewal(client):
    signed = contract()
    url = reverse("admin:tam_tamcontract_change", args=[signed.pk])

    with time_machine.travel(datetime(2027, 7, 20, 18, tzinfo=UTC), tick=False):
        client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))
        response = client.post(
            url,
            {
                "tam": signed.tam.pk,
                "backup_tam": signed.backup_tam.pk,
                "auto_renew": "on",
                "notice_received_on": "2027-07-15",
                "notice_from": "Ada Admin, CTO",
                **_empty_inlines(client, url),
            },
        )

    signed.refresh_from_db()
    assert response.status_code == 302
    assert signed.notice_received_on == date(2027, 7, 15)
    assert signed.notice_from == "Ada Admin, CTO"


def _empty_inlines(client, url):
    return _inline_data(client.get(url))


def _inline_data(page):
    """The inline formsets' management forms and hidden fields, as posted back."""
    data = {}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name, field in management.fields.items():
            data[f"{management.prefix}-{name}"] = management.initial.get(
                name, field.initial
            )
        for form in formset.initial_forms:
            for field in form.hidden_fields():
                value = field.value()
                data[field.html_name] = getattr(value, "pk", value)
        for form in formset.extra_forms:  # unchanged extra rows post their initial
            for field in form:
                if field.value() is not None:
                    data[field.html_name] = field.value()
    return data


def test_an_agent_logs_time_from_the_ticket_page(client):
    admin = administrator()
    signed = contract(admin.organization)
    ticket = file_ticket(admin, environment="deployment")
    url = reverse("tam:log_time", args=[ticket.pk])

    with time_machine.travel(DURING_TERM, tick=False):
        client.force_login(signed.tam)
        form = client.get(url)
        refused = client.post(
            url,
            {"worked_on": "2027-03-10", "minutes": "60", "activity": "customer-code"},
        )
        response = client.post(
            url,
            {"worked_on": "2027-03-10", "minutes": "45", "activity": "tickets"},
        )

    assert form.status_code == 200
    assert "Change order rule" in refused.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "admin:helpdesk_ticket_change", args=[ticket.pk]
    )
    entry = TimeEntry.objects.get()
    assert (entry.ticket, entry.agent, entry.minutes) == (ticket, signed.tam, 45)


def test_logging_time_needs_the_permission(client):
    ticket = file_ticket()
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    response = client.get(reverse("tam:log_time", args=[ticket.pk]))

    assert response.status_code == 403


# --- whose time: an agent logs their own, a Support Manager anyone's ---------------


def _entry_form(signed, agent, **overrides):
    return {
        "contract": signed.pk,
        "worked_on": "2027-02-10",
        "agent": agent.pk,
        "minutes": "60",
        "activity": "configuration",
        "note": "",
    } | overrides


def test_a_tam_logs_only_their_own_time_in_the_console(client):
    signed = contract()
    url = reverse("admin:tam_timeentry_add")
    client.force_login(signed.tam)

    page = client.get(url)
    refused = client.post(url, _entry_form(signed, signed.backup_tam))
    nothing_stored = TimeEntry.objects.count()
    own = client.post(url, _entry_form(signed, signed.tam))

    assert '<select name="agent"' not in page.content.decode()
    assert f"<strong>{signed.tam}</strong> (you)" in page.content.decode()
    assert refused.status_code == 200
    assert "You may log only your own time" in refused.content.decode()
    assert nothing_stored == 0
    assert own.status_code == 302
    assert TimeEntry.objects.get().agent == signed.tam


def test_a_support_manager_books_time_for_an_agent_chosen_among_agents(
    manager_client,
):
    signed = contract()
    customer = UserFactory(full_name="Carol Customer")
    url = reverse("admin:tam_timeentry_add")

    page = manager_client.get(url)
    customer_refused = manager_client.post(url, _entry_form(signed, customer))
    response = manager_client.post(url, _entry_form(signed, signed.backup_tam))

    choices = set(page.context["adminform"].form.fields["agent"].queryset)
    assert signed.tam in choices
    assert customer not in choices
    assert "Carol Customer" not in page.content.decode()
    assert customer_refused.status_code == 200
    assert response.status_code == 302
    entry = TimeEntry.objects.get()
    assert entry.agent == signed.backup_tam
    assert entry.history.get().history_user == page.wsgi_request.user


def test_the_log_time_inline_fixes_the_agent_for_anyone_but_a_manager(client):
    signed = contract()
    # A TAM who may also change contracts is still not a manager.
    signed.tam.user_permissions.add(
        Permission.objects.get(codename="change_tamcontract")
    )
    client.force_login(signed.tam)
    url = reverse("admin:tam_tamcontract_change", args=[signed.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {
        name: (value.pk if hasattr(value, "pk") else value)
        for name, value in form.initial.items()
        if name in form.fields and value is not None and name != "notice_document"
    }
    data["auto_renew"] = "on"
    data.update(_inline_data(page))
    prefix = next(
        f.formset.prefix
        for f in page.context["inline_admin_formsets"]
        if f.opts.__class__.__name__ == "NewTimeEntryInline"
    )
    data.update(
        {
            f"{prefix}-0-worked_on": "2027-02-10",
            f"{prefix}-0-agent": signed.backup_tam.pk,
            f"{prefix}-0-minutes": "60",
            f"{prefix}-0-activity": "configuration",
        }
    )

    response = client.post(url, data)

    assert f"<strong>{signed.tam}</strong> (you)" in page.content.decode()
    assert response.status_code == 200
    assert "You may log only your own time" in response.content.decode()
    assert TimeEntry.objects.count() == 0


def test_a_tam_cannot_log_time_for_another_agent_from_the_ticket_page(client):
    admin = administrator()
    signed = contract(admin.organization)
    ticket = file_ticket(admin, environment="deployment")
    url = reverse("tam:log_time", args=[ticket.pk])

    with time_machine.travel(DURING_TERM, tick=False):
        client.force_login(signed.tam)
        page = client.get(url)
        refused = client.post(
            url,
            {
                "agent": signed.backup_tam.pk,
                "worked_on": "2027-03-10",
                "minutes": "45",
                "activity": "tickets",
            },
        )

    assert '<select name="agent"' not in page.content.decode()
    assert f'<strong id="own-agent">{signed.tam}</strong>' in page.content.decode()
    assert refused.status_code == 200
    assert "You may log only your own time" in refused.content.decode()
    assert TimeEntry.objects.count() == 0


def test_a_support_manager_logs_time_for_an_agent_from_the_ticket_page(client):
    admin = administrator()
    signed = contract(admin.organization)
    ticket = file_ticket(admin, environment="deployment")
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    url = reverse("tam:log_time", args=[ticket.pk])

    with time_machine.travel(DURING_TERM, tick=False):
        client.force_login(manager)
        page = client.get(url)
        customer = client.post(
            url,
            {
                "agent": admin.user.pk,
                "worked_on": "2027-03-10",
                "minutes": "45",
                "activity": "tickets",
            },
        )
        response = client.post(
            url,
            {
                "agent": signed.tam.pk,
                "worked_on": "2027-03-10",
                "minutes": "45",
                "activity": "tickets",
            },
            follow=True,
        )

    assert '<select name="agent"' in page.content.decode()
    assert set(page.context["form"].fields["agent"].queryset) == {
        signed.tam,
        signed.backup_tam,
        manager,
    }
    assert "time is logged for agents only" in customer.content.decode()
    entry = TimeEntry.objects.get()
    assert (entry.agent, entry.ticket) == (signed.tam, ticket)
    assert entry.history.get().history_user == manager
    assert f"Logged 0:45 h for {signed.tam} on {ticket.reference}" in (
        response.content.decode()
    )


def test_a_secret_in_a_meeting_title_is_refused_at_its_field(manager_client):
    signed = contract()

    response = manager_client.post(
        reverse("admin:tam_meeting_add"),
        {
            "contract": signed.pk,
            "kind": Meeting.Kind.REQUESTED,
            "mode": Meeting.Mode.REMOTE,
            "title": "Review, token 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",
            "starts_at_0": "2027-03-10",
            "starts_at_1": "10:00",
            "duration_minutes": 60,
        },
    )

    assert response.status_code == 200
    assert "title" in response.context["adminform"].form.errors
    assert not Meeting.objects.filter(title__startswith="Review").exists()
