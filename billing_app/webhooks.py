"""Stripe webhooks: verify, record, acknowledge, then process.

`WebhookView`, mounted on dj-stripe's URL (/stripe/webhook/<uuid>/), verifies the signature on the raw body
with dj-stripe's WebhookEventTrigger, records the Event (one row per event id) and queues
`stripe_event_process` on commit, so Stripe gets its 2xx without waiting for any API call (dj-stripe's own
view would sync every object from the API inside the request, and fail on objects it cannot fetch). The task
lets dj-stripe mirror the objects (a mirror failure is logged, never blocks us) and applies the event to
our Payment with `payment_webhook_apply`:

- Replays: a PaymentEvent row per Stripe event id (unique) makes a second application a no-op.
- Out of order: a payment's status only moves forward (pending -> authorized -> captured / canceled /
  failed); a late event for an earlier stage is recorded and changes nothing. Refunded amounts and
  dispute states are applied as "at least" / "closed stays closed".
- Early: an event for a PaymentIntent we created (metadata `evbilling_payment`) whose row is not
  visible yet raises `PaymentNotVisibleYet`, and the task retries it later.
- Foreign: PaymentIntents we did not create are ignored.
"""
from __future__ import annotations

import logging

from django.contrib.auth.decorators import login_not_required
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from djstripe.models import Event, WebhookEndpoint, WebhookEventTrigger
from djstripe.models.webhooks import get_remote_ip
from djstripe.settings import djstripe_settings

from . import stripe_client
from .models import Payment, PaymentEvent
from .payments import payment_dispute_changed
from .signals import payment_status_changed

logger = logging.getLogger(__name__)

HANDLED = (
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.amount_capturable_updated", "charge.refunded", "charge.dispute.created",
    "charge.dispute.closed",
)

_RANK = {Payment.Status.PENDING: 0, Payment.Status.AUTHORIZED: 1, Payment.Status.CAPTURED: 2,
         Payment.Status.CANCELED: 2, Payment.Status.FAILED: 2}


class PaymentNotVisibleYet(Exception):
    """An event for one of our payments whose row this process cannot see yet (retry later)."""


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class WebhookView(View):
    """dj-stripe's webhook endpoint (/stripe/webhook/<uuid>/, same models and signature check) minus
    its synchronous processing: verify, record the trigger and the Event, answer, process in a task."""

    def post(self, request, uuid):
        if "stripe-signature" not in request.headers:
            return HttpResponseBadRequest()
        endpoint = get_object_or_404(WebhookEndpoint, djstripe_uuid=uuid)
        trigger = WebhookEventTrigger.objects.create(
            headers=dict(request.headers), body=request.body.decode(request.encoding or "utf-8", "replace"),
            remote_ip=get_remote_ip(request), stripe_trigger_account=endpoint.djstripe_owner_account,
            webhook_endpoint=endpoint,
        )
        trigger.valid = trigger.validate(secret=endpoint.secret, api_key="")
        if not trigger.valid:
            trigger.save(update_fields=["valid"])
            return HttpResponseBadRequest()
        event = webhook_event_record(trigger)
        trigger.event = event
        trigger.processed = True
        trigger.save(update_fields=["valid", "event", "processed"])
        return HttpResponse(str(trigger.id))


def webhook_event_record(trigger: WebhookEventTrigger) -> Event:
    """Record the verified event once (dj-stripe's Event, unique id) and queue its processing on commit.
    A replayed event is queued again: processing is idempotent, and this recovers a lost task."""
    from .tasks.payments import stripe_event_process

    data = trigger.json_body
    event = Event.objects.filter(id=data["id"]).first()
    if event is None:
        try:
            with transaction.atomic():
                event = Event._create_from_stripe_object(data, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        except IntegrityError:
            event = Event.objects.get(id=data["id"])
    event_id = event.id
    transaction.on_commit(lambda: stripe_event_process.delay(event_id), robust=True)
    return event


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
    """Apply one Stripe event to the payment it concerns; returns it, or None when ignored."""
    if event_type not in HANDLED:
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
            note = _apply(locked, event_type, obj)
            PaymentEvent.objects.create(payment=locked, from_status=payment.status, to_status=locked.status,
                                        note=f"{event_type}: {note}"[:255], stripe_event_id=event_id)
            if locked.status != payment.status:
                payment_status_changed.send(sender=Payment, payment=locked, from_status=payment.status)
    except IntegrityError:
        return Payment.objects.get(pk=payment.pk)  # the same event applied concurrently
    if event_type.startswith("charge.dispute."):
        payment_dispute_changed.send(sender=Payment, payment=locked, status=locked.dispute_status, stripe_dispute=obj)
    return locked


def _forward(payment: Payment, to_status: str) -> bool:
    if _RANK[to_status] <= _RANK[payment.status]:
        return False
    payment.status = to_status
    return True


def _amount(payment: Payment, units) -> object:
    return stripe_client.from_minor_units(int(units), payment.currency) if units is not None else None


def _apply(payment: Payment, event_type: str, obj: dict) -> str:
    """Change the locked payment as the event says, never backwards; returns what happened."""
    fields: list[str] = []
    note = "no change"
    if event_type == "payment_intent.amount_capturable_updated":
        capturable = _amount(payment, obj.get("amount_capturable"))
        if _forward(payment, Payment.Status.AUTHORIZED):
            payment.stripe_payment_intent_id = obj["id"]
            payment.amount_authorized = capturable if capturable is not None else payment.amount_requested
            fields += ["status", "stripe_payment_intent_id", "amount_authorized"]
            note = f"authorized {payment.amount_authorized}"
    elif event_type == "payment_intent.succeeded":
        if _forward(payment, Payment.Status.CAPTURED):
            received = _amount(payment, obj.get("amount_received"))
            target = received if received is not None else (
                payment.amount_due if payment.amount_due is not None else _amount(payment, obj.get("amount")))
            payment.stripe_payment_intent_id = obj["id"]
            payment.amount_authorized = max(payment.amount_authorized, target, payment.amount_requested)
            payment.amount_captured = target
            fields += ["status", "stripe_payment_intent_id", "amount_authorized", "amount_captured"]
            note = f"captured {target}"
    elif event_type == "payment_intent.payment_failed":
        if _forward(payment, Payment.Status.FAILED):
            error = obj.get("last_payment_error") or {}
            payment.failure_code = (error.get("code") or "payment_failed")[:64]
            payment.failure_message = (error.get("message") or "")[:255]
            fields += ["status", "failure_code", "failure_message"]
            note = payment.failure_code
    elif event_type == "payment_intent.canceled":
        if _forward(payment, Payment.Status.CANCELED):
            fields += ["status"]
            note = "released"
    elif event_type == "charge.refunded":
        # Stripe's charge.amount_refunded counts real refunds only when the charge reports amount_captured
        # (localstripe models a partial capture as a refund of the rest and has no amount_captured).
        refunded = _amount(payment, obj.get("amount_refunded")) if "amount_captured" in obj else None
        refunded = min(refunded if refunded is not None else payment.amount_refunded, payment.amount_captured)
        if refunded > payment.amount_refunded:
            payment.amount_refunded = refunded
            fields += ["amount_refunded"]
            note = f"refunded {refunded} in total (outside evbilling)"
    elif event_type == "charge.dispute.created":
        if payment.dispute_status == Payment.Dispute.NONE:
            payment.dispute_status = Payment.Dispute.OPEN
            payment.stripe_dispute_id = obj.get("id", "")
            fields += ["dispute_status", "stripe_dispute_id"]
            note = "dispute opened"
    elif event_type == "charge.dispute.closed":
        closed = Payment.Dispute.WON if obj.get("status") == "won" else Payment.Dispute.LOST
        if payment.dispute_status in (Payment.Dispute.NONE, Payment.Dispute.OPEN):
            payment.dispute_status = closed
            payment.stripe_dispute_id = obj.get("id", "") or payment.stripe_dispute_id
            fields += ["dispute_status", "stripe_dispute_id"]
            note = f"dispute {closed}"
    if fields:
        payment.save(update_fields=[*fields, "updated_at"])
    return note
