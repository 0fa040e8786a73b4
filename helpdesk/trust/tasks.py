"""Celery tasks of the trust site: subscribers' e-mails about status updates."""

from celery import shared_task

from helpdesk.trust import subscriptions


@shared_task(name="trust.fan_out_status_update", ignore_result=True)
def fan_out_status_update(update_id: int) -> int:
    """Queue one status update's e-mail for every confirmed subscriber (once each,
    in batches); return how many were queued. Enqueued on commit of the update."""
    return subscriptions.fan_out(update_id)


@shared_task(name="trust.fan_out_pending_status_updates", ignore_result=True)
def fan_out_pending_status_updates() -> int:
    """Every minute (beat): fan out the updates a lost hint or a dead worker left;
    return how many."""
    return subscriptions.fan_out_pending()
