"""TAM inside the licence, and what happens to unused hours (issue 15 §3.6-3.7).

A 6-month contract runs from 1 Feb to 31 Jul 2027 (Pacific time) and would renew on
1 Aug 2027; 60 days before that is 2 Jun 2027.
"""

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import roles
from helpdesk.models import OutboundEmail
from tam import services, tasks
from tam.models import HourBucket, TAMContract, TimeEntry
from tests.accounts.factories import AgentFactory, OrganizationFactory
from tests.tam.factories import contract, draft, reload

pytestmark = pytest.mark.django_db

Status = TAMContract.Status
UnusedHours = TAMContract.UnusedHours


def at(year: int, month: int, day: int) -> datetime:
    """Noon UTC: the same date in Los Angeles."""
    return datetime(year, month, day, 12, tzinfo=UTC)


def organization(licence_until: date):
    return OrganizationFactory(
        time_zone="America/Los_Angeles", licence_active_until=licence_until
    )


@pytest.fixture
def managers():
    return [AgentFactory(role=roles.SUPPORT_MANAGER) for _ in range(2)]


def log(signed, on: date, minutes: int) -> TimeEntry:
    return services.record_time_entry(
        signed,
        agent=signed.tam,
        worked_on=on,
        minutes=minutes,
        activity=TimeEntry.Activity.CONFIGURATION,
    )


# --- rule 6: a licence covering the start ---------------------------------------


def test_a_contract_needs_a_licence_covering_its_start():
    customer = organization(date(2027, 1, 31))

    with pytest.raises(ValidationError) as excinfo:
        services.create_contract(customer, draft(), acting_user=None)

    message = excinfo.value.message_dict["starts_on"][0]
    assert message.startswith("Licence rule:")
    assert "ends on Sunday 31 January 2027" in message
    assert "Monday 1 February 2027" in message
    assert not TAMContract.objects.exists()
    assert not HourBucket.objects.exists()


def test_a_licence_covering_the_first_day_is_enough():
    signed = contract(organization(date(2027, 2, 1)), today=date(2027, 1, 20))

    assert signed.status == Status.SCHEDULED


def test_a_renewal_beyond_the_licence_is_refused_with_the_reason(managers):
    signed = contract(organization(date(2027, 7, 31)))

    result = services.renew_due_contracts(now=at(2027, 8, 1))

    ended = reload(signed)
    assert result["refused"] == 1
    assert result["renewed"] == 0
    assert ended.status == Status.ENDED
    assert ended.renewal_refusal.startswith("Licence rule:")
    assert "a renewal starting on Sunday 1 August 2027" in ended.renewal_refusal
    assert not TAMContract.objects.filter(renews=signed).exists()
    assert ended.history.first().history_change_reason == (
        "term ended; renewal refused (licence)"
    )
    refused = OutboundEmail.objects.filter(key__startswith="tam-renewal-refused:")
    assert sorted(refused.values_list("to", flat=True)) == sorted(
        m.email for m in managers
    )
    assert "Licence rule" in refused.first().body_text

    again = services.renew_due_contracts(now=at(2027, 8, 2))

    assert again["refused"] == 0
    assert refused.count() == 2  # once per manager


def test_a_licence_covering_the_renewals_first_day_lets_it_renew():
    signed = contract(organization(date(2027, 8, 1)))

    result = services.renew_due_contracts(now=at(2027, 8, 1))

    assert result["renewed"] == 1
    assert reload(signed).renewal.starts_on == date(2027, 8, 1)


def test_managers_hear_60_days_before_a_renewal_the_licence_does_not_cover(
    managers, django_capture_on_commit_callbacks
):
    signed = contract(organization(date(2027, 7, 31)))
    warnings = OutboundEmail.objects.filter(key__startswith="tam-licence-ending:")

    assert services.warn_licence_endings(now=at(2027, 6, 1))["queued"] == 0
    assert not warnings.exists()

    with django_capture_on_commit_callbacks(execute=True):
        result = services.warn_licence_endings(now=at(2027, 6, 2))

    assert result == {"contracts": 1, "queued": 2, "failed": 0}
    assert sorted(warnings.values_list("to", flat=True)) == sorted(
        m.email for m in managers
    )
    email = warnings.first()
    assert "Sunday 1 August 2027" in email.subject + email.body_text
    assert signed.get_absolute_url() in email.body_text
    # The next days' runs (and the task) send nothing new.
    assert services.warn_licence_endings(now=at(2027, 6, 3))["queued"] == 0
    assert tasks.warn_licence_endings.apply().get()["queued"] == 0
    assert warnings.count() == 2


def test_a_covered_or_ending_contract_gets_no_licence_warning(managers):
    contract(organization(date(2027, 8, 1)))  # covered
    noticed = contract(organization(date(2027, 7, 31)))
    services.record_notice(
        noticed.organization,
        received_on=date(2027, 5, 3),
        given_by="CFO",
        acting_user=managers[0],
        now=at(2027, 5, 3),
    )
    contract(organization(date(2027, 7, 31)), auto_renew=False)

    result = services.warn_licence_endings(now=at(2027, 6, 15))

    assert result["queued"] == 0
    assert not OutboundEmail.objects.filter(key__startswith="tam-licence").exists()


def test_a_licence_shortened_again_is_told_again(managers):
    customer = organization(date(2027, 7, 31))
    contract(customer)
    services.warn_licence_endings(now=at(2027, 6, 2))
    customer.licence_active_until = date(2027, 7, 15)
    customer.save(update_fields=["licence_active_until"])

    result = services.warn_licence_endings(now=at(2027, 6, 3))

    assert result["queued"] == 2


# --- rule 7: roll over, bank or lapse --------------------------------------------


def test_unused_hours_roll_over_by_default():
    signed = contract(hours_per_month=20)
    log(signed, date(2027, 2, 10), 600)  # February: 10 of 20 h unused

    services.renew_due_contracts(now=at(2027, 8, 1))

    renewal = reload(signed).renewal
    assert signed.unused_hours == UnusedHours.ROLL_OVER
    assert renewal.unused_hours == UnusedHours.ROLL_OVER
    assert renewal.rolled_over_minutes == 10 * 60 + 5 * 20 * 60
    assert renewal.banked_minutes == 0


def test_banked_hours_wait_to_be_scheduled_in_the_next_term():
    signed = contract(hours_per_month=20, unused_hours=UnusedHours.BANK)
    log(signed, date(2027, 2, 10), 600)

    services.renew_due_contracts(now=at(2027, 8, 1))

    renewal = reload(signed).renewal
    assert renewal.unused_hours == UnusedHours.BANK
    assert renewal.banked_minutes == 10 * 60 + 5 * 20 * 60
    assert renewal.rolled_over_minutes == 0
    assert {b.allowance_minutes for b in renewal.buckets.all()} == {20 * 60}
    assert services.unscheduled_minutes(renewal) == renewal.banked_minutes


def test_unused_hours_lapse_when_the_contract_says_so():
    signed = contract(hours_per_month=20, unused_hours=UnusedHours.LAPSE)

    services.renew_due_contracts(now=at(2027, 8, 1))

    renewal = reload(signed).renewal
    assert (renewal.rolled_over_minutes, renewal.banked_minutes) == (0, 0)
    assert {b.allowance_minutes for b in renewal.buckets.all()} == {20 * 60}


@pytest.fixture
def banked():
    """A renewal from 1 Aug 2027 with the previous term's 120 h banked."""
    signed = contract(hours_per_month=20, unused_hours=UnusedHours.BANK)
    services.renew_due_contracts(now=at(2027, 8, 1))
    return reload(signed).renewal


def test_scheduling_banked_hours_adds_them_to_a_month(banked):
    bucket = services.schedule_banked_hours(
        banked,
        month_starts_on=date(2027, 10, 1),
        minutes=600,
        acting_user=banked.tam,
        today=date(2027, 8, 2),
    )

    assert bucket.banked_minutes == 600
    assert bucket.allowance_minutes == 20 * 60 + 600
    assert services.unscheduled_minutes(banked) == banked.banked_minutes - 600
    assert bucket.history.first().history_user == banked.tam
    # Work that month draws on the banked hours before becoming best effort.
    entry = log(banked, date(2027, 10, 5), 24 * 60)
    assert entry.best_effort_minutes == 0


@pytest.mark.parametrize(
    ("month", "minutes", "today", "expected"),
    [
        (date(2027, 10, 1), 120 * 60 + 1, date(2027, 8, 2), "left to schedule"),
        (date(2027, 10, 1), 0, date(2027, 8, 2), "cannot be scheduled"),
        (date(2027, 8, 1), 60, date(2027, 9, 2), "is over"),
        (date(2027, 10, 2), 60, date(2027, 8, 2), "no month of this term"),
    ],
)
def test_scheduling_banked_hours_is_refused_with_the_rule(
    banked, month, minutes, today, expected
):
    with pytest.raises(ValidationError, match=expected) as excinfo:
        services.schedule_banked_hours(
            banked,
            month_starts_on=month,
            minutes=minutes,
            acting_user=banked.tam,
            today=today,
        )

    assert "Banked hours rule" in str(excinfo.value)
    assert not HourBucket.objects.filter(banked_minutes__gt=0).exists()


def test_only_the_tam_or_a_manager_schedules_banked_hours(banked):
    engineer = AgentFactory(role=roles.SUPPORT_ENGINEER)
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)

    with pytest.raises(ValidationError, match="only the contract's TAM"):
        services.schedule_banked_hours(
            banked,
            month_starts_on=date(2027, 10, 1),
            minutes=60,
            acting_user=engineer,
            today=date(2027, 8, 2),
        )
    assert not services.may_schedule_banked_hours(engineer, banked)

    services.schedule_banked_hours(
        banked,
        month_starts_on=date(2027, 10, 1),
        minutes=60,
        acting_user=manager,
        today=date(2027, 8, 2),
    )
    assert services.unscheduled_minutes(banked) == banked.banked_minutes - 60


def test_a_term_without_a_bank_has_nothing_to_schedule():
    signed = contract(hours_per_month=20)

    with pytest.raises(ValidationError, match="no banked hours"):
        services.schedule_banked_hours(
            signed,
            month_starts_on=date(2027, 3, 1),
            minutes=60,
            acting_user=signed.tam,
            today=date(2027, 2, 2),
        )


def test_banked_hours_are_used_first_and_never_carried_again(banked):
    services.schedule_banked_hours(
        banked,
        month_starts_on=date(2027, 8, 1),
        minutes=600,
        acting_user=banked.tam,
        today=date(2027, 8, 2),
    )
    log(banked, date(2027, 8, 3), 300)  # from the 10 banked hours

    # August: 20 h of its own unused (the 5 h left of the bank lapse); the other
    # five months 20 h each.
    assert services.unused_minutes(banked) == 6 * 20 * 60


def test_the_hours_report_shows_what_happens_to_unused_hours(client, banked):
    services.schedule_banked_hours(
        banked,
        month_starts_on=date(2027, 9, 1),
        minutes=90,
        acting_user=banked.tam,
        today=date(2027, 8, 2),
    )
    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER))

    page = client.get(reverse("tam:contract", args=[banked.pk])).content.decode()
    month = client.get(reverse("tam:month", args=[2027, 9])).content.decode()
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(
                    reverse("tam:contract_csv", args=[banked.pk])
                ).content.decode()
            )
        )
    )

    assert "Unused hours: banked for scheduled use in the next term" in page
    assert "120:00 h banked from the last term" in page
    assert "118:30 h not yet scheduled" in page
    assert "Unused (banked for scheduled use in the next term)" in page
    assert "<th>Banked</th>" in month
    assert "1:30" in month
    header, september = rows[0], rows[2]
    assert september[header.index("banked h")] == "1.50"
    assert september[header.index("allowance h")] == "21.50"


def test_the_refusal_shows_on_the_contract_page(client, managers):
    signed = contract(organization(date(2027, 7, 31)))
    services.renew_due_contracts(now=at(2027, 8, 1))
    client.force_login(managers[0])

    page = client.get(reverse("tam:contract", args=[signed.pk])).content.decode()

    assert 'id="renewal-refusal"' in page
    assert "Not renewed: Licence rule" in page


# --- the console -------------------------------------------------------------------


def test_the_console_schedules_banked_hours_for_the_tam(client, banked):
    url = reverse("admin:tam_tamcontract_banked_hours", args=[banked.pk])
    client.force_login(banked.tam)

    change = client.get(reverse("admin:tam_tamcontract_change", args=[banked.pk]))
    page = client.get(url)
    refused = client.post(url, {"month_starts_on": "2027-10-01", "hours": "500"})
    done = client.post(url, {"month_starts_on": "2027-10-01", "hours": "1.5"})

    assert 'id="banked-hours-link"' in change.content.decode()
    assert page.status_code == 200
    assert "120:00 h</strong> banked" in page.content.decode()
    assert refused.status_code == 200
    assert "Banked hours rule" in refused.content.decode()
    assert done.status_code == 302
    bucket = banked.buckets.get(starts_on=date(2027, 10, 1))
    assert bucket.banked_minutes == 90


def test_the_console_refuses_banked_hours_to_other_agents(client, banked):
    url = reverse("admin:tam_tamcontract_banked_hours", args=[banked.pk])
    client.force_login(AgentFactory(role=roles.SUPPORT_ENGINEER))

    assert client.get(url).status_code == 403
    assert (
        client.post(url, {"month_starts_on": "2027-10-01", "hours": "1"}).status_code
        == 403
    )
    assert not HourBucket.objects.filter(banked_minutes__gt=0).exists()


def test_a_contract_is_signed_in_the_console_with_its_unused_hours_choice(client):
    from tests.tam.factories import tam

    manager = AgentFactory(role=roles.SUPPORT_MANAGER, is_superuser=True)
    client.force_login(manager)
    customer = organization(date(2099, 12, 31))
    named, backup = tam(), tam()

    response = client.post(
        reverse("admin:tam_tamcontract_add"),
        {
            "organization": customer.pk,
            "tam": named.pk,
            "backup_tam": backup.pk,
            "signed_on": "2027-01-04",
            "starts_on": "2027-02-01",
            "term_months": 6,
            "hours_per_month": 20,
            "time_zone": "",
            "auto_renew": "on",
            "unused_hours": UnusedHours.LAPSE,
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert TAMContract.objects.get().unused_hours == UnusedHours.LAPSE


def test_the_console_refuses_a_contract_outside_the_licence_at_the_field(client):
    from tests.tam.factories import tam

    client.force_login(AgentFactory(role=roles.SUPPORT_MANAGER, is_superuser=True))
    customer = organization(date(2027, 1, 31))

    response = client.post(
        reverse("admin:tam_tamcontract_add"),
        {
            "organization": customer.pk,
            "tam": tam().pk,
            "backup_tam": tam().pk,
            "signed_on": "2027-01-04",
            "starts_on": "2027-02-01",
            "term_months": 6,
            "hours_per_month": 20,
            "auto_renew": "on",
            "unused_hours": UnusedHours.ROLL_OVER,
        },
    )

    assert response.status_code == 200
    assert "Licence rule" in str(response.context["adminform"].form.errors["starts_on"])
    assert not TAMContract.objects.exists()


def test_the_customer_sees_the_banked_hours_on_the_portal(client):
    from tests.helpdesk.factories import administrator

    admin = administrator()
    admin.organization.licence_active_until = date(2099, 12, 31)
    admin.organization.save(update_fields=["licence_active_until"])
    signed = contract(
        admin.organization, hours_per_month=20, unused_hours=UnusedHours.BANK
    )
    services.renew_due_contracts(now=at(2027, 8, 1))
    assert reload(signed).renewal.banked_minutes == 120 * 60
    client.force_login(admin.user)

    # Before the contract starts the portal shows the most recent term: the renewal.
    page = client.get(reverse("portal:tam")).content.decode()

    assert "120:00 h banked from the last term for scheduled use in this one" in page
