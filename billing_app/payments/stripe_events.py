"""Stripe events applied to our payments: a table of event type -> handler, each a small function that
says what the event changes; `payment_webhook_apply` locks the payment and moves it through the one
state machine (`transitions.payment_transition`), the same function our own services call.

- Replays: the PaymentEvent row carries the Stripe event id (unique), so a second application is a no-op.
- Out of order: a payment's status only moves forward (pending -> authorized -> captured / canceled /
  failed); a late event for an earlier stage is recorded and changes nothing. Refunded amounts and
  dispute states are applied as "at least" / "closed stays closed".
- Early: an event for a PaymentIntent we created (metadata `evbilling_payment`) whose row is not
  visible yet raises `PaymentNotVisibleYet`, and the task retries it later.
- Foreign: PaymentIntents we did not create are ignored.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from djstripe.models import Event

from billing_app.models import Payment, PaymentEvent
from billing_app.money import from_minor_units
from billing_app.payments.services import payment_dispute_changed
from billing_app.payments.transitions import payment_can_move, payment_transition
from evbilling.errors import UnavailableError

logger = logging.getLogger(__name__)


class PaymentNotVisibleYet(UnavailableError):
    """An event for one of our payments whose row this process cannot see yet (retry later)."""


@dataclass
class Change:
    """What an event does to a payment: a later status (or None), fields to set, and a note."""

    note: str = "no change"
    to_status: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def _amount(payment: Payment, units) -> Any:
    return from_minor_units(int(units), payment.currency) if units is not None else None


def _authorized(payment: Payment, obj: dict) -> Change:
    if not payment_can_move(payment, Payment.Status.AUTHORIZED):
        return Change()
    capturable = _amount(payment, obj.get("amount_capturable"))
    authorized = capturable if capturable is not None else payment.amount_requested
    return Change(f"authorized {authorized}", Payment.Status.AUTHORIZED,
                  {"stripe_payment_intent_id": obj["id"], "amount_authorized": authorized})


def _succeeded(payment: Payment, obj: dict) -> Change:
    if not payment_can_move(payment, Payment.Status.CAPTURED):
        return Change()
    received = _amount(payment, obj.get("amount_received"))
    target = received if received is not None else (
        payment.amount_due if payment.amount_due is not None else _amount(payment, obj.get("amount")))
    return Change(f"captured {target}", Payment.Status.CAPTURED, {
        "stripe_payment_intent_id": obj["id"], "amount_captured": target,
        "amount_authorized": max(payment.amount_authorized, target, payment.amount_requested)})


def _failed(payment: Payment, obj: dict) -> Change:
    if not payment_can_move(payment, Payment.Status.FAILED):
        return Change()
    error = obj.get("last_payment_error") or {}
    code = (error.get("code") or "payment_failed")[:64]
    return Change(code, Payment.Status.FAILED,
                  {"failure_code": code, "failure_message": (error.get("message") or "")[:255]})


def _canceled(payment: Payment, obj: dict) -> Change:
    if not payment_can_move(payment, Payment.Status.CANCELED):
        return Change()
    return Change("released", Payment.Status.CANCELED)


def _refunded(payment: Payment, obj: dict) -> Change:
    # Stripe's charge.amount_refunded counts real refunds only when the charge reports amount_captured
    # (localstripe models a partial capture as a refund of the rest and has no amount_captured).
    refunded = _amount(payment, obj.get("amount_refunded")) if "amount_captured" in obj else None
    refunded = min(refunded if refunded is not None else payment.amount_refunded, payment.amount_captured)
    if refunded <= payment.amount_refunded:
        return Change()
    return Change(f"refunded {refunded} in total (outside evbilling)", fields={"amount_refunded": refunded})


def _dispute_created(payment: Payment, obj: dict) -> Change:
    if payment.dispute_status != Payment.Dispute.NONE:
        return Change()
    return Change("dispute opened", fields={"dispute_status": Payment.Dispute.OPEN,
                                            "stripe_dispute_id": obj.get("id", "")})


def _dispute_closed(payment: Payment, obj: dict) -> Change:
    if payment.dispute_status not in (Payment.Dispute.NONE, Payment.Dispute.OPEN):
        return Change()
    closed = Payment.Dispute.WON if obj.get("status") == "won" else Payment.Dispute.LOST
    return Change(f"dispute {closed}", fields={"dispute_status": closed,
                                               "stripe_dispute_id": obj.get("id", "") or payment.stripe_dispute_id})


HANDLERS: dict[str, Callable[[Payment, dict], Change]] = {
    "payment_intent.amount_capturable_updated": _authorized,
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "payment_intent.canceled": _canceled,
    "charge.refunded": _refunded,
    "charge.dispute.created": _dispute_created,
    "charge.dispute.closed": _dispute_closed,
}


def _payment_intent_id(event_type: str, obj: dict) -> str | None:
    if event_type.startswith("payment_intent."):
        return obj.get("id")
    intent = obj.get("payment_intent")
    return intent.get("id") if isinstance(intent, dict) else intent


def _find_payment(event_type: str, obj: dict) -> Payment | None:
    intent_id = _payment_intent_id(event_type, obj)
    payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first() if intent_id else None
    if payment is not None:
        return payment
    ours = (obj.get("metadata") or {}).get("evbilling_payment") if event_type.startswith("payment_intent.") else None
    if ours is None:
        return None
    payment = Payment.objects.filter(pk=ours).first()
    if payment is None:
        raise PaymentNotVisibleYet(f"payment {ours} for {intent_id} not visible yet")
    if payment.stripe_payment_intent_id not in (None, intent_id):
        return None
    return payment


def payment_webhook_apply(*, event_id: str, event_type: str, obj: dict) -> Payment | None:
    """Apply one Stripe event to the payment it concerns, once; returns it, or None when ignored."""
    handler = HANDLERS.get(event_type)
    if handler is None:
        return None
    payment = _find_payment(event_type, obj)
    if payment is None:
        logger.info("stripe event %s (%s) is not about one of our payments: ignored", event_id, event_type)
        return None
    try:
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            if PaymentEvent.objects.filter(stripe_event_id=event_id).exists():
                return locked
            change = handler(locked, obj)
            payment_transition(payment=locked, to_status=change.to_status, note=f"{event_type}: {change.note}",
                               forward_only=True, stripe_event_id=event_id, **change.fields)
    except IntegrityError:
        return Payment.objects.get(pk=payment.pk)  # the same event applied concurrently
    if event_type.startswith("charge.dispute."):
        payment_dispute_changed.send(sender=Payment, payment=locked, status=locked.dispute_status, stripe_dispute=obj)
    return locked


def stripe_event_process(*, event_id: str) -> Payment | None:
    """Mirror the event with dj-stripe's handlers (best effort), then apply it to our payment."""
    event = Event.objects.filter(id=event_id).first()
    if event is None:
        logger.warning("stripe event %s not recorded: nothing to process", event_id)
        return None
    try:
        with transaction.atomic():
            event.invoke_webhook_handlers()
    except Exception:
        logger.warning("dj-stripe could not mirror stripe event %s (%s)", event.id, event.type, exc_info=True)
    return payment_webhook_apply(event_id=event.id, event_type=event.type, obj=(event.data or {}).get("object") or {})
