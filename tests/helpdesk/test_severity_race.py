"""Two agents change the same ticket's severity at once: one wins, the other gets a
conflict, nothing is half-applied (real PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection

from helpdesk import severity
from helpdesk.models import Message, SeverityChange, SLOEvent
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import administrator, draft

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks"),
]


def test_two_agents_at_once_one_wins_one_conflicts():
    from helpdesk import services

    admin = administrator("janrain-platinum")
    sev2 = admin.organization.support_plan.severities.get(level=2)
    ticket = services.open_ticket(
        admin.organization,
        draft(severity=sev2, customer_contact="Ada"),
        requester=admin.user,
        filed_by=admin.user,
    )
    targets = [ticket.plan.severities.get(level=n) for n in (1, 3)]
    agents = [AgentFactory(), AgentFactory()]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def change(agent, target) -> None:
        try:
            barrier.wait()
            severity.request_severity_change(
                ticket,
                target,
                actor=agent,
                reason="Production checkout fails for every user since 09:00.",
                expected=sev2,
            )
            outcomes.append("applied")
        except severity.SeverityConflict:
            outcomes.append("conflict")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=change, args=pair)
        for pair in zip(agents, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied", "conflict"]
    assert SeverityChange.objects.count() == 1
    assert Message.objects.filter(visibility="event").count() == 1
    assert (
        SLOEvent.objects.filter(kind="target_change").count() == 2
    )  # both clocks, once
    ticket.refresh_from_db()
    assert ticket.severity == SeverityChange.objects.get().to_severity
