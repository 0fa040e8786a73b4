"""Alerts follow staffed hours, not SLA coverage (issue 15 section 2): a Janrain Sev3
counts 24x5, so its clock runs at 00:01 on a Tuesday, but nobody is paged for it
then; Sev1 and Sev2 page at once."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from helpdesk import alerts, services, tasks
from helpdesk.models import OutboundEmail, SLOEvent
from policies.loader import PACKS_DIR, PackError, read_pack
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft, plan

pytestmark = pytest.mark.django_db

PT = ZoneInfo("America/Los_Angeles")


def pt(*args) -> datetime:
    return datetime(*args, tzinfo=PT)


def file_at(at: datetime, admin, level: int):
    severity = admin.organization.support_plan.severities.get(level=level)
    with time_machine.travel(at, tick=False):
        return services.open_ticket(
            admin.organization,
            draft(severity=severity, customer_contact="Ada, +1 555 0100"),
            requester=admin.user,
            filed_by=admin.user,
        )


def slo_emails(ticket):
    return [
        e
        for e in OutboundEmail.objects.filter(key__startswith="slo:")
        if ticket.reference in e.body_text
    ]


@pytest.fixture
def admin():
    AgentFactory(role="Support Engineer")
    AgentFactory(role="Support Manager")
    return administrator("janrain-platinum")


def test_the_janrain_pack_pages_sev1_and_sev2_at_once_and_holds_sev3():
    janrain = plan("janrain-platinum")

    assert janrain.staffed_calendar.slug == "janrain-staffed-pacific"
    assert dict(janrain.severities.values_list("level", "pages_at_once")) == {
        1: True,
        2: True,
        3: False,
    }
    assert plan("jelastic").staffed_calendar is None


def test_a_sev3_breach_at_tuesday_0001_is_emailed_at_the_staffed_opening(admin):
    # Sev3: 1 business day on 24x5 PT; filed Mon 00:01, due Tue 00:01.
    sev3 = file_at(pt(2026, 12, 7, 0, 1), admin, level=3)
    # Sev1: 30 min on 24x7; filed Mon 23:31, due Tue 00:01 too.
    sev1 = file_at(pt(2026, 12, 7, 23, 31), admin, level=1)
    mail.outbox.clear()

    with time_machine.travel(pt(2026, 12, 8, 0, 1), tick=False):
        alerts.sweep()
    with time_machine.travel(pt(2026, 12, 8, 0, 2), tick=False):
        tasks.send_pending_emails(older_than_seconds=0)

    # Both breaches are recorded at their instant...
    breaches = SLOEvent.objects.filter(kind="breach", clock__metric="first_response")
    assert {(e.clock.ticket_id, e.at) for e in breaches} == {
        (sev3.pk, pt(2026, 12, 8, 0, 1)),
        (sev1.pk, pt(2026, 12, 8, 0, 1)),
    }
    # ...the Sev1's e-mails go out at once, the Sev3's wait for 06:00 PT.
    assert {e.send_after for e in slo_emails(sev1)} == {None}
    assert [m for m in mail.outbox if "SLO" in m.subject and sev1.reference in m.body]
    held = slo_emails(sev3)
    assert held
    assert {e.send_after for e in held} == {pt(2026, 12, 8, 6, 0)}
    assert all(e.sent_at is None for e in held)
    assert not [
        m for m in mail.outbox if "SLO" in m.subject and sev3.reference in m.body
    ]

    with time_machine.travel(pt(2026, 12, 8, 6, 1), tick=False):
        tasks.send_pending_emails(older_than_seconds=0)
    assert [m for m in mail.outbox if "SLO" in m.subject and sev3.reference in m.body]


def test_a_sev3_warning_after_staffed_hours_waits_for_the_next_morning(admin):
    # 75% of 1 business day from Mon 00:01 is Mon 18:01: staffed hours end at 18:00.
    sev3 = file_at(pt(2026, 12, 7, 0, 1), admin, level=3)

    with time_machine.travel(pt(2026, 12, 7, 18, 1), tick=False):
        alerts.sweep()

    [warning] = slo_emails(sev3)
    assert warning.send_after == pt(2026, 12, 8, 6, 0)
    assert SLOEvent.objects.get(kind="warning", threshold=75).at == pt(
        2026, 12, 7, 18, 1
    )


def test_a_sev3_alert_inside_staffed_hours_goes_out_at_once(admin):
    sev3 = file_at(pt(2026, 12, 7, 10, 0), admin, level=3)  # due Tue 10:00

    with time_machine.travel(pt(2026, 12, 8, 10, 0), tick=False):
        alerts.sweep()

    assert {e.send_after for e in slo_emails(sev3)} == {None}


def test_a_pack_naming_an_unknown_staffed_calendar_is_refused(tmp_path):
    text = (PACKS_DIR / "janrain-platinum.toml").read_text()
    broken = tmp_path / "janrain-platinum.toml"
    broken.write_text(text.replace('"janrain-staffed-pacific"\n', '"nowhere"\n', 1))

    with pytest.raises(PackError, match="staffed_calendar: 'nowhere' is not in"):
        read_pack(broken)
