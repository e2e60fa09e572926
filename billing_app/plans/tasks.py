"""Celery tasks for subscription plans: thin, safe to run twice (renewals are unique per period)."""
from celery import shared_task
from django.db import OperationalError

from billing_app.plans import services as plans

__all__ = ["subscription_renew", "subscriptions_renew_due"]

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(name="billing_app.tasks.subscriptions_renew_due", autoretry_for=(OperationalError,), **RETRY)
def subscriptions_renew_due() -> int:
    return plans.subscriptions_renew_due()


@shared_task(name="billing_app.tasks.subscription_renew", autoretry_for=(OperationalError,), **RETRY)
def subscription_renew(subscription_id: int) -> str | None:
    period = plans.subscription_renew(subscription_id=subscription_id)
    return period.status if period else None
