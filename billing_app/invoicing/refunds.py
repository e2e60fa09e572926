"""The refund a credit note owes the card: stored when the credit note is issued, sent by a task, swept.

`credit_note_issue(refund=True)` writes `refund_amount` and `refund_status=pending` in its own transaction
(the intent, Lago's `refund_status`), then queues `credit_note_refund_send_task` on commit. The task and the
beat sweep (`credit_notes_refund_pending`) call one service, `credit_note_refund_send`, which refunds the
invoice's captured card payments, newest first, through `payments.services.payment_refund`, one refund per
(credit note, payment) under the key `credit-note-<note>-payment-<payment>`. A crash, a timeout or Stripe
being down leaves the note pending and its refunds reserved: the next run finds them by their keys and
sends them again with the same Stripe idempotency key, so a refund owed is never lost and never doubled.

The task and the sweep live here, beside their service, because issuing queues the task: `credit_notes`
imports this module, and it imports nothing of invoicing's.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import translation

from billing_app.models import CreditNote, Invoice, Payment, Refund
from billing_app.payments.messages import not_refunded
from billing_app.payments.services import RefundError, payment_refund, refund_send
from billing_app.payments.stripe_client import StripeInProgress, StripeUnavailable

logger = logging.getLogger(__name__)

ZERO = Decimal("0.00")
SESSION_CARD_KINDS = (Payment.Kind.SESSION_HOLD, Payment.Kind.SESSION_EXTRA)
Status = CreditNote.RefundStatus


def invoice_card_payments(invoice: Invoice) -> QuerySet[Payment]:
    """The card payments that paid `invoice`, oldest first: a receipt's session payments (hold, extra) and
    any payment that names the invoice (a plan fee's)."""
    paid_it = Q(invoice_id=invoice.pk)
    if invoice.session_id is not None:
        paid_it |= Q(session_id=invoice.session_id, kind__in=SESSION_CARD_KINDS)
    return Payment.objects.filter(paid_it).order_by("pk")


def refund_key(note: CreditNote, payment: Payment) -> str:
    return f"credit-note-{note.pk}-payment-{payment.pk}"


def _refunds_of(note: CreditNote) -> QuerySet[Refund]:
    return Refund.objects.filter(idempotency_key__startswith=f"credit-note-{note.pk}-payment-")


def invoice_refundable(invoice: Invoice, *, lock: bool = False) -> Decimal:
    """What may still go back to the card for `invoice`: its captured card payments less what was refunded
    (pending refunds included), less what its pending credit notes owe and have not reserved yet.

    `lock=True` (inside the caller's transaction) locks those payment rows first, as `payment_refund`
    does, so a refund reserved meanwhile cannot be counted twice."""
    payments = invoice_card_payments(invoice).filter(status=Payment.Status.CAPTURED,
                                                      stripe_payment_intent_id__isnull=False)
    if lock:
        payments = payments.select_for_update()
    left = sum((payment.refundable for payment in payments), ZERO)
    for note in invoice.credit_notes.filter(refund_status=Status.PENDING):
        reserved = _refunds_of(note).exclude(status=Refund.Status.FAILED).aggregate(s=Sum("amount"))["s"] or ZERO
        left -= max(note.refund_amount - reserved, ZERO)
    return max(left, ZERO)


def credit_note_refund_send(*, credit_note_id: int) -> CreditNote:
    """Give back what a pending credit note owes, from the invoice's captured card payments, newest first
    (an off-session extra charge before the hold); then record the outcome: succeeded when all of it went
    back, failed (with the reason, shown in the admin) when Stripe refused or nothing was left to refund.

    Idempotent per (credit note, payment): an earlier run's refund is found by its key and, if still pending,
    sent again with the same Stripe idempotency key. Raises `StripeUnavailable` or `StripeInProgress` with
    the note left pending (the task retries; the sweep comes back)."""
    note = CreditNote.objects.select_related("invoice").get(pk=credit_note_id)
    if note.refund_status != Status.PENDING:
        return note
    left, refused = note.refund_amount, []
    for payment in reversed(list(invoice_card_payments(note.invoice))):
        if left <= 0:
            break
        key = refund_key(note, payment)
        refund = Refund.objects.filter(idempotency_key=key).first()
        if refund is None:
            if payment.status != Payment.Status.CAPTURED or payment.refundable <= 0:
                continue
            try:  # a refusal is stored on the credit note: in the default language, whoever asked
                with translation.override(settings.LANGUAGE_CODE):
                    refund = payment_refund(payment=payment, amount=min(left, payment.refundable),
                                            reason=f"Credit note {note.number}", idempotency_key=key)
            except RefundError as error:  # another refund took what it had left meanwhile, or it is not at Stripe
                logger.warning("credit note %s: payment %s: %s", note.number, payment.pk, error)
                refused.append(str(error))
                continue
        if refund.status == Refund.Status.PENDING:
            refund = refund_send(refund_id=refund.pk)
        if refund.status == Refund.Status.FAILED:
            refused.append(refund.failure_message or f"refund {refund.pk} refused")
            continue
        left -= refund.amount
    return _refund_outcome(note, left=left, refused=refused)


def _refund_outcome(note: CreditNote, *, left: Decimal, refused: list[str]) -> CreditNote:
    with transaction.atomic():
        note = CreditNote.objects.select_for_update().get(pk=note.pk)
        if note.refund_status != Status.PENDING:
            return note
        if left <= 0:
            note.refund_status, note.refund_failure_message = Status.SUCCEEDED, ""
        else:
            note.refund_status = Status.FAILED
            note.refund_failure_message = not_refunded(left, note.currency, refused)[:255]
            logger.error("credit note %s: %s", note.number, note.refund_failure_message)
        note.save(update_fields=["refund_status", "refund_failure_message"])
    return note


def credit_notes_refund_pending() -> int:
    """The beat sweep: send what pending credit notes still owe (a lost task, a crash, Stripe down when they
    were issued). Stops while Stripe is unreachable; a note another worker is sending waits for the next
    sweep. Returns how many notes it settled (succeeded or failed)."""
    settled = 0
    pending = CreditNote.objects.filter(refund_status=Status.PENDING).order_by("pk").values_list("pk", flat=True)
    for credit_note_id in list(pending):
        try:
            note = credit_note_refund_send(credit_note_id=credit_note_id)
        except StripeUnavailable:
            logger.warning("Stripe unreachable: credit note refunds wait for the next sweep")
            break
        except StripeInProgress:
            continue
        settled += note.refund_status != Status.PENDING
    return settled


# --- Tasks: thin, take ids, safe to run twice (the service above is idempotent) ---------------------

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 10}


@shared_task(name="billing_app.tasks.credit_note_refund_send",
             autoretry_for=(StripeUnavailable, StripeInProgress, OperationalError), **RETRY)
def credit_note_refund_send_task(credit_note_id: int) -> str:
    return credit_note_refund_send(credit_note_id=credit_note_id).refund_status


@shared_task(name="billing_app.tasks.credit_notes_refund_pending", autoretry_for=(OperationalError,), **RETRY)
def credit_notes_refund_pending_task() -> int:
    return credit_notes_refund_pending()
