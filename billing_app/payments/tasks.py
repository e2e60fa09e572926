"""Celery tasks for payments: thin, take ids, safe to run twice. Stripe being unreachable (timeouts,
connection errors, 5xx) is retried with exponential backoff; what was recorded waits meanwhile."""
import logging

from celery import shared_task
from django.db import OperationalError

from billing_app.invoicing import reconciliation
from billing_app.payments import services as payments
from billing_app.payments import stripe_client, stripe_events

logger = logging.getLogger(__name__)

__all__ = [
    "payment_advance", "payment_holds_maintain", "payments_settle_pending", "refund_send",
    "session_payment_settle", "stripe_event_process",
]

_RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 10}
#: Worth asking again later: Stripe unreachable, the same request still in flight (409), the database busy.
_STRIPE_LATER = (stripe_client.StripeUnavailable, stripe_client.StripeInProgress, OperationalError)


@shared_task(name="billing_app.tasks.session_payment_settle",
             autoretry_for=_STRIPE_LATER, **_RETRY)
def session_payment_settle(session_id: int) -> list[str]:
    settled = reconciliation.session_payment_collect(session_id=session_id)
    return [f"{p.pk}:{p.status}" for p in settled]


@shared_task(name="billing_app.tasks.payment_advance",
             autoretry_for=_STRIPE_LATER, **_RETRY)
def payment_advance(payment_id: int) -> str:
    return payments.payment_advance(payment_id=payment_id).status


@shared_task(name="billing_app.tasks.refund_send",
             autoretry_for=_STRIPE_LATER, **_RETRY)
def refund_send(refund_id: int) -> str:
    return payments.refund_send(refund_id=refund_id).status


@shared_task(name="billing_app.tasks.payments_settle_pending")
def payments_settle_pending() -> int:
    return payments.payments_settle_pending()


@shared_task(name="billing_app.tasks.payment_holds_maintain",
             autoretry_for=(stripe_client.StripeUnavailable,), **_RETRY)
def payment_holds_maintain() -> int:
    return payments.payment_holds_maintain()


@shared_task(name="billing_app.tasks.stripe_event_process",
             autoretry_for=(stripe_events.PaymentNotVisibleYet, OperationalError), **_RETRY)
def stripe_event_process(event_id: str) -> str:
    payment = stripe_events.stripe_event_process(event_id=event_id)
    return payment.status if payment else "ignored"
