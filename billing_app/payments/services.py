"""Pay-as-you-go payments: hold at authorization, capture at settlement, refunds.

The flow of a pay-as-you-go session:

1. `token_payment_standing` (the hook sessions_app's token_authorize consults, by dotted path) places a
   hold: a PaymentIntent with capture_method=manual sized from the tariff's max price incl. VAT (else
   PAYMENT_HOLD_DEFAULT). No card or a declined one refuses the token, with the reason kept on a failed
   Payment row.
2. `session_payment_settle` (chained after pricing) claims the token's open hold for the session, sets
   what it must capture (`amount_due`), and adds an off-session `session_extra` payment for a cost above
   the hold. `payment_advance` then does the Stripe work: capture (partial) or cancel (zero cost).
   A session held for review (implausible readings, or more above the hold than the operator allows
   off-session) waits untouched, its hold kept alive, until `settlement.review` resolves it.
3. `payment_refund` gives money back, never more than captured minus refunded.

Every Payment row is committed before Stripe is called, and every Stripe call carries an idempotency key
derived from our ids, so a retry after a timeout repeats the same request instead of making a new one.
While Stripe is unreachable, payments stay `pending` / `authorized` with their target recorded; Celery
retries and the beat sweep (`payments_settle_pending`) finish them when it returns.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from billing_app.companies.caps import card_cap_standing
from billing_app.models import (
    BillingAccount,
    ChargeReview,
    Invoice,
    Payment,
    PaymentCustomer,
    Refund,
    SessionCharge,
)
from billing_app.money import from_minor_units, quantize_money
from billing_app.payments import messages, stripe_client
from billing_app.payments.overdue_refusal import overdue_refusal_standing
from billing_app.payments.transitions import payment_event_record, payment_transition
from billing_app.signals import refund_succeeded
from billing_app.tariffs.services import tariff_for_session
from evbilling.errors import ApplicationError
from sessions_app.models import ChargingSession, ChargingStation, IdToken

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")

#: Sent when a payment's dispute (chargeback) opens or closes: `payment`, `status` ("open", "won",
#: "lost"), `stripe_dispute` (the Stripe object as a dict). The disputes app opens its ticket here.
payment_dispute_changed = Signal()


class RefundError(ApplicationError):
    """A refund that would break a rule (above what is refundable, nothing captured, nothing at Stripe)."""


#: Why a captured payment without a PaymentIntent cannot be refunded: it was recorded, not charged through
#: Stripe (history loaded at once: the demo's older sessions, docs/payments.md "Recorded payments").
NOT_AT_STRIPE = gettext_noop("Payment %(payment)s was recorded without a Stripe PaymentIntent (history loaded "
                             "without Stripe, such as the demo's older sessions): there is nothing at Stripe to "
                             "refund. Give the money back outside evbilling and issue the credit note without a "
                             "refund.")


# --- Hold sizing and the authorization hook ---------------------------------------------------------

def hold_amount(*, station: ChargingStation, driver_id: int, at: datetime) -> tuple[Decimal, str]:
    """What to hold at `station`: the highest max price incl. VAT of the tariffs its connectors would
    apply, else PAYMENT_HOLD_DEFAULT in the tariff's (else the operator's) currency."""
    operator = station.location.operator
    amounts, currency = [], operator.default_currency
    for connector in station.connectors.all():
        probe = ChargingSession(operator=operator, connector=connector, driver_id=driver_id, started_at=at)
        tariff = tariff_for_session(probe)
        if tariff is None:
            continue
        currency = tariff.currency
        amounts.append(tariff.max_price_incl_vat if tariff.max_price_incl_vat is not None
                       else Decimal(settings.PAYMENT_HOLD_DEFAULT))
    amount = max(amounts, default=Decimal(settings.PAYMENT_HOLD_DEFAULT))
    return quantize_money(amount, currency), currency


def token_payment_standing(*, id_token: IdToken, station: ChargingStation, at: datetime) -> str | None:
    """The payment hook of `sessions_app.services.token_authorize` (`sessions_app.hooks.payment_standing`,
    set by billing's AppConfig).

    None accepts the token; a string refuses it and says why. A driver with a receipt overdue longer than the
    operator allows is refused first, whatever their payment mode (`overdue_refusal`). Only pay-as-you-go drivers
    are held;
    postpaid and subscription drivers (and drivers without a billing account) pass, and so do a company's
    business cards unless they reached their monthly spending cap (`companies.caps`). A token that has a
    free hold (placed at an Authorize, not yet claimed by a session), or is re-presented for a transaction
    running (or just stopped) at this station, gets no second hold. Every session claims its own hold
    when it starts (`session_holds.session_hold_claim`), so a token with a session running elsewhere has
    no free hold and a second Authorize places a second hold.
    """
    if id_token.is_business:
        return card_cap_standing(id_token=id_token, at=at)  # the company pays by invoice: no hold
    same_transaction = ChargingSession.objects.filter(id_token=id_token, connector__station=station).filter(
        state=ChargingSession.State.ACTIVE).exists() or ChargingSession.objects.filter(
        id_token=id_token, connector__station=station, stopped_at__gte=at).exists()
    if same_transaction:
        return None
    overdue = overdue_refusal_standing(driver_id=id_token.driver_id, operator_id=station.location.operator_id, at=at)
    if overdue:
        return overdue  # before any hold: a refused driver's card is not held
    account = BillingAccount.objects.filter(driver_id=id_token.driver_id).first()
    if account is None or account.payment_mode != BillingAccount.PaymentMode.PAY_AS_YOU_GO:
        return None
    if open_hold_for_token(id_token=id_token) is not None:
        return None
    payment = payment_hold(id_token=id_token, station=station, at=at)
    if payment.status == Payment.Status.AUTHORIZED:
        return None
    if payment.status == Payment.Status.PENDING and settings.PAYMENT_ACCEPT_WHEN_STRIPE_DOWN:
        return None
    return payment.failure_code or "payment_failed"


def open_hold_for_token(*, id_token: IdToken) -> Payment | None:
    """The token's free hold: open and not yet claimed by a session (the oldest first)."""
    return (Payment.objects.filter(id_token=id_token, kind=Payment.Kind.SESSION_HOLD, session__isnull=True,
                                   status__in=Payment.OPEN_STATUSES).order_by("created_at", "pk").first())


def payment_hold(*, id_token: IdToken, station: ChargingStation, at: datetime,
                 session: ChargingSession | None = None) -> Payment:
    """Place a pay-as-you-go hold for the token's driver; returns the Payment (authorized, failed with
    the reason, or pending when Stripe could not be reached: a task then retries it). With `session`, the
    hold is that running session's own from the start (key `evb-session-<id>-hold`)."""
    amount, currency = hold_amount(station=station, driver_id=id_token.driver_id, at=at)
    customer = PaymentCustomer.objects.filter(driver_id=id_token.driver_id).first()
    payment = Payment.objects.create(
        operator_id=station.location.operator_id, driver_id=id_token.driver_id, id_token=id_token, session=session,
        kind=Payment.Kind.SESSION_HOLD, currency=currency, amount_requested=amount,
        idempotency_key=f"evb-session-{session.pk}-hold" if session else f"evb-payment-{uuid.uuid4().hex}",
        stripe_customer_id=customer.stripe_customer_id if customer else "",
        stripe_payment_method_id=customer.default_payment_method_id if customer else "",
    )
    payment_event_record(payment, from_status="", to_status=payment.status,
                         note=f"hold of {amount} {currency} requested")
    if customer is None or not customer.default_payment_method_id:
        return payment_transition(payment=payment, to_status=Payment.Status.FAILED, note="no payment method",
                                  failure_code="no_payment_method", failure_message=messages.NO_CARD)
    try:
        return payment_advance(payment_id=payment.pk)
    except (stripe_client.StripeUnavailable, stripe_client.StripeInProgress):
        logger.warning("Stripe unreachable: hold %s stays pending (retried by the sweep and at settlement)",
                       payment.pk)
        payment.refresh_from_db()
        return payment


def hold_release(*, payment_id: int, reason: str) -> Payment:
    """Release a hold no session will use (a guest's charger refused or never started): nothing is due, so
    `payment_advance` cancels it at Stripe (a pending one is created and cancelled, never left to authorize
    later). Idempotent; a hold a session has claimed or whose target is set is left to settlement."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in Payment.OPEN_STATUSES or payment.session_id or payment.amount_due is not None:
            return payment
        payment.amount_due = ZERO
        payment.save(update_fields=["amount_due", "updated_at"])
        payment_event_record(payment, to_status=payment.status, note=f"released: {reason}"[:255])
    try:
        return payment_advance(payment_id=payment.pk)
    except (stripe_client.StripeUnavailable, stripe_client.StripeInProgress):
        logger.warning("Stripe unreachable: hold %s is released by the payments sweep", payment.pk)
        return Payment.objects.get(pk=payment.pk)


# --- Driving a payment to its target ---------------------------------------------------------------

def _create_intent(payment: Payment) -> Payment:
    """Create the payment's PaymentIntent (its own idempotency key) and record Stripe's answer once, under a
    row lock: a concurrent caller that recorded the same PaymentIntent first wins, this one changes nothing.
    A 409 (the same key still in flight elsewhere) raises `StripeInProgress` with nothing recorded."""
    manual = payment.kind == Payment.Kind.SESSION_HOLD
    try:
        intent = stripe_client.payment_intent_create(
            amount=payment.amount_requested, currency=payment.currency, customer_id=payment.stripe_customer_id,
            payment_method_id=payment.stripe_payment_method_id, manual_capture=manual,
            metadata={"evbilling_payment": str(payment.pk), "evbilling_kind": payment.kind},
            idempotency_key=payment.idempotency_key,
        )
    except (stripe_client.PaymentDeclined, stripe_client.StripeRejected) as error:
        intent, refusal = None, error
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != Payment.Status.PENDING:
            return payment
        if intent is None:
            return payment_transition(payment=payment, to_status=Payment.Status.FAILED, note=f"declined: {refusal}",
                                      failure_code=refusal.code or "declined", failure_message=str(refusal)[:255])
        return _intent_record(payment, intent)


def _intent_record(payment: Payment, intent: dict) -> Payment:
    fields = {"stripe_payment_intent_id": intent["id"]}
    status = intent.get("status")
    if status == "requires_capture":
        return payment_transition(payment=payment, to_status=Payment.Status.AUTHORIZED, note="held at Stripe",
                                  amount_authorized=payment.amount_requested, authorized_at=timezone.now(), **fields)
    if status == "succeeded":
        return payment_transition(payment=payment, to_status=Payment.Status.CAPTURED, note="charged off-session",
                                  amount_authorized=payment.amount_requested, amount_captured=payment.amount_requested,
                                  authorized_at=timezone.now(), settled_at=timezone.now(), **fields)
    return payment_transition(payment=payment, to_status=Payment.Status.FAILED, note=f"PaymentIntent is {status}",
                              failure_code=status or "unknown", failure_message=messages.ended_as(status),
                              **fields)


def _capture_or_cancel(payment: Payment) -> Payment:
    due = min(payment.amount_due, payment.amount_authorized)
    if due == ZERO:
        try:
            stripe_client.payment_intent_cancel(payment_intent_id=payment.stripe_payment_intent_id,
                                                idempotency_key=f"{payment.idempotency_key}-cancel")
        except stripe_client.StripeRejected:
            return payment_sync(payment_id=payment.pk)
        return payment_transition(payment=payment, to_status=Payment.Status.CANCELED, note="zero cost: hold released",
                                  settled_at=timezone.now())
    try:
        stripe_client.payment_intent_capture(
            payment_intent_id=payment.stripe_payment_intent_id, amount=due, currency=payment.currency,
            idempotency_key=f"{payment.idempotency_key}-capture",
        )
    except (stripe_client.StripeRejected, stripe_client.PaymentDeclined):
        return payment_sync(payment_id=payment.pk)
    return payment_transition(payment=payment, to_status=Payment.Status.CAPTURED,
                              note=f"captured {due} {payment.currency}",
                              amount_captured=due, settled_at=timezone.now())


def payment_advance(*, payment_id: int) -> Payment:
    """Do the Stripe work a payment still needs: create its PaymentIntent, then capture or release it
    once `amount_due` is known. Status-guarded, so running it twice does nothing twice; raises
    `StripeUnavailable` or `StripeInProgress` (for a Celery retry) with the payment left as it was. A
    permanent refusal nothing else handles (a capture refused, and the look-up after it too) fails the
    payment with Stripe's words instead of escaping: retries and sweeps stop asking and go on."""
    payment = Payment.objects.get(pk=payment_id)
    try:
        if payment.status == Payment.Status.PENDING:
            if not payment.stripe_customer_id or not payment.stripe_payment_method_id:
                return payment_transition(payment=payment, to_status=Payment.Status.FAILED,
                                          note="no payment method", failure_code="no_payment_method",
                                          failure_message=messages.NO_CARD)
            payment = _create_intent(payment)
        if payment.status == Payment.Status.AUTHORIZED and payment.amount_due is not None:
            payment = _capture_or_cancel(payment)
    except (stripe_client.StripeUnavailable, stripe_client.StripeInProgress):
        raise
    except stripe_client.StripeError as error:
        return payment_refused(payment_id=payment_id, error=error)
    return payment


def payment_refused(*, payment_id: int, error: stripe_client.StripeError) -> Payment:
    """Record a permanent Stripe refusal on an open payment: failed, with Stripe's code and words (shown in
    the admin). A payment that is no longer open is left as it is."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in Payment.OPEN_STATUSES:
            return payment
        return payment_transition(payment=payment, to_status=Payment.Status.FAILED,
                                  note=f"refused by Stripe: {error}", failure_code=(error.code or "refused")[:64],
                                  failure_message=str(error)[:255])


def payment_sync(*, payment_id: int) -> Payment:
    """Bring a payment in line with its PaymentIntent at Stripe (after a refused capture or cancel: the
    hold expired, or an earlier call succeeded but its answer was lost)."""
    payment = Payment.objects.get(pk=payment_id)
    intent = stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)
    status = intent.get("status")
    if status == "succeeded" and payment.status != Payment.Status.CAPTURED:
        received = intent.get("amount_received")
        captured = (from_minor_units(received, payment.currency) if received is not None
                    else payment.amount_due if payment.amount_due is not None else payment.amount_authorized)
        return payment_transition(payment=payment, to_status=Payment.Status.CAPTURED, note="captured (found at Stripe)",
                                  amount_captured=min(captured, payment.amount_authorized), settled_at=timezone.now())
    if status == "canceled" and payment.status in Payment.OPEN_STATUSES:
        payment = payment_transition(payment=payment, to_status=Payment.Status.CANCELED,
                                     note="canceled at Stripe (hold expired?)",
                                     settled_at=timezone.now())
        if payment.session_id and payment.amount_due:
            replacement = _extra_payment(payment=payment, amount=payment.amount_due, purpose="replacement")
            payment_advance(payment_id=replacement.pk)
        return payment
    return payment


# --- Settlement ------------------------------------------------------------------------------------

def _claim_hold(session: ChargingSession) -> Payment | None:
    """The session's hold: the one it claimed at its start, else the token's oldest free hold (the claim at
    start failed); never a second charge for a session the receipt sweep already charged off-session."""
    held = Payment.objects.filter(session=session, kind=Payment.Kind.SESSION_HOLD).exclude(
        status__in=[Payment.Status.FAILED]).order_by("-created_at").first()
    if held is not None or session.id_token_id is None:
        return held
    if Payment.objects.filter(session=session, kind=Payment.Kind.INVOICE).exists():
        return None
    with transaction.atomic():
        hold = (Payment.objects.select_for_update()
                .filter(id_token_id=session.id_token_id, kind=Payment.Kind.SESSION_HOLD, session__isnull=True,
                        status__in=Payment.OPEN_STATUSES, created_at__lte=session.created_at + timedelta(minutes=5))
                .order_by("created_at", "pk").first())
        if hold is None:
            return None
        hold.session = session
        hold.save(update_fields=["session", "updated_at"])
        payment_event_record(hold, to_status=hold.status, note=f"claimed by session {session.pk}")
    return hold


def _extra_payment(*, payment: Payment, amount: Decimal, purpose: str = "extra") -> Payment:
    """An off-session charge of `amount` for the payment's session (cost above the hold, or an expired
    hold); one per session (its idempotency key and a unique constraint)."""
    key = f"evb-session-{payment.session_id}-{purpose}"
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            extra = Payment.objects.create(
                operator_id=payment.operator_id, driver_id=payment.driver_id, id_token_id=payment.id_token_id,
                session_id=payment.session_id, kind=Payment.Kind.SESSION_EXTRA, currency=payment.currency,
                amount_requested=amount, amount_due=amount, idempotency_key=key,
                stripe_customer_id=payment.stripe_customer_id,
                stripe_payment_method_id=payment.stripe_payment_method_id,
            )
            payment_event_record(extra, from_status="", to_status=extra.status,
                                 note=f"{amount} {extra.currency} above the hold")
    except IntegrityError:
        return Payment.objects.get(idempotency_key=key)
    return extra


def session_payment_review(*, session_id: int) -> bool:
    """Whether the priced session waits for review: nothing is captured, charged or invoiced meanwhile.

    Held when settlement found its readings implausible, or when what would be charged off-session (the
    cost above the hold; all of it for a pay-as-you-go session without one) is above the operator's
    `max_off_session_charge`: that review is opened here, once. A resolved review lets the session
    through, whatever it costs: someone looked at it. Claims the session's hold (no Stripe call)."""
    charge = SessionCharge.objects.filter(session_id=session_id).select_related("session__operator").first()
    if charge is None:
        return False
    review = ChargeReview.objects.filter(charge=charge).first()
    if review is not None:
        return review.status == ChargeReview.Status.HELD
    if Invoice.objects.filter(session_id=session_id).exists():
        return False  # decided before its receipt was issued (`receipt_settle` and the receipts sweep ask first)
    hold = _claim_hold(charge.session)
    if hold is None and (charge.session.company_id is not None or not BillingAccount.objects.filter(
            driver_id=charge.session.driver_id, payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO).exists()):
        return False  # billed on a statement (a company's business session, a postpaid driver): nothing off-session
    off_session = charge.total_incl_vat - (hold.amount_requested if hold else ZERO)
    cap = charge.session.operator.max_off_session_charge
    if off_session <= cap:
        return False
    detail = (f"{off_session} {charge.currency} would be charged off-session, above the operator's maximum of "
              f"{cap} without a review")
    with transaction.atomic():
        ChargeReview.objects.get_or_create(charge=charge, defaults={
            "reasons": [{"code": "off_session_above_cap", "detail": detail}],
            "measured_energy_kwh": charge.total_energy_kwh, "priced_total_incl_vat": charge.total_incl_vat})
    logger.warning("session %s held for review: %s", session_id, detail)
    return True


def session_payment_settle(*, session_id: int) -> list[Payment]:
    """Charge a priced pay-as-you-go session: capture its price incl. VAT from the hold (partial capture),
    release a zero-cost hold, charge a cost above the hold off-session.

    Idempotent: the target is recorded once (`amount_due`), the extra payment is unique per session,
    and `payment_advance` is status-guarded. Sessions without a hold (postpaid, subscription, not priced
    yet) and sessions held for review (`session_payment_review`) return []. Raises `StripeUnavailable` for a
    retry; what was recorded stays and settles later.
    """
    if session_payment_review(session_id=session_id):
        return []
    charge = SessionCharge.objects.filter(session_id=session_id).select_related("session").first()
    if charge is None:
        return []
    hold = _claim_hold(charge.session)
    if hold is None:
        return []
    total = quantize_money(charge.total_incl_vat, hold.currency)
    if charge.currency != hold.currency:
        logger.error("session %s priced in %s but held in %s: not captured", session_id, charge.currency,
                     hold.currency)
        return [hold]
    with transaction.atomic():
        hold = Payment.objects.select_for_update().get(pk=hold.pk)
        if hold.amount_due is None:
            hold.amount_due = min(total, hold.amount_requested)
            hold.save(update_fields=["amount_due", "updated_at"])
            payment_event_record(hold, to_status=hold.status, note=f"session priced at {total} {hold.currency}")
    payments = [hold]
    if total > hold.amount_requested:
        payments.append(_extra_payment(payment=hold, amount=total - hold.amount_requested))
    return [payment_advance(payment_id=p.pk) for p in payments]


# --- Refunds ---------------------------------------------------------------------------------------

def payment_refund(*, payment: Payment, amount: Decimal, reason: str, idempotency_key: str) -> Refund:
    """Refund part or all of a captured payment; used by disputes and credit notes.

    Never above captured minus already refunded: the payment row is locked while the amount is reserved
    (pending refunds count), and a check constraint backs it. The same `idempotency_key` (derived from
    the caller's ids, e.g. "credit-note-12") returns the same refund instead of making a second one.
    Stripe being down leaves the refund pending (reserved) for `refund_retry`; a refusal releases it.
    """
    existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.payment_id != payment.pk:
            raise RefundError(gettext("Idempotency key %(key)s belongs to a refund of another payment.") % {
                "key": repr(idempotency_key)})
        return existing
    amount = quantize_money(amount, payment.currency)
    if amount <= ZERO:
        raise RefundError(gettext("A refund must be above zero."))
    try:
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            if locked.status != Payment.Status.CAPTURED:
                raise RefundError(gettext("Payment %(number)s is %(status)s: nothing captured to refund.") % {
                    "number": payment.pk, "status": locked.get_status_display()})
            if not locked.stripe_payment_intent_id:
                raise RefundError(gettext(NOT_AT_STRIPE) % {"payment": payment.pk})
            if amount > locked.refundable:
                raise RefundError(gettext("At most %(amount)s %(currency)s can be refunded.") % {
                    "amount": locked.refundable, "currency": locked.currency})
            refund = Refund.objects.create(payment=locked, amount=amount, reason=reason[:255],
                                           idempotency_key=idempotency_key)
            Payment.objects.filter(pk=locked.pk).update(amount_refunded=F("amount_refunded") + amount)
            payment_event_record(locked, to_status=locked.status,
                                 note=f"refund of {amount} {locked.currency}: {reason}")
    except IntegrityError:
        existing = Refund.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise RefundError(gettext("The refund would exceed what was captured.")) from None
        return existing
    return refund_send(refund_id=refund.pk)


def refund_send(*, refund_id: int) -> Refund:
    """Send a pending refund to Stripe (again, with the same key). Raises `StripeUnavailable`."""
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    payment = refund.payment
    try:
        sent = stripe_client.refund_create(
            payment_intent_id=payment.stripe_payment_intent_id, amount=refund.amount, currency=payment.currency,
            metadata={"evbilling_refund": str(refund.pk), "evbilling_payment": str(payment.pk)},
            idempotency_key=f"evb-refund-{refund.idempotency_key}",
        )
    except (stripe_client.StripeRejected, stripe_client.PaymentDeclined) as error:
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, failure_message=str(error)[:255])
            Payment.objects.filter(pk=payment.pk).update(amount_refunded=F("amount_refunded") - refund.amount)
            payment_event_record(payment, to_status=payment.status, note=f"refund {refund.pk} refused: {error}")
        refund.refresh_from_db()
        return refund
    with transaction.atomic():
        succeeded = Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED, stripe_refund_id=sent["id"])
        refund.refresh_from_db()
        if succeeded:
            refund_succeeded.send(sender=Refund, refund=refund)
    return refund


# --- Sweeps (beat) ---------------------------------------------------------------------------------

def _sweep(ids, send: Callable[[int], object], refused: Callable[[int, Exception], object]) -> tuple[int, bool]:
    """Send each item once: Stripe unreachable stops (every item would wait the same: returns False), an
    item still in flight elsewhere (409) is skipped, a permanent refusal goes to `refused` and the sweep
    goes on. Returns (how many were tried, whether Stripe answered)."""
    tried = 0
    for item_id in list(ids):
        tried += 1
        try:
            send(item_id)
        except stripe_client.StripeUnavailable:
            logger.warning("Stripe unreachable; payments wait for the next sweep")
            return tried, False
        except stripe_client.StripeInProgress:
            continue
        except stripe_client.StripeError as error:
            refused(item_id, error)
    return tried, True


def payments_settle_pending() -> int:
    """Finish what a lost task or an unreachable Stripe left: pending payments, recorded targets not yet
    captured, priced sessions whose hold was not claimed, pending refunds. Returns how many were tried.

    Stripe unreachable stops the sweep; an item still in flight elsewhere (409) is skipped; a permanent
    refusal fails that one item (`payment_refused`, or a log line for a session) and the sweep goes on."""
    stuck = Payment.objects.filter(status=Payment.Status.PENDING) | Payment.objects.filter(
        status=Payment.Status.AUTHORIZED, amount_due__isnull=False)
    tried, answered = _sweep(stuck.values_list("pk", flat=True),
                             lambda pk: payment_advance(payment_id=pk),
                             lambda pk, error: payment_refused(payment_id=pk, error=error))
    if not answered:
        return tried
    unsettled = (SessionCharge.objects.filter(
        session__id_token__payments__kind=Payment.Kind.SESSION_HOLD,
        session__id_token__payments__session__isnull=True,
        session__id_token__payments__status__in=Payment.OPEN_STATUSES,
    ).filter(session__payments__isnull=True).values_list("session_id", flat=True).distinct())
    # A worker lost between claiming the hold and recording its target leaves a claimed hold without amount_due.
    claimed_not_targeted = Payment.objects.filter(
        kind=Payment.Kind.SESSION_HOLD, status=Payment.Status.AUTHORIZED, amount_due__isnull=True,
        session__charge__isnull=False).exclude(session__charge__review__status=ChargeReview.Status.HELD).values_list(
        "session_id", flat=True)
    settled, answered = _sweep([*unsettled, *claimed_not_targeted],
                               lambda pk: session_payment_settle(session_id=pk),
                               lambda pk, error: logger.error("session %s: payment refused by Stripe: %s", pk, error))
    tried += settled
    if not answered:
        return tried
    sent, _ = _sweep(Refund.objects.filter(status=Refund.Status.PENDING).values_list("pk", flat=True),
                     lambda pk: refund_send(refund_id=pk),
                     lambda pk, error: logger.error("refund %s refused by Stripe: %s", pk, error))
    return tried + sent


def payment_holds_maintain(*, now: datetime | None = None) -> int:
    """Release holds no session claimed within PAYMENT_UNUSED_HOLD_MINUTES (and holds of sessions that
    failed unpriced), and renew holds about to expire (older than PAYMENT_HOLD_RENEW_AFTER_DAYS) whose
    session is not priced yet: a new hold is placed before the old one is released. Returns how many holds
    were touched."""
    now = now or timezone.now()
    touched = 0
    unused = Payment.objects.filter(
        Q(session__isnull=True) | Q(session__state=ChargingSession.State.FAILED, session__charge__isnull=True),
        kind=Payment.Kind.SESSION_HOLD, status=Payment.Status.AUTHORIZED,
        authorized_at__lt=now - timedelta(minutes=settings.PAYMENT_UNUSED_HOLD_MINUTES),
    )
    for hold in unused:
        if hold.session_id is None and _token_session_awaits_hold(hold.id_token_id):
            continue
        hold.amount_due = ZERO
        hold.save(update_fields=["amount_due", "updated_at"])
        payment_advance(payment_id=hold.pk)
        touched += 1
    ageing = Payment.objects.filter(
        kind=Payment.Kind.SESSION_HOLD, status=Payment.Status.AUTHORIZED, session__isnull=False,
        amount_due__isnull=True, authorized_at__lt=now - timedelta(days=settings.PAYMENT_HOLD_RENEW_AFTER_DAYS),
    )
    for hold in ageing:  # a session held for review keeps its hold alive until someone resolves it
        if SessionCharge.objects.filter(session_id=hold.session_id).exclude(
                review__status=ChargeReview.Status.HELD).exists():
            session_payment_settle(session_id=hold.session_id)
        else:
            hold_renew(payment_id=hold.pk)
        touched += 1
    return touched


def _token_session_awaits_hold(id_token_id: int) -> bool:
    """The token has a running session without a hold of its own (its claim at start failed, or it started
    before sessions claimed holds at start): settlement will claim the token's free hold for it."""
    own_hold = Payment.objects.filter(session=OuterRef("pk"), kind=Payment.Kind.SESSION_HOLD,
                                      status__in=Payment.OPEN_STATUSES)
    return ChargingSession.objects.filter(id_token_id=id_token_id, state=ChargingSession.State.ACTIVE).exclude(
        Exists(own_hold)).exists()


def hold_renew(*, payment_id: int) -> Payment:
    """Replace an ageing hold with a fresh one for the same session, then release the old one."""
    old = Payment.objects.get(pk=payment_id)
    renewed = Payment.objects.create(
        operator_id=old.operator_id, driver_id=old.driver_id, id_token_id=old.id_token_id,
        kind=Payment.Kind.SESSION_HOLD, currency=old.currency, amount_requested=old.amount_requested,
        idempotency_key=f"{old.idempotency_key}-renewal-{old.renewals + 1}",
        stripe_customer_id=old.stripe_customer_id, stripe_payment_method_id=old.stripe_payment_method_id,
        renewals=old.renewals + 1,
    )
    payment_event_record(renewed, from_status="", to_status=renewed.status, note=f"renews payment {old.pk}")
    renewed = payment_advance(payment_id=renewed.pk)
    if renewed.status != Payment.Status.AUTHORIZED:
        return old
    session_id = old.session_id
    with transaction.atomic():
        Payment.objects.filter(pk=old.pk).update(amount_due=ZERO)
    payment_advance(payment_id=old.pk)
    Payment.objects.filter(pk=renewed.pk).update(session_id=session_id)
    renewed.refresh_from_db()
    return renewed
