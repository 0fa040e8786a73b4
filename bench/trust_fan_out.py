"""Benchmark the agent's request that posts an incident update, with N subscribers.

Run from the repository root:
`.venv/bin/python bench/trust_fan_out.py [--subscribers N] [--runs R]`.

It migrates a fresh SQLite file in a temporary directory (or, with
`--database-url postgres://...`, that database, which must exist and be yours) and
loads N confirmed status subscribers (default 2,000).

Measured in the same run, on the same rows, median of R runs (default 3):

- baseline: the request as it was, which queued one outbox e-mail per subscriber
  (``queue_email``, as ``notify_subscribers`` did) inside the agent's transaction;
- now: the request (``post_incident_update``), which only enqueues the fan-out on
  commit (the broker publish is counted, not sent);
- the worker: ``subscriptions.fan_out`` for a new update, batch by batch, and again
  for the same update (a redelivered task), which must write nothing.

It prints each time, the request ratio (baseline / now) and the rows each wrote.
It exits 0 whatever the results: a report, not a gate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(database_url: str | None) -> None:
    var_dir = tempfile.mkdtemp(prefix="trust-fan-out-bench-")
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{var_dir}/bench.sqlite3"
    os.environ.pop("REDIS_URL", None)  # embedded broker: nothing touches real Redis
    os.environ["HELPDESK_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)

    from django.db import transaction
    from django.utils import timezone

    from accounts.models import User
    from helpdesk import emails
    from helpdesk.models import OutboundEmail
    from helpdesk.trust import services, subscriptions
    from helpdesk.trust.models import Component, IncidentUpdate, StatusSubscriber

    published = []

    def count_publish(task, *task_args) -> bool:  # the broker is not under test
        published.append(task.name)
        return True

    emails.publish_hint = count_publish

    StatusSubscriber.objects.all().delete()
    now = timezone.now()
    StatusSubscriber.objects.bulk_create(
        StatusSubscriber(email=f"watcher{n}@bench.example", confirmed_at=now)
        for n in range(args.subscribers)
    )
    agent, _ = User.objects.get_or_create(
        email="bench-agent@bench.example",
        defaults={"is_staff": True, "is_superuser": True},
    )
    component, _ = Component.objects.get_or_create(name="Bench component")
    with transaction.atomic():
        incident = services.open_incident(
            title="Bench incident",
            impact="minor",
            components=[component],
            body="Opened.",
            acting_user=agent,
        )

    def old_request() -> int:
        """The request as it was: the update, then one e-mail per subscriber."""
        before = OutboundEmail.objects.count()
        with transaction.atomic():
            update = IncidentUpdate.objects.create(
                incident=incident, status="identified", body="x", author=agent
            )
            for subscriber in StatusSubscriber.objects.filter(
                confirmed_at__isnull=False
            ).order_by("pk"):
                emails.queue_email(
                    key=f"{subscriptions.KEY_PREFIX}{update.pk}:{subscriber.pk}",
                    to=subscriber.email,
                    template="status_update",
                    context={
                        "incident": incident,
                        "update": update,
                        "unsubscribe_path": subscriptions.unsubscribe_path(subscriber),
                    },
                )
            update.subscribers_notified_at = timezone.now()
            update.save(update_fields=["subscribers_notified_at"])
        return OutboundEmail.objects.count() - before

    def new_request() -> tuple[int, int]:
        before = OutboundEmail.objects.count()
        with transaction.atomic():
            update = services.post_incident_update(
                incident, status="identified", body="x", acting_user=agent
            )
        return OutboundEmail.objects.count() - before, update.pk

    def timed(function):
        start = time.perf_counter()
        result = function()
        return (time.perf_counter() - start) * 1000, result

    old_ms, new_ms, worker_ms, again_ms = [], [], [], []
    old_rows = new_rows = worker_rows = again_rows = 0
    for _ in range(args.runs):
        ms, old_rows = timed(old_request)
        old_ms.append(ms)
        published.clear()
        ms, (new_rows, update_id) = timed(new_request)
        new_ms.append(ms)
        hints = list(published)
        ms, worker_rows = timed(lambda: subscriptions.fan_out(update_id))  # noqa: B023
        worker_ms.append(ms)
        IncidentUpdate.objects.filter(pk=update_id).update(subscribers_notified_at=None)
        ms, again_rows = timed(lambda: subscriptions.fan_out(update_id))  # noqa: B023
        again_ms.append(ms)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    rows = [
        ("baseline request (e-mails in the request)", old_ms, old_rows),
        ("request now (fan-out enqueued on commit)", new_ms, new_rows),
        (f"worker fan_out, batches of {subscriptions.FAN_OUT_BATCH}", worker_ms,
         worker_rows),
        ("worker fan_out again (redelivered)", again_ms, again_rows),
    ]  # fmt: skip
    database = os.environ["DATABASE_URL"].split(":")[0]
    print(f"{args.subscribers} subscribers, {database}, median of {args.runs}")
    for label, times, written in rows:
        print(f"  {label:45} {median(times):9.1f} ms  {written:6} outbox rows")
    print(f"  hints published by the request: {hints}")
    print(f"  request ratio baseline / now: {median(old_ms) / median(new_ms):.0f}x")
    print(f"  worker / baseline request: {median(worker_ms) / median(old_ms):.2f}")


if __name__ == "__main__":
    main()
