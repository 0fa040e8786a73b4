"""Hours: buckets draw down, best effort beyond the allowance, change orders."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError

from accounts import roles
from tam import routing, services
from tam.models import TimeEntry
from tam.signals import bucket_exhausted
from tests.accounts.factories import AgentFactory, OrganizationFactory, UserFactory
from tests.helpdesk.factories import administrator, file_ticket
from tests.tam.factories import ChangeOrderFactory, contract

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
Activity = TimeEntry.Activity


@pytest.fixture
def signed():
    """10 hours a month: 600 minutes a bucket."""
    return contract(hours_per_month=10)


def log(signed, minutes, *, on=date(2027, 2, 10), activity=Activity.TICKETS, **kw):
    return services.record_time_entry(
        signed,
        agent=kw.pop("agent", signed.tam),
        worked_on=on,
        minutes=minutes,
        activity=activity,
        **kw,
    )


@pytest.fixture
def exhausted_events():
    events = []

    def receiver(sender, bucket, contract, entry, **kwargs):
        events.append((bucket.starts_on, entry.minutes))

    bucket_exhausted.connect(receiver)
    yield events
    bucket_exhausted.disconnect(receiver)


def test_work_beyond_the_months_allowance_is_kept_and_marked_best_effort(
    signed, exhausted_events
):
    first = log(signed, 500)
    crossing = log(signed, 150)
    after = log(signed, 30)
    next_month = log(signed, 30, on=date(2027, 3, 1))

    assert (first.best_effort_minutes, first.is_best_effort) == (0, False)
    assert (crossing.best_effort_minutes, crossing.is_best_effort) == (50, True)
    assert after.best_effort_minutes == 30
    assert next_month.best_effort_minutes == 0
    assert TimeEntry.objects.count() == 4
    assert exhausted_events == [(date(2027, 2, 1), 150)]
    assert crossing.history.get().history_user == signed.tam


def test_best_effort_flips_when_the_bucket_runs_out(signed):
    organization = signed.organization
    opened_at = datetime(2027, 2, 12, 15, tzinfo=PT)  # a Friday
    log(signed, 599)

    assert routing.hours_remain(organization, date(2027, 2, 12))
    assert routing.tam_due_for(organization, opened_at) == datetime(
        2027, 2, 16, 10, tzinfo=PT
    )  # Monday 15 February is Presidents' Day
    log(signed, 1)
    assert not routing.hours_remain(organization, date(2027, 2, 12))
    assert routing.tam_due_for(organization, opened_at) is None
    assert routing.hours_remain(organization, date(2027, 3, 1))


def test_all_in_scope_work_is_billable_and_counts():
    for activity in services.IN_SCOPE:
        assert TimeEntry(activity=activity).is_billable
    assert not TimeEntry(activity=Activity.CUSTOMER_CODE).is_billable


@pytest.mark.parametrize("activity", [Activity.CUSTOMER_CODE, Activity.EXTRA_RESOURCES])
def test_out_of_scope_work_is_refused_without_a_change_order(signed, activity):
    with pytest.raises(ValidationError) as refused:
        log(signed, 60, activity=activity)

    [error] = refused.value.error_dict["change_order"]
    assert error.message.startswith("Change order rule:")
    assert "approved change order" in error.message
    assert TimeEntry.objects.count() == 0


def test_out_of_scope_work_under_a_change_order_does_not_draw_down_the_bucket(signed):
    order = ChangeOrderFactory(contract=signed)

    entry = log(signed, 600, activity=Activity.CUSTOMER_CODE, change_order=order)

    assert entry.change_order == order
    assert entry.best_effort_minutes == 0
    assert routing.hours_remain(signed.organization, date(2027, 2, 10))


@pytest.mark.parametrize("status", ["proposed", "rejected", "other contract"])
def test_only_an_approved_change_order_of_the_contract_will_do(signed, status):
    if status == "other contract":
        order = ChangeOrderFactory(contract=contract())
    else:
        order = ChangeOrderFactory(contract=signed, status=status)

    with pytest.raises(ValidationError, match="Change order rule: change order CO-"):
        log(signed, 60, activity=Activity.CUSTOMER_CODE, change_order=order)


@pytest.mark.parametrize(
    ("minutes", "on", "field", "message"),
    [
        (0, date(2027, 2, 10), "minutes", "Time entry length rule:"),
        (1441, date(2027, 2, 10), "minutes", "Time entry length rule:"),
        (
            60,
            date(2027, 1, 29),
            "worked_on",
            "Service period rule: Friday 29 January 2027 is outside the contract's "
            "service period (1 Feb 2027 to 31 Jul 2027).",
        ),
        (60, date(2027, 8, 1), "worked_on", "Service period rule:"),
    ],
)
def test_entries_must_be_a_days_work_inside_the_term(
    signed, minutes, on, field, message
):
    with pytest.raises(ValidationError) as refused:
        log(signed, minutes, on=on)

    assert refused.value.error_dict[field][0].message.startswith(message)
    assert TimeEntry.objects.count() == 0


def test_an_entry_may_reference_a_ticket_of_the_customer_only():
    admin = administrator()
    admin.organization.licence_active_until = date(2028, 12, 31)  # TAM needs one
    admin.organization.save(update_fields=["licence_active_until"])
    ours = contract(admin.organization, starts_on=date(2028, 3, 1), auto_renew=False)
    ticket = file_ticket(admin)
    theirs = file_ticket()

    entry = log(ours, 45, on=date(2028, 3, 2), ticket=ticket, note="Triaged")
    with pytest.raises(ValidationError, match="another organisation"):
        log(ours, 45, on=date(2028, 3, 2), ticket=theirs)

    assert entry.ticket == ticket


def test_only_agents_log_time(signed):
    with pytest.raises(ValidationError, match="Only agents"):
        log(signed, 30, agent=UserFactory())


def test_hours_remain_is_false_without_a_contract():
    assert not routing.hours_remain(OrganizationFactory(), date(2027, 2, 10))


# --- whose time: an agent logs their own, a Support Manager anyone's ---------------


def test_an_agent_cannot_log_time_in_another_agents_name(signed):
    with pytest.raises(ValidationError) as refused:
        log(signed, 30, agent=signed.backup_tam, acting_user=signed.tam)

    message = refused.value.error_dict["agent"][0].message
    assert message.startswith("You may log only your own time")
    assert TimeEntry.objects.count() == 0


@pytest.mark.parametrize("who", ["manager", "superuser"])
def test_a_support_manager_or_superuser_logs_time_for_an_agent(signed, who):
    if who == "manager":
        actor = AgentFactory(role=roles.SUPPORT_MANAGER)
    else:
        actor = AgentFactory(is_superuser=True)

    entry = log(signed, 30, agent=signed.backup_tam, acting_user=actor)

    assert entry.agent == signed.backup_tam
    assert entry.history.get().history_user == actor


def test_an_agent_logs_their_own_time_and_the_history_names_them(signed):
    entry = log(signed, 30, acting_user=signed.tam)

    assert entry.history.get().history_user == signed.tam


@pytest.mark.parametrize(
    "who", ["customer", "no role", "inactive agent", "inactive manager"]
)
def test_time_is_logged_for_active_agents_in_a_role_only(signed, who):
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    if who == "customer":
        agent = UserFactory()
    elif who == "no role":
        agent = AgentFactory()
    elif who == "inactive agent":
        agent = AgentFactory(role=roles.TAM, is_active=False)
    else:
        agent, manager.is_active = signed.backup_tam, False
        manager.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as refused:
        log(signed, 30, agent=agent, acting_user=manager)

    assert "agent" in refused.value.error_dict
    assert TimeEntry.objects.count() == 0


def test_the_choice_of_agents_lists_agents_only(signed):
    UserFactory(full_name="Carol Customer")
    AgentFactory(full_name="Nora No-Role")
    AgentFactory(role=roles.TAM, full_name="Gone Agent", is_active=False)
    manager = AgentFactory(role=roles.SUPPORT_MANAGER, full_name="Morgan Lead")
    manager.groups.add(Group.objects.get(name=roles.TAM))  # two roles, listed once

    listed = list(services.bookable_agents())

    assert listed.count(manager) == 1
    assert {signed.tam, signed.backup_tam, manager} == set(listed)


def test_minutes_left_counts_in_scope_time_only_in_one_query(
    signed, django_assert_num_queries
):
    on = date(2027, 2, 10)
    log(signed, 90, on=on)
    log(signed, 30, on=on, activity=Activity.TRAINING)
    order = ChangeOrderFactory(contract=signed)
    log(signed, 45, on=on, activity=Activity.CUSTOMER_CODE, change_order=order)
    bucket = routing.bucket_on(signed, on)

    # One query: the ticket page shows it beside every TAM customer's ticket.
    with django_assert_num_queries(1):
        left = routing.minutes_left(signed.organization, on)

    assert left == bucket.allowance_minutes - routing.used_minutes(bucket)
    assert left == bucket.allowance_minutes - 120  # change-order work is not drawn
    assert routing.minutes_left(signed.organization, date(2031, 1, 1)) is None
