"""Where payments meet invoices: a receipt is paid once its session's card payments are captured.

Idempotent, and tolerant of either side arriving first (the receipt may be issued before or after the
capture completes). The other direction, a credit note's refund to the card, is `invoicing.refunds`.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from billing_app.invoicing.documents import (
    invoice_mark_paid,
    pending_receipt_charges,
    receipt_issue_for_session,
    receipts_issue_pending,
)
from billing_app.models import Invoice, Payment
from billing_app.payments.services import session_payment_review, session_payment_settle

logger = logging.getLogger(__name__)

#: A session's card payments: its hold, the charge above it, and what the receipt sweep charged off-session
#: (kind `invoice` with the session; `invoicing.collection`).
SESSION_KINDS = Payment.SESSION_KINDS


def session_card_payments(session_id: int):
    return Payment.objects.filter(session_id=session_id, kind__in=SESSION_KINDS).order_by("pk")


def receipt_reconcile(*, session_id: int) -> Invoice | None:
    """Mark the session's receipt paid when its card payments are all captured and cover it (a declined one
    took nothing and counts for nothing: what it left is collected by `invoicing.collection`)."""
    receipt = Invoice.objects.filter(session_id=session_id, kind=Invoice.Kind.RECEIPT).first()
    if receipt is None or receipt.state != Invoice.State.ISSUED:
        return receipt
    payments = [p for p in session_card_payments(session_id)
                if p.status not in (Payment.Status.CANCELED, Payment.Status.FAILED)]
    if not payments or any(p.status != Payment.Status.CAPTURED for p in payments):
        return receipt
    captured = sum((p.amount_captured for p in payments), Decimal(0))
    if captured < receipt.total_incl_vat:
        logger.warning("receipt %s: captured %s of %s", receipt.number, captured, receipt.total_incl_vat)
        return receipt
    reference = ", ".join(p.stripe_payment_intent_id for p in payments if p.stripe_payment_intent_id)
    return invoice_mark_paid(invoice_id=receipt.pk, paid_at=max(p.updated_at for p in payments),
                             reference=reference[:255])


def receipts_reconcile_pending() -> int:
    """Sweep issued, unpaid receipts whose payments were captured in the meantime."""
    paid = 0
    for session_id in (Invoice.objects.filter(kind=Invoice.Kind.RECEIPT, state=Invoice.State.ISSUED)
                       .values_list("session_id", flat=True).iterator()):
        receipt = receipt_reconcile(session_id=session_id)
        paid += bool(receipt and receipt.state == Invoice.State.PAID)
    return paid


def receipt_settle(*, session_id: int) -> Invoice | None:
    """Issue the session's receipt (pay-as-you-go accounts only) and mark it paid when its captures cover
    it. The task after settlement and the sweep below take this one path. A session held for review gets
    none yet: whether it is (the off-session cap) is decided first, so its receipt never shows a figure a
    correction replaces; resolving the review queues this again."""
    if session_payment_review(session_id=session_id):
        return None
    invoice = receipt_issue_for_session(session_id=session_id)
    if invoice is not None:
        receipt_reconcile(session_id=session_id)
    return invoice


def receipts_settle_pending() -> int:
    """The sweep: receipts not issued yet (a lost task) and issued receipts whose payment has since
    been captured. Returns how many receipts it issued."""
    for session_id in pending_receipt_charges().filter(review__isnull=True).values_list("session_id", flat=True):
        session_payment_review(session_id=session_id)  # the off-session cap is decided before any receipt
    issued = receipts_issue_pending()
    receipts_reconcile_pending()
    return issued


def session_payment_collect(*, session_id: int) -> list[Payment]:
    """Capture (or charge) what the priced session owes, then mark its receipt paid if that covers it."""
    settled = session_payment_settle(session_id=session_id)
    receipt_reconcile(session_id=session_id)
    return settled
