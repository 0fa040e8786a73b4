"""Celery tasks of the policies: thin wrappers around ``policies.revisions``."""

from celery import shared_task

from policies import revisions


@shared_task(name="policies.apply_due_revisions")
def apply_due_revisions() -> list[int]:
    """Make the plan revisions whose instant has come live, each exactly once
    (every minute, by beat; a run after downtime applies what it missed)."""
    return revisions.apply_due_revisions()
