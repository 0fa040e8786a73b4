"""SLO clocks: every transition at explicit instants, across DST, and exactly-once
alerts."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk import alerts, clocks, services, tasks
from helpdesk.models import OutboundEmail, SLOClock, SLOEvent, SLOSweep, Ticket
from policies.slo import due_for
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft, many_due_clocks

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")
MT = ZoneInfo("America/Denver")


def pt(*args) -> datetime:
    return datetime(*args, tzinfo=PT)


def mt(*args) -> datetime:
    return datetime(*args, tzinfo=MT)


def file_at(at: datetime, plan: str = "janrain-platinum", level: int | None = None):
    admin = administrator(plan)
    severity = (
        admin.organization.support_plan.severities.get(level=level) if level else None
    )
    with time_machine.travel(at, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
        )


def clock(ticket: Ticket, metric: str) -> SLOClock:
    return SLOClock.objects.get(ticket=ticket, metric=metric)


def at(when: datetime, func, *args, **kwargs):
    with time_machine.travel(when, tick=False):
        return func(*args, **kwargs)


@pytest.fixture
def agent():
    return AgentFactory(role="Support Engineer")


def test_filing_starts_both_clocks_with_the_plan_targets():
    ticket = file_at(pt(2026, 3, 6, 10), level=3)  # Janrain Sev3: 1 / 5 business days

    response, resolution = (clock(ticket, m) for m in ("first_response", "resolution"))

    assert response.due_at == pt(2026, 3, 9, 10)
    assert resolution.due_at == pt(2026, 3, 13, 10)
    assert response.target_label == "1 business day"
    assert response.calendar.slug == "janrain-24x5-pacific"
    assert response.policy_version is not None
    assert ticket.first_response_due_at == response.due_at
    assert [e.kind for e in response.events.all()] == ["start"]


def test_a_public_reply_meets_the_response_clock_and_a_note_does_not(agent):
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=2)

    at(
        pt(2026, 3, 6, 11),
        services.post_reply,
        ticket,
        author=agent,
        body="n",
        internal=True,
    )
    assert clock(ticket, "first_response").status == "running"
    at(pt(2026, 3, 6, 12), services.post_reply, ticket, author=agent, body="On it")

    response = clock(ticket, "first_response")
    assert response.status == "met"
    assert response.met_at == pt(2026, 3, 6, 12)
    assert response.outcome == "met"


def test_waiting_on_customer_pauses_resolution_and_the_reply_resumes_it(agent):
    # Janrain Sev1: resolution 4 h on 24x7, opened 10:00, due 14:00.
    ticket = file_at(pt(2026, 3, 6, 10), level=1)

    at(pt(2026, 3, 6, 11), services.change_status, ticket, "waiting", actor=agent)
    paused = clock(ticket, "resolution")
    assert paused.status == "paused"
    assert paused.due_at is None
    assert Ticket.objects.get(pk=ticket.pk).resolution_due_at is None

    at(
        pt(2026, 3, 6, 13),
        services.post_reply,
        ticket,
        author=ticket.requester,
        body="Logs",
    )
    resumed = clock(ticket, "resolution")
    assert resumed.status == "running"
    assert resumed.due_at == pt(2026, 3, 6, 16)  # 3 h left from 13:00
    assert resumed.pauses.get().ended_at == pt(2026, 3, 6, 13)


def test_resolving_meets_and_reopening_resumes_with_the_time_left(agent):
    ticket = file_at(pt(2026, 3, 6, 10), level=1)  # resolution due 14:00

    at(pt(2026, 3, 6, 12), services.change_status, ticket, "resolved", actor=agent)
    assert clock(ticket, "resolution").status == "met"
    at(
        pt(2026, 3, 7, 9),
        services.reopen_ticket,
        ticket,
        actor=ticket.requester,
        reason="Again",
    )

    reopened = clock(ticket, "resolution")
    assert reopened.status == "running"
    assert reopened.due_at == pt(2026, 3, 7, 11)  # the 2 h that were left
    assert [e.kind for e in reopened.events.all()] == ["start", "met", "reopen"]


def test_a_business_hours_clock_across_the_dst_weekend():
    # JumpCloud Sev3: 8 business hours, 09-17 Mountain. Fri 15:00 MST + 8 h.
    ticket = file_at(mt(2026, 3, 6, 15), plan="jumpcloud", level=3)

    assert clock(ticket, "first_response").due_at == mt(2026, 3, 9, 15)  # MDT Monday


def test_a_24x7_clock_counts_real_time_across_the_november_change(agent):
    # Jelastic L4: 24 h; opened Sat 31 Oct 12:00 PDT, the clocks go back that night.
    ticket = file_at(pt(2026, 10, 31, 12), plan="jelastic", level=4)

    due = clock(ticket, "first_response").due_at
    assert due == pt(2026, 11, 1, 11)  # 24 real hours = 11:00 PST


def test_a_severity_change_recomputes_from_the_opening_and_tags_its_breach(agent):
    # Janrain Sev3 at Fri 10:00, upgraded to Sev1 at 11:00: the 30 min target from
    # the opening passed at 10:30, so the breach is the reclassification's.
    ticket = file_at(pt(2026, 3, 6, 10), level=3)
    sev1 = ticket.plan.severities.get(level=1)
    new_due = due_for(ticket.plan, sev1, ticket.created_at)

    with time_machine.travel(pt(2026, 3, 6, 11), tick=False):
        clocks.change_targets(ticket, new_due, at=pt(2026, 3, 6, 11), actor=agent)
        alerts.sweep()

    response = clock(ticket, "first_response")
    assert response.due_at == pt(2026, 3, 6, 10, 30)
    assert response.due_version == 2
    assert response.is_reclassification_breach
    assert response.breached_at == pt(2026, 3, 6, 10, 30)
    breach = response.events.get(kind="breach")
    assert breach.note == "caused by reclassification"
    change = response.events.get(kind="target_change")
    assert (change.due_before, change.due_after) == (
        pt(2026, 3, 9, 10),
        pt(2026, 3, 6, 10, 30),
    )
    history = [h.first_response_due_at for h in ticket.history.order_by("history_id")]
    assert pt(2026, 3, 9, 10) in history
    assert pt(2026, 3, 6, 10, 30) in history


def test_met_clocks_keep_their_outcome_when_the_severity_changes(agent):
    ticket = file_at(pt(2026, 3, 6, 10), level=3)
    at(pt(2026, 3, 6, 10, 5), services.post_reply, ticket, author=agent, body="Hi")
    sev1 = ticket.plan.severities.get(level=1)

    clocks.change_targets(
        ticket, due_for(ticket.plan, sev1, ticket.created_at), at=pt(2026, 3, 6, 11)
    )

    response = clock(ticket, "first_response")
    assert response.due_at == pt(2026, 3, 9, 10)
    assert response.outcome == "met"


def test_the_sweep_warns_at_75_and_90_and_breaches_at_100_exactly_once(agent):
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=1)  # 2 h
    services.assign_ticket(ticket, agent, actor=agent)

    for minute in (0, 89, 90, 91, 108, 119, 120, 121, 180):
        with time_machine.travel(
            pt(2026, 3, 6, 10) + timedelta(minutes=minute), tick=False
        ):
            alerts.sweep()
            alerts.sweep()

    response = clock(ticket, "first_response")
    recorded = sorted(
        SLOEvent.objects.alerts()
        .filter(clock=response)
        .values_list("threshold", flat=True)
    )
    assert recorded == [75, 90, 100]
    assert [e.kind for e in response.events.order_by("at")] == [
        "start",
        "warning",
        "warning",
        "breach",
    ]
    assert response.breached_at == pt(2026, 3, 6, 12)
    assert SLOSweep.objects.get().swept_until == pt(2026, 3, 6, 13)
    subjects = list(
        OutboundEmail.objects.filter(to=agent.email).values_list("subject", flat=True)
    )
    assert len(subjects) == 3  # one digest per sweep that found something
    assert sum("breaches" in s for s in subjects) == 1


def test_a_moved_due_instant_re_arms_the_thresholds(agent):
    ticket = file_at(pt(2026, 3, 6, 10), level=1)  # resolution 4 h: 75% at 13:00
    with time_machine.travel(pt(2026, 3, 6, 13, 1), tick=False):
        alerts.sweep()
    at(pt(2026, 3, 6, 13, 10), services.change_status, ticket, "waiting", actor=agent)
    at(
        pt(2026, 3, 6, 15),
        services.post_reply,
        ticket,
        author=ticket.requester,
        body="x",
    )

    resolution = clock(ticket, "resolution")
    assert resolution.due_version == 3  # paused (no due), then resumed (a new due)
    assert resolution.warning_75_at == pt(2026, 3, 6, 13)  # reached before the pause
    assert resolution.warning_90_at == pt(2026, 3, 6, 15, 26)  # 26 min left at 13:10

    def versions_warned_at_75():
        return sorted(
            SLOEvent.objects.alerts()
            .filter(clock=resolution, threshold=75)
            .values_list("due_version", flat=True)
        )

    # 13:00 is behind the sweep (13:01): the resume records the new version's
    # warning itself, and the next sweep does not repeat it.
    assert versions_warned_at_75() == [1, 3]
    with time_machine.travel(pt(2026, 3, 6, 15, 1), tick=False):
        assert alerts.sweep()["alerts"] == 0
    assert versions_warned_at_75() == [1, 3]


def test_business_time_thresholds_skip_the_closed_weekend():
    # JumpCloud Sev1 (1 business hour) filed Fri 16:50 MST: 10 min on Friday, the
    # rest on Monday (MDT): 75% at 09:35, due 09:50.
    ticket = file_at(mt(2026, 3, 6, 16, 50), plan="jumpcloud", level=1)
    AgentFactory(role="Support Engineer")

    with time_machine.travel(mt(2026, 3, 6, 16, 59, 30), tick=False):
        alerts.sweep()
    assert not SLOEvent.objects.alerts().exists()
    with time_machine.travel(mt(2026, 3, 9, 9, 50), tick=False):
        alerts.sweep()

    [email] = OutboundEmail.objects.filter(key__startswith="slo:")
    assert ticket.reference in email.body_text
    assert email.send_after is None  # swept during opening hours: sent at once


def test_an_alert_found_outside_hours_is_held_until_the_opening():
    ticket = file_at(mt(2026, 3, 6, 16), plan="jumpcloud", level=1)  # due 17:00
    AgentFactory(role="Support Engineer")
    mail.outbox.clear()

    with time_machine.travel(mt(2026, 3, 6, 22), tick=False):  # swept late at night
        alerts.sweep()
        tasks.send_pending_emails(older_than_seconds=0)
    [held] = OutboundEmail.objects.filter(key__startswith="slo:")
    assert held.send_after == mt(2026, 3, 9, 9)  # Monday's opening
    assert held.body_text.count(ticket.reference) == 3  # 75, 90 and the breach
    assert not [m for m in mail.outbox if "SLO" in m.subject]

    with time_machine.travel(mt(2026, 3, 9, 9, 1), tick=False):
        tasks.send_pending_emails(older_than_seconds=0)
    assert len([m for m in mail.outbox if "SLO" in m.subject]) == 1


def test_24x7_alerts_go_out_at_once_even_at_night():
    ticket = file_at(pt(2026, 3, 7, 1), plan="jelastic", level=1)
    AgentFactory(role="Support Engineer")

    with time_machine.travel(pt(2026, 3, 7, 3, 30), tick=False):
        alerts.sweep()

    [email] = OutboundEmail.objects.filter(key__startswith="slo:")
    assert ticket.reference in email.body_text
    assert email.send_after is None


def test_events_are_append_only():
    ticket = file_at(pt(2026, 3, 6, 10), level=1)
    event = SLOEvent.objects.filter(clock__ticket=ticket).first()

    event.note = "edited"
    with pytest.raises(ValueError, match="append-only"):
        event.save()


def test_the_clocks_follow_the_ticket_assignee_and_warn_the_current_one(agent):
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=1)  # 2 h
    assert set(ticket.clocks.values_list("assignee", flat=True)) == {None}
    services.assign_ticket(ticket, agent, actor=agent)
    assert set(ticket.clocks.values_list("assignee", flat=True)) == {agent.pk}
    other = AgentFactory(role="Support Engineer")
    services.assign_ticket(ticket, other, actor=agent)
    assert set(ticket.clocks.values_list("assignee", flat=True)) == {other.pk}

    at(pt(2026, 3, 6, 11, 31), alerts.sweep)  # past 75% of the 2 h response

    warnings = OutboundEmail.objects.filter(key__startswith="slo:")
    assert warnings.filter(to=other.email).count() == 1
    assert not warnings.filter(to=agent.email).exists()
    services.assign_ticket(ticket, None, actor=agent)
    assert set(ticket.clocks.values_list("assignee", flat=True)) == {None}


def test_an_alert_recorded_already_is_neither_doubled_nor_mailed(agent):
    """Transitions and sweeps take turns (SLOSweep), so neither records what the
    other did; should an alert be recorded already all the same, the unique
    constraint drops the copy and the digest leaves it out."""
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=1)  # 2 h response
    services.assign_ticket(ticket, agent, actor=agent)
    response = clock(ticket, "first_response")
    SLOEvent.objects.create(  # the 75% warning, recorded by "someone else"
        clock=response,
        kind="warning",
        at=pt(2026, 3, 6, 11, 30),
        due_version=response.due_version,
        threshold=75,
    )

    done = at(pt(2026, 3, 6, 11, 31), alerts.sweep)

    assert done == {"clocks": 1, "alerts": 0, "emails": 0, "busy": False}
    assert SLOEvent.objects.alerts().filter(clock=response).count() == 1
    assert not OutboundEmail.objects.filter(to=agent.email).exists()


def test_a_sweep_of_thousands_of_clocks_sends_each_recipient_one_digest():
    many_due_clocks(2500)  # 2 h targets opened 3 h ago: 75, 90 and 100 % passed

    done = alerts.sweep()

    assert done == {"clocks": 2500, "alerts": 7500, "emails": 1, "busy": False}
    (body,) = OutboundEmail.objects.filter(key__startswith="slo:").values_list(
        "body_text", flat=True
    )
    assert "7500 SLO alerts (2500 breaches)" in body


def test_a_reply_after_the_due_instant_records_the_breach_the_sweep_had_not_reached(
    agent,
):
    """The sweep looks at running clocks only: a clock met, paused or made best
    effort records what it reached first, whenever the sweep last ran."""
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=1)  # due 12:00
    services.assign_ticket(ticket, agent, actor=agent)
    at(pt(2026, 3, 6, 11, 59, 30), alerts.sweep)  # 75% and 90% recorded

    at(pt(2026, 3, 6, 12, 0, 30), services.post_reply, ticket, author=agent, body="x")
    at(pt(2026, 3, 6, 12, 1), alerts.sweep)

    response = clock(ticket, "first_response")
    assert response.status == SLOClock.Status.MET
    assert response.breached_at == pt(2026, 3, 6, 12)
    breach = response.events.get(kind="breach")
    assert (breach.at, breach.threshold) == (pt(2026, 3, 6, 12), 100)
    assert SLOEvent.objects.alerts().filter(clock=response).count() == 3
    assert OutboundEmail.objects.filter(
        to=agent.email, subject__contains="breach"
    ).exists()


def test_waiting_on_the_customer_records_the_warning_reached_before_it(agent):
    ticket = file_at(pt(2026, 3, 6, 10), level=1)  # resolution 4 h: 75% at 13:00
    at(pt(2026, 3, 6, 12, 59, 30), alerts.sweep)

    waiting = pt(2026, 3, 6, 13, 0, 30)
    at(waiting, services.change_status, ticket, "waiting", actor=agent)

    resolution = clock(ticket, "resolution")
    assert resolution.status == SLOClock.Status.PAUSED
    [warning] = SLOEvent.objects.alerts().filter(clock=resolution)
    assert (warning.threshold, warning.at, warning.due_version) == (
        75,
        pt(2026, 3, 6, 13),
        1,
    )
    at(pt(2026, 3, 6, 18), alerts.sweep)  # paused: nothing more
    assert SLOEvent.objects.alerts().filter(clock=resolution).count() == 1


def test_best_effort_records_what_the_clock_reached_first():
    ticket = file_at(pt(2026, 3, 6, 10), plan="jelastic", level=1)  # due 12:00
    AgentFactory(role="Support Engineer")
    at(pt(2026, 3, 6, 11), alerts.sweep)

    clocks.make_best_effort(ticket, at=pt(2026, 3, 6, 11, 40), note="TAM hours")

    response = clock(ticket, "first_response")
    assert response.status == SLOClock.Status.BEST_EFFORT
    assert list(
        SLOEvent.objects.alerts()
        .filter(clock=response)
        .values_list("threshold", flat=True)
    ) == [75]  # 11:30; 90% (11:48) and the breach were never reached


def test_the_sweep_gives_the_garbage_collector_back_as_it_found_it(monkeypatch):
    import gc

    def fail(*args, **kwargs):
        raise RuntimeError("database gone")

    assert gc.isenabled()
    alerts.sweep()
    assert gc.isenabled()
    monkeypatch.setattr(alerts, "_due_alerts", fail)
    with pytest.raises(RuntimeError):
        alerts.sweep()
    assert gc.isenabled()
    gc.disable()
    try:
        monkeypatch.undo()
        alerts.sweep()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks are PostgreSQL's"
)
def test_transitions_take_the_sweep_row_then_the_ticket_then_its_clocks():
    """The order every service takes them in, so no two transactions wait on each
    other (a policy update beside a status change on the same ticket)."""
    ticket = file_at(pt(2026, 3, 6, 10), level=3)
    due = due_for(ticket.plan, ticket.plan.severities.get(level=1), ticket.created_at)

    with CaptureQueriesContext(connection) as queries:
        clocks.change_targets(ticket, due, at=pt(2026, 3, 6, 11))

    locks = [
        re.search(r'FROM "(\w+)"', q["sql"])[1]
        for q in queries.captured_queries
        if re.search(r"FOR (SHARE|UPDATE)", q["sql"])
    ]
    assert locks[:3] == ["helpdesk_slosweep", "helpdesk_ticket", "helpdesk_sloclock"]


def test_a_calendar_edit_reaches_the_very_next_ticket():
    # JumpCloud Sev2: 4 business hours, Mon-Fri 09:00-17:00 in Denver.
    before = file_at(mt(2026, 3, 6, 16), plan="jumpcloud", level=2)
    calendar = clock(before, "first_response").calendar
    monday = calendar.hours.get(weekday=0)
    monday.opens = "10:00"
    monday.save()

    after = file_at(mt(2026, 3, 6, 16), plan="jumpcloud", level=2)

    assert before.first_response_due_at == mt(2026, 3, 9, 12)
    assert after.first_response_due_at == mt(2026, 3, 9, 13)
    assert clock(after, "first_response").due_at == mt(2026, 3, 9, 13)
    assert clock(after, "first_response").warning_75_at == mt(2026, 3, 9, 12)


def test_filing_writes_its_clocks_and_their_start_events_in_one_insert_each():
    file_at(pt(2026, 3, 6, 10), level=3)

    with CaptureQueriesContext(connection) as queries:
        ticket = file_at(pt(2026, 3, 6, 10), level=3)  # Janrain Sev3: two clocks

    tables = [
        found[1]
        for q in queries.captured_queries
        if (found := re.match(r'INSERT INTO "(\w+)"', q["sql"]))
    ]
    assert tables.count("helpdesk_sloclock") == 1
    assert tables.count("helpdesk_sloevent") == 1
    response = clock(ticket, "first_response")
    assert [e.kind for e in SLOEvent.objects.filter(clock__ticket=ticket)] == [
        "start",
        "start",
    ]
    target = due_for(ticket.plan, ticket.severity, ticket.created_at).target
    assert response.policy_version == (
        target.history.order_by("-history_id").first().history_id
    )
    # The ticket row was written once, with the due instants its clocks started with.
    assert ticket.history.count() == 1
    assert ticket.resolution_due_at == clock(ticket, "resolution").due_at
