"""Contracts: every rule refuses with a message that names it, in the service and in
the database."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tam import services
from tam.models import HourBucket, Meeting, TAMContract, TAMProfile
from tests.accounts.factories import AgentFactory, OrganizationFactory
from tests.tam.factories import contract, draft, project_manager, tam

pytestmark = pytest.mark.django_db


def test_a_contract_gets_its_term_monthly_buckets_meetings_and_history():
    signed = contract(term_months=6, hours_per_month=20)

    assert signed.status == TAMContract.Status.ACTIVE
    assert signed.ends_on == date(2027, 7, 31)
    assert signed.time_zone == "America/Los_Angeles"
    buckets = list(signed.buckets.order_by("starts_on"))
    assert [(b.starts_on, b.ends_on) for b in buckets[:2]] == [
        (date(2027, 2, 1), date(2027, 2, 28)),
        (date(2027, 3, 1), date(2027, 3, 31)),
    ]
    assert len(buckets) == 6
    assert {b.allotted_minutes for b in buckets} == {20 * 60}
    assert signed.history.count() == 1
    assert HourBucket.history.filter(contract_id=signed.pk).count() == 6
    kinds = [m.kind for m in signed.meetings.all()]
    assert kinds.count(Meeting.Kind.KICKOFF) == 1
    assert kinds.count(Meeting.Kind.QUARTERLY_PLANNING) == 2
    assert kinds.count(Meeting.Kind.ONSITE_WORKSHOP) == 0
    assert 24 <= kinds.count(Meeting.Kind.WEEKLY_STATUS) <= 26


def test_a_contract_signed_for_later_is_scheduled_until_it_starts():
    signed = contract(today=date(2027, 1, 4))

    assert signed.status == TAMContract.Status.SCHEDULED


def test_thirty_hours_or_more_has_a_project_manager_and_a_workshop_every_six_months():
    pm = project_manager()

    signed = contract(term_months=12, hours_per_month=30, project_manager=pm)

    workshops = signed.meetings.filter(kind=Meeting.Kind.ONSITE_WORKSHOP)
    assert signed.project_manager == pm
    assert [w.starts_at.date() for w in workshops] == [
        date(2027, 3, 1),
        date(2027, 9, 1),
    ]
    assert {w.mode for w in workshops} == {Meeting.Mode.ONSITE}


def _not_a_tam():
    return AgentFactory()


RULES = [
    (
        {"hours_per_month": 5},
        "hours_per_month",
        "minimum-hours",
        "Minimum hours rule: a TAM contract has at least 10 hours a month; 5 were "
        "given.",
    ),
    (
        {"hours_per_month": 12},
        "hours_per_month",
        "hour-increments",
        "5-hour increments rule: hours are bought in 5-hour increments; 12 is not "
        "one (choose 10 or 15).",
    ),
    (
        {"term_months": 9},
        "term_months",
        "term-length",
        "Term length rule: a TAM term is 6 or 12 months; 9 were given.",
    ),
    (
        {"hours_per_month": 30, "project_manager": None},
        "project_manager",
        "project-manager",
        "Project manager rule: contracts of 30 hours a month or more have an "
        "assigned project manager",
    ),
    (
        {"starts_on": date(2027, 1, 18)},
        "starts_on",
        "start-notice",
        "Start notice rule: service starts no earlier than two business weeks after "
        "the contract is signed; signed on Monday 4 January 2027, the earliest start "
        "is Tuesday 19 January 2027.",
    ),
    (
        {"tam": "not a tam"},
        "tam",
        "tam-role",
        "TAM role rule:",
    ),
    (
        {"backup_tam": "not a tam"},
        "backup_tam",
        "tam-role",
        "TAM role rule:",
    ),
    (
        {"backup_tam": "same as tam"},
        "backup_tam",
        "backup-tam",
        "Backup TAM rule: the backup TAM must be someone other than the named TAM.",
    ),
    (
        {"hours_per_month": 30, "project_manager": "not a pm"},
        "project_manager",
        "pm-role",
        "Project manager role rule:",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "rule", "message"), RULES)
def test_each_rule_refuses_with_a_message_that_names_it(
    overrides, field, rule, message
):
    named = tam()
    people = {
        "not a tam": _not_a_tam,
        "same as tam": lambda: named,
        "not a pm": _not_a_tam,
    }
    overrides = {
        key: people[value]() if isinstance(value, str) else value
        for key, value in overrides.items()
    }
    organization = OrganizationFactory()

    with pytest.raises(ValidationError) as refused:
        services.create_contract(
            organization,
            draft(**({"tam": named} | overrides)),
            acting_user=None,
            today=date(2027, 1, 4),
        )

    [error] = [e for e in refused.value.error_dict[field] if e.code == rule]
    assert error.message.startswith(message)
    assert TAMContract.objects.count() == 0
    assert HourBucket.objects.count() == 0


def test_the_start_rule_counts_business_days_on_the_named_tams_calendar():
    """Martin Luther King Jr. Day (18 January 2027) is a US holiday, not a UK one."""
    organization = OrganizationFactory()
    london = tam(TAMProfile.Location.UK_LONDON)

    services.create_contract(
        organization,
        draft(tam=london, starts_on=date(2027, 1, 18)),
        acting_user=None,
        today=date(2027, 1, 4),
    )
    with pytest.raises(ValidationError, match="Tuesday 19 January 2027"):
        services.create_contract(
            OrganizationFactory(),
            draft(starts_on=date(2027, 1, 18)),
            acting_user=None,
            today=date(2027, 1, 4),
        )
    accepted = services.create_contract(
        OrganizationFactory(),
        draft(starts_on=date(2027, 1, 19)),
        acting_user=None,
        today=date(2027, 1, 4),
    )

    assert accepted.starts_on == date(2027, 1, 19)


def test_one_active_contract_per_organisation_refuses_an_overlapping_term():
    first = contract(auto_renew=False)

    with pytest.raises(ValidationError) as refused:
        contract(first.organization, starts_on=date(2027, 5, 3))

    [error] = refused.value.error_dict["starts_on"]
    assert error.code == "one-active"
    assert error.message.startswith("One active contract rule: Customer")
    assert "1 Feb 2027 to 31 Jul 2027; a new term" in error.message
    later = contract(
        first.organization, starts_on=date(2027, 8, 2), today=date(2027, 3, 1)
    )
    assert later.status == TAMContract.Status.SCHEDULED


def test_a_contract_that_renews_itself_blocks_any_later_one_until_notice():
    first = contract()

    with pytest.raises(ValidationError, match="renews automatically"):
        contract(first.organization, starts_on=date(2028, 3, 1))


CONSTRAINTS = [
    ({"hours_per_month": 5}, "Minimum hours rule"),
    ({"hours_per_month": 12}, "5-hour increments rule"),
    ({"term_months": 9}, "not a valid choice"),  # the field's choices speak first
    ({"hours_per_month": 30}, "Project manager rule"),
    ({"starts_on": date(2027, 1, 4)}, "Start notice rule"),
]


@pytest.mark.parametrize(("change", "rule"), CONSTRAINTS)
def test_the_database_holds_the_rules_too(change, rule):
    signed = contract()

    for name, value in change.items():
        setattr(signed, name, value)
    with pytest.raises(ValidationError, match=rule):
        signed.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        TAMContract.objects.filter(pk=signed.pk).update(**change)


def test_the_database_refuses_a_second_active_contract_and_a_backup_who_is_the_tam():
    first = contract()
    second = contract(starts_on=date(2027, 3, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        TAMContract.objects.filter(pk=second.pk).update(organization=first.organization)
    with pytest.raises(IntegrityError), transaction.atomic():
        TAMContract.objects.filter(pk=first.pk).update(backup_tam=first.tam)
