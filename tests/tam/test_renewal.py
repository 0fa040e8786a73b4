"""Renewal at term end, the 45-day grace period and catching up after an outage.

A 6-month contract runs from 1 Feb to 31 Jul 2027 (Pacific time); it renews on 1 Aug
and its grace period ends on 14 Sep 2027.
"""

from datetime import UTC, date, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError

from tam import services, tasks
from tam.models import Meeting, TAMContract, TimeEntry
from tests.accounts.factories import AgentFactory
from tests.tam.factories import contract, reload

pytestmark = pytest.mark.django_db

Status = TAMContract.Status


def at(year: int, month: int, day: int) -> datetime:
    """Noon UTC: the same date in Los Angeles (04:00 or 05:00) and London."""
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def signed():
    return contract(term_months=6, hours_per_month=20)


def _log(signed, worked_on: date, minutes: int) -> TimeEntry:
    return services.record_time_entry(
        signed,
        agent=signed.tam,
        worked_on=worked_on,
        minutes=minutes,
        activity=TimeEntry.Activity.CONFIGURATION,
    )


def test_nothing_happens_before_the_term_ends(signed):
    result = services.renew_due_contracts(now=at(2027, 7, 31))

    assert result == {
        "activated": 0,
        "renewed": 0,
        "ended": 0,
        "refused": 0,
        "failed": 0,
    }
    assert reload(signed).status == Status.ACTIVE


def test_at_term_end_a_new_term_of_the_same_length_starts_with_unused_hours(signed):
    _log(signed, date(2027, 2, 10), 600)  # February: 10 of 20 h used
    _log(signed, date(2027, 3, 10), 750)  # March: 25 h, 5 h over, which is not
    _log(signed, date(2027, 3, 11), 750)  # unused and takes nothing from February

    result = services.renew_due_contracts(now=at(2027, 8, 1))

    old = reload(signed)
    renewal = old.renewal
    assert result["renewed"] == 1
    assert old.status == Status.IN_GRACE
    assert (renewal.starts_on, renewal.ends_on) == (date(2027, 8, 1), date(2028, 1, 31))
    assert renewal.status == Status.ACTIVE
    assert (renewal.term_months, renewal.hours_per_month) == (6, 20)
    assert (renewal.tam, renewal.backup_tam) == (old.tam, old.backup_tam)
    assert renewal.rolled_over_minutes == 600 + 4 * 1200
    assert [b.rollover_minutes for b in renewal.buckets.order_by("starts_on")] == [
        900
    ] * 6
    assert not renewal.meetings.filter(kind=Meeting.Kind.KICKOFF).exists()
    assert renewal.meetings.filter(kind=Meeting.Kind.WEEKLY_STATUS).count() >= 24
    # History kept: the old term and its entries stay, and the change is recorded.
    assert old.time_entries.count() == 3
    assert [h.status for h in old.history.order_by("history_date")] == [
        Status.ACTIVE,
        Status.IN_GRACE,
    ]
    assert old.history.latest().history_change_reason == "term ended; renewed"


def test_running_again_changes_nothing(signed):
    services.renew_due_contracts(now=at(2027, 8, 1))

    again = services.renew_due_contracts(now=at(2027, 8, 1))
    later = services.renew_due_contracts(now=at(2027, 8, 2))

    assert (
        again
        == later
        == {"activated": 0, "renewed": 0, "ended": 0, "refused": 0, "failed": 0}
    )
    assert TAMContract.objects.count() == 2


def test_the_grace_period_ends_after_45_days(signed):
    services.renew_due_contracts(now=at(2027, 8, 1))

    services.renew_due_contracts(now=at(2027, 9, 14))
    assert reload(signed).status == Status.IN_GRACE
    services.renew_due_contracts(now=at(2027, 9, 15))
    assert reload(signed).status == Status.ENDED
    assert reload(signed).renewal.status == Status.ACTIVE


def test_a_notice_before_the_term_ends_stops_the_renewal(signed):
    manager = AgentFactory()

    holder = services.record_notice(
        signed.organization,
        received_on=date(2027, 7, 10),
        given_by="Ada Admin, CTO",
        acting_user=manager,
        now=at(2027, 7, 12),
    )
    services.renew_due_contracts(now=at(2027, 8, 1))

    holder = reload(holder)
    assert holder.pk == signed.pk
    assert holder.status == Status.ENDED
    assert (holder.notice_received_on, holder.notice_from) == (
        date(2027, 7, 10),
        "Ada Admin, CTO",
    )
    assert holder.notice_recorded_by == manager
    assert TAMContract.objects.count() == 1


@pytest.mark.parametrize("received_on", [date(2027, 8, 20), date(2027, 9, 14)])
def test_a_notice_within_the_grace_period_cancels_the_renewal_as_of_the_notice(
    signed, received_on
):
    services.renew_due_contracts(now=at(2027, 8, 1))
    renewal = reload(signed).renewal
    services.record_time_entry(
        renewal,
        agent=signed.tam,
        worked_on=date(2027, 8, 5),
        minutes=60,
        activity=TimeEntry.Activity.TRAINING,
    )

    services.record_notice(
        signed.organization,
        received_on=received_on,
        given_by="Ada Admin",
        acting_user=None,
        now=at(2027, 9, 20),
    )

    old, renewal = reload(signed), reload(renewal)
    assert old.notice_received_on == received_on
    assert old.status == Status.ENDED
    assert renewal.status == Status.CANCELLED
    assert renewal.cancelled_on == received_on
    assert renewal.service_ends_on == received_on
    assert renewal.time_entries.count() == 1  # work done before the notice stays
    assert not renewal.meetings.filter(
        status=Meeting.Status.PLANNED, starts_at__gte=datetime(2027, 9, 16, tzinfo=UTC)
    ).exists()
    services.renew_due_contracts(now=at(2028, 2, 1))
    assert TAMContract.objects.count() == 2  # a cancelled renewal never renews


def test_a_notice_after_the_grace_period_ends_service_at_the_end_of_the_renewed_term(
    signed,
):
    services.renew_due_contracts(now=at(2027, 8, 1))

    holder = services.record_notice(
        signed.organization,
        received_on=date(2027, 9, 15),
        given_by="Ada Admin",
        acting_user=None,
        now=at(2027, 9, 15),
    )
    services.renew_due_contracts(now=at(2028, 1, 31))
    assert reload(holder).status == Status.ACTIVE
    services.renew_due_contracts(now=at(2028, 2, 1))

    renewal = reload(holder)
    assert renewal.renews_id == signed.pk
    assert renewal.notice_received_on == date(2027, 9, 15)
    assert renewal.status == Status.ENDED
    assert renewal.cancelled_on is None
    assert TAMContract.objects.count() == 2


def test_a_notice_received_in_time_but_recorded_after_the_renewal_still_stops_it(
    signed,
):
    services.renew_due_contracts(now=at(2027, 8, 1))

    services.record_notice(
        signed.organization,
        received_on=date(2027, 7, 28),
        given_by="Ada Admin",
        acting_user=None,
        now=at(2027, 8, 3),
    )

    renewal = reload(signed).renewal
    assert reload(signed).status == Status.ENDED
    assert renewal.status == Status.CANCELLED
    assert renewal.cancelled_on == date(2027, 8, 1)


def test_the_outcome_of_a_notice_does_not_depend_on_when_the_sweep_ran(signed):
    """The sweep never ran after the term ended: the notice catches it up first."""
    services.record_notice(
        signed.organization,
        received_on=date(2027, 8, 20),
        given_by="Ada Admin",
        acting_user=None,
        now=at(2027, 8, 20),
    )

    old = reload(signed)
    assert old.status == Status.ENDED
    assert old.renewal.status == Status.CANCELLED
    assert old.renewal.cancelled_on == date(2027, 8, 20)


def test_notices_are_refused_in_the_future_twice_or_without_service(signed):
    with pytest.raises(ValidationError, match="Termination notice rule: a notice "):
        services.record_notice(
            signed.organization,
            received_on=date(2027, 7, 20),
            given_by="Ada",
            acting_user=None,
            now=at(2027, 7, 10),
        )
    services.record_notice(
        signed.organization,
        received_on=date(2027, 7, 10),
        given_by="Ada",
        acting_user=None,
        now=at(2027, 7, 10),
    )
    with pytest.raises(ValidationError, match="already recorded"):
        services.record_notice(
            signed.organization,
            received_on=date(2027, 7, 11),
            given_by="Ada",
            acting_user=None,
            now=at(2027, 7, 11),
        )


def test_catching_up_after_a_week_without_the_sweep(signed):
    """Off from 31 Jul to 7 Aug: the run on 8 Aug gives what daily runs would have."""
    _log(signed, date(2027, 7, 30), 90)
    scheduled = contract(
        starts_on=date(2027, 8, 4), today=date(2027, 3, 1), auto_renew=False
    )

    result = services.renew_due_contracts(now=at(2027, 8, 8))

    old = reload(signed)
    assert result == {
        "activated": 1,
        "renewed": 1,
        "ended": 0,
        "refused": 0,
        "failed": 0,
    }
    assert old.status == Status.IN_GRACE
    assert old.renewal.starts_on == date(2027, 8, 1)  # not the day it ran
    assert old.renewal.status == Status.ACTIVE
    assert old.renewal.rolled_over_minutes == 6 * 1200 - 90
    assert reload(scheduled).status == Status.ACTIVE
    assert services.renew_due_contracts(now=at(2027, 8, 8))["renewed"] == 0


def test_a_long_outage_catches_up_a_chain_of_terms(signed):
    result = services.renew_due_contracts(now=at(2028, 3, 1))

    chain = list(TAMContract.objects.order_by("starts_on"))
    assert [(c.starts_on, c.status) for c in chain] == [
        (date(2027, 2, 1), Status.ENDED),
        (date(2027, 8, 1), Status.IN_GRACE),
        (date(2028, 2, 1), Status.ACTIVE),
    ]
    assert result["renewed"] == 2


def test_the_daily_task_runs_the_sweep_and_returns_counts(signed):
    with time_machine.travel(at(2027, 8, 1), tick=False):
        first = tasks.renew_due_contracts.delay().get()
        second = tasks.renew_due_contracts.delay().get()

    assert first["renewed"] == 1
    assert second["renewed"] == 0


def test_late_time_for_a_renewed_term_is_refused_and_names_the_rule(signed):
    services.renew_due_contracts(now=at(2027, 8, 1))

    with pytest.raises(ValidationError) as refused:
        _log(reload(signed), date(2027, 7, 31), 30)

    [error] = refused.value.error_dict["worked_on"]
    assert error.message.startswith(
        "Closed term rule: the term 1 Feb 2027 to 31 Jul 2027 is over"
    )
