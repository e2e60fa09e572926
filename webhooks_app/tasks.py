"""Celery tasks of the webhooks app: thin, take ids, safe to run twice (the attempt is claimed under a
row lock and a lease). Retries are not Celery retries: a failed attempt sets `next_attempt_at` and the
beat task `deliver_due` queues it when due, so a worker restart loses nothing."""
from celery import shared_task
from django.db import OperationalError

from . import services

RETRY = {"retry_backoff": True, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 5}


@shared_task(name="webhooks_app.tasks.deliver", autoretry_for=(OperationalError,), **RETRY)
def deliver(delivery_id: int) -> str | None:
    """One attempt of one delivery (if due); returns the delivery's status afterwards."""
    delivery = services.webhook_delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else None


@shared_task(name="webhooks_app.tasks.deliver_due")
def deliver_due() -> int:
    """Queue the deliveries that are due (on the beat schedule, every minute)."""
    return services.webhook_deliveries_queue_due()
