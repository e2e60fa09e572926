"""Collecting pay-as-you-go receipts no card payment covers: the sweep, its dunning, the overdue mark.

A receipt is normally paid from its session's hold and the off-session charge above it
(`reconciliation.session_payment_collect`). When that left it unpaid (a session that ran without a hold, a
hold or an extra charge declined, a hold that expired), `receipts_collect_unpaid` (beat) charges what is
owed to the driver's default card off-session, once the receipt is PAYMENTS_COLLECT_AFTER_MINUTES old and
nothing is still under way for its session.

- Once, under concurrency and reruns: one `ReceiptCollection` per receipt (unique), locked while an attempt
  is decided and its Payment (kind `invoice`, with the session and the receipt, idempotency key
  `evb-receipt-<invoice>-<attempt>`) written and committed; only the run that wrote an attempt sends it to
  Stripe. A run that finds an attempt under way leaves it (Stripe being down: `payments_settle_pending`
  finishes it) and records its outcome when it has one.
- Dunning like plans: a failed attempt is retried PAYMENTS_DUNNING_RETRY_DAYS after the first failure, each
  failure emailed to the driver; after the last the receipt is overdue (admin list and filter, the driver's
  portal, a last email) and is no longer charged automatically.
- One receipt's refusal never stops the sweep; Stripe being unreachable does (the next run goes on).
- Pay now (`receipt_pay_now`, the driver's portal): the same attempt under the same lock, with the card the
  driver chooses; keyed by the attempt number the page offered, so a repeated request answers with that
  attempt's outcome and never charges twice. Paid: collected, dunning stops. Declined: dunning stays where it
  was (no e-mail; the driver reads the reason on the page).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from billing_app.invoicing.credit_notes import invoice_remaining
from billing_app.invoicing.documents import invoice_mark_paid
from billing_app.invoicing.reconciliation import session_card_payments
from billing_app.models import Invoice, Payment, PaymentCustomer, ReceiptCollection, Refund
from billing_app.money import format_money
from billing_app.payments.messages import failure_text
from billing_app.payments.methods import payment_methods_list
from billing_app.payments.services import payment_advance
from billing_app.payments.stripe_client import StripeInProgress, StripeUnavailable
from billing_app.payments.transitions import payment_event_record
from evbilling.errors import ApplicationError, ConflictError, NotFoundError
from evbilling.mail import send_in_languages
from evbilling.on_commit import after_commit
from sessions_app.local_time import format_local_date
from sessions_app.models import User
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

STATUS = ReceiptCollection.Status


def receipt_owed(invoice: Invoice) -> Decimal:
    """What the driver still owes on a receipt: what credit notes left of it, less what the session's card
    payments took and kept. Refunds we made went with credit notes (already off the receipt), so they
    count back; a refund made at Stripe outside evbilling is not charged again."""
    kept = Decimal(0)
    for payment in session_card_payments(invoice.session_id).filter(status=Payment.Status.CAPTURED):
        refunded = payment.refunds.exclude(status=Refund.Status.FAILED).aggregate(s=Sum("amount"))["s"]
        kept += payment.amount_captured - (refunded or Decimal(0))
    return max(invoice_remaining(invoice) - kept, Decimal(0))


def receipts_to_collect(*, now: datetime):
    """Issued receipts old enough for the sweep, not overdue or collected, not waiting for a retry date.
    (A session held for review gets no receipt until it is resolved, and keeps its hold meanwhile.)"""
    return (Invoice.objects.filter(
        kind=Invoice.Kind.RECEIPT, state=Invoice.State.ISSUED,
        issued_at__lte=now - timedelta(minutes=settings.PAYMENTS_COLLECT_AFTER_MINUTES))
        .exclude(collection__status__in=[STATUS.OVERDUE, STATUS.COLLECTED])
        .exclude(Q(collection__status=STATUS.RETRYING) & Q(collection__next_attempt_at__gt=now))
        .order_by("issued_at", "pk"))


def receipts_collect_unpaid(*, now: datetime | None = None) -> int:
    """The beat task's work: try every receipt `receipts_to_collect` finds. Returns how many were tried."""
    now = now or timezone.now()
    tried = 0
    for invoice_id in receipts_to_collect(now=now).values_list("pk", flat=True):
        tried += 1
        try:
            receipt_collect(invoice_id=invoice_id, now=now)
        except StripeUnavailable:
            logger.warning("Stripe unreachable: receipt collection waits for the next run")
            break
        except ConflictError:  # Stripe still busy with this attempt's key: under way, looked at next run
            logger.info("receipt %s: collection under way", invoice_id)
        except ApplicationError:
            logger.exception("receipt %s: collection refused; the sweep goes on", invoice_id)
    return tried


def _in_flight(invoice: Invoice) -> bool:
    """A payment of the session the settlement or the payments sweep is still driving, or a hold kept for a
    review (held, pending): nothing is charged beside it."""
    return session_card_payments(invoice.session_id).filter(status__in=Payment.OPEN_STATUSES).exclude(
        kind=Payment.Kind.INVOICE).exists()


def receipt_collect(*, invoice_id: int, now: datetime | None = None) -> ReceiptCollection | None:
    """Charge what a receipt is owed, or record how the attempt under way ended. None when the receipt
    needs no collection (paid, void, covered, or its session's payments still under way).

    Raises `StripeUnavailable` with the attempt left pending (the payments sweep sends it again, same key)."""
    now = now or timezone.now()
    invoice = Invoice.objects.get(pk=invoice_id)
    if invoice.kind != Invoice.Kind.RECEIPT or invoice.state != Invoice.State.ISSUED or _in_flight(invoice):
        return None
    if not hasattr(invoice, "collection") and receipt_owed(invoice) <= 0:
        _paid_if_covered(invoice, now=now)
        return None
    payment = _attempt(invoice, now=now)
    if payment is None:
        return ReceiptCollection.objects.filter(invoice=invoice).first()
    payment = payment_advance(payment_id=payment.pk)
    return _record_outcome(invoice.pk, payment, now=now)


def _attempt(invoice: Invoice, *, now: datetime) -> Payment | None:
    """Under a lock on the receipt's collection: the new attempt's Payment (committed on return), or None
    when there is nothing to send (an attempt under way, an outcome recorded now, a retry not due)."""
    with transaction.atomic():
        ReceiptCollection.objects.get_or_create(invoice=invoice)
        collection = ReceiptCollection.objects.select_for_update().get(invoice=invoice)
        if collection.status in (STATUS.OVERDUE, STATUS.COLLECTED):
            return None
        last = Payment.objects.get(pk=collection.payment_id) if collection.payment_id else None  # read after the lock
        if last is not None and last.status in Payment.OPEN_STATUSES:
            return None  # under way here or in another run; Stripe down: the payments sweep finishes it
        if last is not None and collection.status == STATUS.COLLECTING:
            _record_outcome(invoice.pk, last, now=now)  # its outcome was never recorded (a lost run)
            return None
        if collection.status == STATUS.RETRYING and collection.next_attempt_at > now:
            return None
        owed = receipt_owed(Invoice.objects.get(pk=invoice.pk))
        if owed <= 0:
            _record_collected(collection, now=now)
            return None
        return _attempt_create(collection, invoice, owed)


def _attempt_create(collection: ReceiptCollection, invoice: Invoice, owed: Decimal, *, by_driver: bool = False,
                    payment_method_id: str = "") -> Payment:
    """In the caller's transaction, the collection row locked: the next attempt's Payment (key
    `evb-receipt-<invoice>-<attempt>`), on the driver's default card unless the driver chose one (Pay now)."""
    attempt = collection.attempts + 1
    customer = PaymentCustomer.objects.filter(driver_id=invoice.driver_id).first()
    payment = Payment.objects.create(
        operator_id=invoice.operator_id, driver_id=invoice.driver_id, id_token_id=invoice.session.id_token_id,
        session_id=invoice.session_id, invoice_id=invoice.pk, kind=Payment.Kind.INVOICE,
        currency=invoice.currency, amount_requested=owed, amount_due=owed,
        idempotency_key=f"evb-receipt-{invoice.pk}-{attempt}",
        stripe_customer_id=customer.stripe_customer_id if customer else "",
        stripe_payment_method_id=(payment_method_id or (customer.default_payment_method_id if customer else "")),
    )
    payment_event_record(payment, from_status="", to_status=payment.status,
                         note=f"receipt {invoice.number}: {owed} {invoice.currency} owed, attempt {attempt}"
                              + (" (Pay now by the driver)" if by_driver else ""))
    collection.attempts, collection.payment, collection.status = attempt, payment, STATUS.COLLECTING
    collection.by_driver = by_driver
    collection.driver_attempts += int(by_driver)
    collection.save(update_fields=["attempts", "payment", "status", "by_driver", "driver_attempts", "updated_at"])
    return payment


class ReceiptPaymentError(ApplicationError):
    """Pay now refused: nothing to pay on the receipt, or a request that does not fit it."""


class ReceiptPaymentInProgress(ReceiptPaymentError, ConflictError):
    """A payment of the receipt (or of its session) is under way: nothing new is sent."""


class ReceiptPaymentDeclined(ReceiptPaymentError):
    """The card was declined; the message says why, in the reader's language."""


def receipt_pay_attempt(invoice: Invoice) -> int:
    """The number the next attempt on a receipt gets: what the Pay now page offers (and sends back)."""
    return 1 + (ReceiptCollection.objects.filter(invoice=invoice).values_list("attempts", flat=True).first() or 0)


def receipt_pay_now(*, driver: User, invoice_id: int, attempt: int, payment_method_id: str,
                    now: datetime | None = None) -> Invoice:
    """The driver pays one of their unpaid receipts from the portal with one of their saved cards; returns the
    receipt, paid. The collection's own attempt (`_attempt_create`, same lock, same idempotency key
    `evb-receipt-<invoice>-<attempt>`), so dunning stops with it and nothing is charged beside a payment under
    way.

    Once per request however often it is sent: `attempt` is the number the page offered
    (`receipt_pay_attempt`). When the collection has made that attempt already (a double click, a re-sent
    form), the answer is its outcome and nothing new is sent to Stripe.

    Raises NotFoundError (not the driver's receipt, or not their card), ReceiptPaymentInProgress,
    ReceiptPaymentDeclined (the reason in the reader's language) or ReceiptPaymentError (nothing to pay)."""
    now = now or timezone.now()
    invoice = Invoice.objects.filter(pk=invoice_id, driver=driver, kind=Invoice.Kind.RECEIPT).exclude(
        state=Invoice.State.DRAFT).first()
    if invoice is None:
        raise NotFoundError(gettext("No such receipt."))
    if invoice.state == Invoice.State.ISSUED and not _attempt_made(invoice, attempt):
        if _in_flight(invoice):
            raise ReceiptPaymentInProgress(gettext("A payment for this session is under way; this page shows the "
                                                   "result in a moment."))
        if payment_method_id not in {method.id for method in payment_methods_list(driver=driver)}:
            raise NotFoundError(gettext("No such payment method."))
        payment = _driver_attempt(invoice, attempt=attempt, payment_method_id=payment_method_id, now=now)
        if payment is not None:
            try:
                payment = payment_advance(payment_id=payment.pk)
            except (StripeUnavailable, StripeInProgress):
                pass  # left pending: the payments sweep sends it (same key), the receipt sweep records it
            else:
                _record_outcome(invoice.pk, payment, now=now)
    return _pay_now_outcome(Invoice.objects.get(pk=invoice.pk), attempt)


def _attempt_made(invoice: Invoice, attempt: int) -> bool:
    return Payment.objects.filter(idempotency_key=f"evb-receipt-{invoice.pk}-{attempt}").exists()


def _driver_attempt(invoice: Invoice, *, attempt: int, payment_method_id: str, now: datetime) -> Payment | None:
    """Under the lock on the receipt's collection: the driver's attempt (committed on return), or None when
    the receipt turned out paid or this request's attempt was made meanwhile (a concurrent repeat)."""
    with transaction.atomic():
        ReceiptCollection.objects.get_or_create(invoice=invoice)
        collection = ReceiptCollection.objects.select_for_update().get(invoice=invoice)
        if collection.attempts >= attempt:
            return None
        if collection.attempts + 1 != attempt:
            raise ReceiptPaymentError(gettext("This page is out of date: please open the receipt again."))
        last = Payment.objects.get(pk=collection.payment_id) if collection.payment_id else None
        if last is not None and last.status in Payment.OPEN_STATUSES:
            raise ReceiptPaymentInProgress(gettext("A payment of this receipt is under way; this page shows the "
                                                   "result in a moment."))
        if last is not None and collection.status == STATUS.COLLECTING:
            collection = _record_outcome(invoice.pk, last, now=now)  # an outcome never recorded (a lost run)
        if collection.status == STATUS.COLLECTED:
            return None
        owed = receipt_owed(Invoice.objects.get(pk=invoice.pk))
        if owed <= 0:
            _record_collected(collection, now=now)
            return None
        return _attempt_create(collection, invoice, owed, by_driver=True, payment_method_id=payment_method_id)


def _pay_now_outcome(invoice: Invoice, attempt: int) -> Invoice:
    """What Pay now tells the driver: the receipt paid, or why not (the attempt's own outcome first)."""
    payment = Payment.objects.filter(idempotency_key=f"evb-receipt-{invoice.pk}-{attempt}").first()
    if invoice.state == Invoice.State.PAID or (payment is not None and payment.status == Payment.Status.CAPTURED):
        return invoice  # (captured: the request that made the attempt is marking the receipt paid)
    if payment is not None and payment.status in Payment.OPEN_STATUSES:
        raise ReceiptPaymentInProgress(gettext("Your payment is under way; this page shows the result in a "
                                               "moment."))
    if payment is not None and payment.status in (Payment.Status.FAILED, Payment.Status.CANCELED):
        raise ReceiptPaymentDeclined(gettext("The payment was declined and nothing was charged. %(reason)s") % {
            "reason": failure_text(payment.failure_message) or gettext("Please try another card.")})
    if invoice.state == Invoice.State.VOID:
        raise ReceiptPaymentError(gettext("Receipt %(number)s is void: there is nothing to pay.")
                                  % {"number": invoice.number})
    raise ReceiptPaymentError(gettext("Nothing is owed on receipt %(number)s.") % {"number": invoice.number})


def _record_outcome(invoice_id: int, payment: Payment, *, now: datetime) -> ReceiptCollection:
    with transaction.atomic():
        collection = ReceiptCollection.objects.select_for_update().get(invoice_id=invoice_id)
        if collection.payment_id != payment.pk or collection.status != STATUS.COLLECTING:
            return collection  # recorded already (a concurrent run)
        if payment.status == Payment.Status.CAPTURED:
            return _record_collected(collection, now=now)
        if payment.status in (Payment.Status.FAILED, Payment.Status.CANCELED):
            return _record_failed(collection, payment, now=now)
    return collection


def _record_collected(collection: ReceiptCollection, *, now: datetime) -> ReceiptCollection:
    """In the caller's transaction (the collection row is locked): collected, and the receipt paid."""
    collection.status, collection.collected_at, collection.next_attempt_at = STATUS.COLLECTED, now, None
    collection.failure_message = ""
    collection.save(update_fields=["status", "collected_at", "next_attempt_at", "failure_message", "updated_at"])
    _paid_if_covered(Invoice.objects.get(pk=collection.invoice_id), now=now)
    return collection


def _paid_if_covered(invoice: Invoice, *, now: datetime) -> None:
    """Mark the receipt paid when its card payments cover all that credit notes left of it."""
    captured = list(session_card_payments(invoice.session_id).filter(status=Payment.Status.CAPTURED))
    if captured and receipt_owed(invoice) <= 0:
        reference = ", ".join(p.stripe_payment_intent_id for p in captured if p.stripe_payment_intent_id)
        invoice_mark_paid(invoice_id=invoice.pk, paid_at=now, reference=reference[:100])


def _record_failed(collection: ReceiptCollection, payment: Payment, *, now: datetime) -> ReceiptCollection:
    """In the caller's transaction: schedule the next retry (days after the first failure), or mark the
    receipt overdue after the last; the driver is emailed either way. The driver's own failed Pay now moves
    nothing: the receipt is back where it was (overdue since the same day, or retrying on the same date; a
    receipt the sweep had not tried yet is tried at its next run) and no e-mail goes out."""
    collection.failure_message = (payment.failure_message or payment.failure_code or payment.status)[:255]
    if collection.by_driver:
        collection.status = STATUS.OVERDUE if collection.overdue_at else STATUS.RETRYING
        if collection.status == STATUS.RETRYING and collection.next_attempt_at is None:
            collection.next_attempt_at = now
        collection.save(update_fields=["status", "failure_message", "next_attempt_at", "updated_at"])
        return collection
    schedule = [int(days) for days in settings.PAYMENTS_DUNNING_RETRY_DAYS]
    collection.first_failed_at = collection.first_failed_at or now
    retries_done = collection.attempts - collection.driver_attempts - 1
    if retries_done < len(schedule):
        collection.status = STATUS.RETRYING
        collection.next_attempt_at = collection.first_failed_at + timedelta(days=schedule[retries_done])
    else:
        collection.status, collection.next_attempt_at, collection.overdue_at = STATUS.OVERDUE, None, now
    collection.save(update_fields=["status", "first_failed_at", "failure_message", "next_attempt_at", "overdue_at",
                                   "updated_at"])
    after_commit(_dunning_email, collection.pk)
    return collection


def _dunning_email(collection_id: int) -> None:
    collection = ReceiptCollection.objects.select_related("invoice__driver", "payment").get(pk=collection_id)
    invoice, driver = collection.invoice, collection.invoice.driver
    if not driver.email:
        return

    def render() -> tuple[str, str]:
        words = {"amount": format_money(collection.payment.amount_requested, invoice.currency),
                 "number": invoice.number, "reason": failure_text(collection.failure_message)}
        if collection.status == STATUS.OVERDUE:
            return (gettext("Your charging receipt %(number)s is overdue") % words,
                    gettext("We could not charge %(amount)s for your charging session (receipt %(number)s) to your "
                            "card (%(reason)s), and we will not try again. Please add a working card in the portal "
                            "(Payment methods) and contact us to settle the receipt.") % words)
        words["retry"] = format_local_date(collection.next_attempt_at, operator_time_zone(invoice.operator_id))
        return (gettext("Payment for your charging receipt %(number)s failed") % words,
                gettext("We could not charge %(amount)s for your charging session (receipt %(number)s) to your card "
                        "(%(reason)s). We will try again on %(retry)s; you can change your card in the portal "
                        "(Payment methods) before then.") % words)

    send_in_languages(readers={driver.email: driver.language}, render=render)
