"""Celery tasks of the webhooks app: thin, safe to run twice. Retries are not Celery retries: a failed
attempt sets `next_attempt_at` and the beat task `deliver_due` queues it when due, so a worker restart
loses nothing. The `deliver` task itself lives in attempts.py, beside its service."""
from celery import shared_task

from . import attempts


@shared_task(name="webhooks_app.tasks.deliver_due")
def deliver_due() -> int:
    """Queue the deliveries that are due (on the beat schedule, every minute)."""
    return attempts.webhook_deliveries_queue_due()
