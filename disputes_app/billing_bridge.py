"""Billing behind disputes: the resolvers that refund, credit and re-price, the evidence parts about
payments and invoices, and chargebacks from Stripe turned into tickets.

Registered in DisputesAppConfig.ready (disputes depend on billing, never the other way round).
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.dispatch import receiver

from billing_app import ocpi, pricing
from billing_app.cdr import session_pricing_input
from billing_app.invoicing import CreditNoteError, credit_note_issue, invoice_remaining
from billing_app.models import Invoice, InvoiceLine, Payment, SessionCharge
from billing_app.payments import payment_dispute_changed
from billing_app.reconciliation import session_card_payments, session_refundable
from billing_app.stripe_client import from_minor_units

from . import services
from .evidence import register_evidence_provider
from .resolution import ResolutionError, register_resolver

logger = logging.getLogger(__name__)


def _document(ticket) -> Invoice:
    """The invoice a resolution credits: the ticket's own, else the session's receipt or statement."""
    invoice = None
    if ticket.invoice_id:
        invoice = Invoice.objects.filter(pk=ticket.invoice_id, operator_id=ticket.operator_id).first()
    elif ticket.session_id:
        invoice = (Invoice.objects.filter(session_id=ticket.session_id, kind=Invoice.Kind.RECEIPT).first()
                   or Invoice.objects.filter(pk__in=InvoiceLine.objects.filter(session_id=ticket.session_id)
                                             .values("invoice_id")).first())
    if invoice is None or invoice.state not in (Invoice.State.ISSUED, Invoice.State.PAID):
        raise ResolutionError("There is no issued invoice for this session yet: nothing to credit.")
    return invoice


def _credit(*, ticket, invoice: Invoice, amount: Decimal, refund: bool, explanation: str) -> dict[str, Any]:
    if refund:
        if ticket.session_id is None or invoice.kind != Invoice.Kind.RECEIPT:
            raise ResolutionError("Only a card-paid session receipt can be refunded; use a credit note instead.")
        refundable = session_refundable(ticket.session_id)
        if amount > refundable:
            raise ResolutionError(f"At most {refundable} {invoice.currency} was captured and not yet refunded.")
    try:
        note = credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=amount, refund=refund,
                                 reason=f"Dispute #{ticket.pk}: {explanation}"[:255])
    except CreditNoteError as error:
        raise ResolutionError(str(error)) from None
    return {"invoice": invoice.number, "credit_note": note.number, "credit_note_id": note.pk,
            "amount": str(amount), "currency": note.currency, "refund": refund}


def resolve_refund(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict[str, Any]:
    """Refund to the card, with a credit note for the same amount (never above what was captured)."""
    return _credit(ticket=ticket, invoice=_document(ticket), amount=amount, refund=True, explanation=explanation)


def resolve_credit_note(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict[str, Any]:
    """A credit note without a card refund (postpaid statements, or credit kept on the account)."""
    return _credit(ticket=ticket, invoice=_document(ticket), amount=amount, refund=False, explanation=explanation)


def repriced_total(charge: SessionCharge, *, corrected_energy_kwh: Decimal) -> Decimal:
    """The session priced again with its frozen tariff and the energy corrected (each period's energy
    scaled by corrected / measured), incl. VAT."""
    data = session_pricing_input(charge.session)
    measured = sum((Decimal(str(d["volume"])) for p in data["charging_periods"] for d in p["dimensions"]
                    if d["type"] == "ENERGY"), Decimal(0))
    if measured <= 0:
        raise ResolutionError("The session has no measured energy to correct.")
    factor = corrected_energy_kwh / measured
    for period in data["charging_periods"]:
        for dimension in period["dimensions"]:
            if dimension["type"] == "ENERGY":
                dimension["volume"] = Decimal(str(dimension["volume"])) * factor
    breakdown = pricing.price_session(tariff=ocpi.tariff_from_ocpi(charge.tariff_snapshot),
                                      session=ocpi.session_from_json(data))
    return breakdown.total_cost.incl_vat


def resolve_reprice(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict[str, Any]:
    """Price the session again with corrected energy and credit (and refund, when paid by card) the
    difference."""
    corrected = details.get("corrected_energy_kwh")
    if corrected is None or Decimal(corrected) < 0:
        raise ResolutionError("Re-pricing needs the corrected energy in kWh.")
    charge = SessionCharge.objects.filter(session_id=ticket.session_id).select_related("session").first()
    if charge is None:
        raise ResolutionError("The session was never priced: nothing to re-price.")
    new_total = repriced_total(charge, corrected_energy_kwh=Decimal(corrected))
    difference = charge.total_incl_vat - new_total
    if difference <= 0:
        raise ResolutionError(f"With {corrected} kWh the session costs {new_total} {charge.currency}, "
                              f"not less than the {charge.total_incl_vat} charged.")
    invoice = _document(ticket)
    difference = min(difference, invoice_remaining(invoice))
    card_paid = invoice.kind == Invoice.Kind.RECEIPT and session_refundable(ticket.session_id) >= difference
    result = _credit(ticket=ticket, invoice=invoice, amount=difference, refund=card_paid, explanation=explanation)
    return {**result, "repriced_total": str(new_total), "corrected_energy_kwh": str(corrected)}


def evidence_payments(*, ticket) -> list[dict[str, Any]]:
    if ticket.session_id is None and not ticket.payment_id:
        return []
    payments = (session_card_payments(ticket.session_id) if ticket.session_id
                else Payment.objects.filter(pk=ticket.payment_id))
    return [
        {"id": p.pk, "kind": p.kind, "status": p.status, "currency": p.currency, "held": p.amount_requested,
         "captured": p.amount_captured, "refunded": p.amount_refunded, "dispute": p.dispute_status,
         "refunds": [{"amount": r.amount, "status": r.status, "reason": r.reason, "at": r.created_at}
                     for r in p.refunds.order_by("pk")]}
        for p in payments.prefetch_related("refunds")
    ]


def evidence_invoices(*, ticket) -> list[dict[str, Any]]:
    if ticket.session_id is None and not ticket.invoice_id:
        return []
    invoices = Invoice.objects.filter(operator_id=ticket.operator_id)
    invoices = (invoices.filter(pk=ticket.invoice_id) if ticket.invoice_id else
                invoices.filter(pk__in=InvoiceLine.objects.filter(session_id=ticket.session_id).values("invoice_id"))
                | invoices.filter(session_id=ticket.session_id))
    return [
        {"number": i.number, "kind": i.kind, "state": i.state, "currency": i.currency,
         "total_incl_vat": i.total_incl_vat, "issued_at": i.issued_at,
         "credit_notes": [{"number": c.number, "total_incl_vat": c.total_incl_vat} for c in i.credit_notes.all()]}
        for i in invoices.distinct().prefetch_related("credit_notes")
    ]


def _get(obj, key, default=None):
    return obj.get(key, default) if isinstance(obj, dict) else getattr(obj, key, default)


@receiver(payment_dispute_changed, dispatch_uid="disputes_chargeback_ticket")
def chargeback_ticket(sender, payment: Payment, status: str, stripe_dispute, **kwargs):
    """charge.dispute.created opens (or finds) the ticket; later events update its status and deadline."""
    dispute_id = _get(stripe_dispute, "id")
    if not dispute_id:
        return
    details = _get(stripe_dispute, "evidence_details") or {}
    due = _get(details, "due_by")
    due_by = datetime.fromtimestamp(int(due), tz=UTC) if due else None
    stripe_status = _get(stripe_dispute, "status") or status or "needs_response"
    if services.ticket_update_from_chargeback(stripe_dispute_id=dispute_id, status=stripe_status,
                                              evidence_due_by=due_by) is None:
        amount = _get(stripe_dispute, "amount")
        services.ticket_open_from_chargeback(
            operator=payment.operator, driver=payment.driver, session=payment.session, payment_id=payment.pk,
            stripe_dispute_id=dispute_id, currency=payment.currency, evidence_due_by=due_by,
            amount=from_minor_units(int(amount), payment.currency) if amount is not None else payment.amount_captured,
            status=stripe_status,
        )


def register() -> None:
    register_resolver("refund", resolve_refund)
    register_resolver("credit_note", resolve_credit_note)
    register_resolver("reprice", resolve_reprice)
    register_evidence_provider("payments", evidence_payments, title="Payments and refunds")
    register_evidence_provider("invoices", evidence_invoices, title="Invoices and credit notes")
