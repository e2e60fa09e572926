"""The one state machine of a Payment: every status change goes through `payment_transition`.

pending -> authorized -> captured | canceled, and failed from pending or authorized. Our own services
(hold, capture, sync, renewals) and Stripe's webhooks (`stripe_events`) call the same function, so a
status change always writes its history row (PaymentEvent) and sends `payment_status_changed` once.

Webhooks can arrive late or out of order: with `forward_only`, a transition to an earlier or equal
stage is recorded (with its Stripe event id, which makes a replay a no-op) and changes nothing.
"""
from __future__ import annotations

from typing import Any

from django.db import transaction

from billing_app.models import Payment, PaymentEvent
from billing_app.signals import payment_status_changed

#: How far along a payment is; terminal states share the last rank (a late event never leaves them).
STAGE = {Payment.Status.PENDING: 0, Payment.Status.AUTHORIZED: 1, Payment.Status.CAPTURED: 2,
         Payment.Status.CANCELED: 2, Payment.Status.FAILED: 2}


def payment_event_record(payment: Payment, *, to_status: str, note: str, from_status: str | None = None,
                         stripe_event_id: str | None = None) -> PaymentEvent:
    """A history row without a status change (a hold claimed, a refund asked for, a replayed event)."""
    return PaymentEvent.objects.create(
        payment=payment, from_status=payment.status if from_status is None else from_status, to_status=to_status,
        note=note[:255], stripe_event_id=stripe_event_id,
    )


def payment_can_move(payment: Payment, to_status: str) -> bool:
    """True when `to_status` is a later stage than the payment's (the webhooks' forward-only rule)."""
    return STAGE[to_status] > STAGE[payment.status]


def payment_transition(*, payment: Payment, to_status: str | None, note: str, forward_only: bool = False,
                       stripe_event_id: str | None = None, **fields: Any) -> Payment:
    """Move `payment` to `to_status` (None: keep it) and set `fields`, with its history row, atomically.

    With `forward_only`, a status that is not a later stage is ignored (the fields are still set: the
    caller decides which of them a late event may change). The signal goes only on a real change."""
    with transaction.atomic():
        from_status = payment.status
        if to_status is not None and (not forward_only or payment_can_move(payment, to_status)):
            payment.status = to_status
        for name, value in fields.items():
            setattr(payment, name, value)
        if payment.status != from_status or fields:
            payment.save()
        payment_event_record(payment, from_status=from_status, to_status=payment.status, note=note,
                             stripe_event_id=stripe_event_id)
        if payment.status != from_status:
            payment_status_changed.send(sender=Payment, payment=payment, from_status=from_status)
    return payment
