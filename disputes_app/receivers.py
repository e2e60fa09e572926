"""Disputes' reaction to billing: a chargeback reported by Stripe opens (or updates) a ticket."""
from __future__ import annotations

from datetime import UTC, datetime

from django.dispatch import receiver

from billing_app.models import Payment
from billing_app.money import from_minor_units
from billing_app.payments.services import payment_dispute_changed

from . import services


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
