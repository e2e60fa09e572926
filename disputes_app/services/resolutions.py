"""How a resolution is carried out, per kind: a table of resolvers that call billing's services directly.

A resolver is `func(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict`.
It runs inside `ticket_resolve`'s transaction with the ticket row locked, does what the kind means
(refund through a credit note with refund, a credit note alone, a re-price that credits the difference),
raises `ResolutionError` to refuse (e.g. a refund above what was captured: nothing is written then), and
returns references to what it created (stored in `DisputeTicket.resolution_reference`). Billing's
services are idempotent; external effects (Stripe) happen after commit: a refund is stored on the credit
note (its refund status) and sent by billing's task, retried and swept until Stripe has it.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from billing_app.invoicing import CreditNoteError, credit_note_issue, invoice_remaining
from billing_app.invoicing.refunds import invoice_refundable
from billing_app.models import Invoice, InvoiceLine, SessionCharge
from billing_app.money import format_money
from billing_app.settlement.selectors import charge_energy_proven
from billing_app.settlement.services import SettlementError, session_reprice_total
from evbilling.errors import ApplicationError

Resolver = Callable[..., dict[str, Any]]


class ResolutionError(ApplicationError):
    """A resolution that cannot be carried out; the message says why, for the support agent."""


def resolve_reject(*, ticket, amount, currency, explanation: str, details, by, idempotency_key) -> dict[str, Any]:
    """No money moves; the driver is told why."""
    if not explanation.strip():
        raise ResolutionError(_("A rejection needs an explanation for the driver."))
    if amount is not None:
        raise ResolutionError(_("A rejection has no amount."))
    return {}


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
        raise ResolutionError(_("There is no issued invoice for this session yet: nothing to credit."))
    return invoice


def _credit(*, ticket, invoice: Invoice, amount: Decimal, refund: bool, explanation: str) -> dict[str, Any]:
    """A credit note on `invoice`; with `refund`, owed back to the card that paid it (a session receipt or a
    plan fee), never above what that card payment can still give back (billing refuses, writing nothing). Tied
    to the ticket's session when the invoice has its line (a roaming partner then hears of it as CDRs)."""
    session_id = ticket.session_id
    if session_id and invoice.session_id != session_id and not invoice.lines.filter(session_id=session_id).exists():
        session_id = None
    try:
        note = credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=amount, refund=refund, session_id=session_id,
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


def resolve_reprice(*, ticket, amount, currency, explanation, details, by, idempotency_key) -> dict[str, Any]:
    """Price the session again with corrected energy and credit (and refund, when paid by card) the
    difference. Refused when the meter's verified signatures prove the billed energy, unless the agent gives
    `signature_override_reason` (kept in the resolution reference, with the agent, in the audit log)."""
    corrected = details.get("corrected_energy_kwh")
    if corrected is None or Decimal(corrected) < 0:
        raise ResolutionError(_("Re-pricing needs the corrected energy in kWh."))
    charge = SessionCharge.objects.filter(session_id=ticket.session_id).select_related("session").first()
    if charge is None:
        raise ResolutionError(_("The session was never priced: nothing to re-price."))
    override = (details.get("signature_override_reason") or "").strip()
    if charge_energy_proven(charge) and not override:
        raise ResolutionError(_("The meter's verified signatures prove the %(energy)s kWh billed: re-price only "
                                "with a reason for overriding them.") % {"energy": charge.total_energy_kwh})
    try:
        new_total = session_reprice_total(charge=charge, corrected_energy_kwh=Decimal(corrected))
    except SettlementError as error:
        raise ResolutionError(error.message) from None
    difference = charge.total_incl_vat - new_total
    if difference <= 0:
        raise ResolutionError(_("With %(energy)s kWh the session costs %(new)s, not less than the %(old)s charged.") % {
            "energy": corrected, "new": format_money(new_total, charge.currency),
            "old": format_money(charge.total_incl_vat, charge.currency)})
    invoice = _document(ticket)
    difference = min(difference, invoice_remaining(invoice))
    card_paid = invoice_refundable(invoice) >= difference
    result = _credit(ticket=ticket, invoice=invoice, amount=difference, refund=card_paid, explanation=explanation)
    return {**result, "repriced_total": str(new_total), "corrected_energy_kwh": str(corrected),
            **({"signature_override_reason": override} if override else {})}


#: The resolver of each resolution kind (DisputeTicket.ResolutionKind).
RESOLVERS: dict[str, Resolver] = {
    "reject": resolve_reject,
    "refund": resolve_refund,
    "credit_note": resolve_credit_note,
    "reprice": resolve_reprice,
}
