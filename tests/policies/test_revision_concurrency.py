"""Two beat runs at once on PostgreSQL: the revision goes live exactly once."""

import copy
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from accounts import roles
from policies import revisions
from policies.models import PlanRevision
from tests.accounts.factories import AgentFactory
from tests.helpdesk.factories import plan

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL row locks"
    ),
]

PT = ZoneInfo("America/Los_Angeles")


def test_two_runs_at_once_apply_a_revision_once():
    manager = AgentFactory(role=roles.SUPPORT_MANAGER)
    janrain = plan("janrain-platinum")
    revision = revisions.draft_revision(janrain, actor=manager)
    content = copy.deepcopy(revision.content)
    content["entitlements"]["has_phone"] = True
    revisions.update_draft(revision, content, actor=manager)
    now = datetime(2026, 12, 1, 9, tzinfo=PT)
    revisions.schedule_revision(
        revision, now + timedelta(days=1), actor=manager, now=now
    )
    results: list[list[int]] = []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            results.append(revisions.apply_due_revisions(now + timedelta(days=2)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [[], [revision.pk]]
    revision.refresh_from_db()
    assert revision.status == PlanRevision.Status.APPLIED
    assert janrain.history.filter(has_phone=True).count() == 1
