"""A driver who leaves a receipt overdue is refused new sessions at the operator's chargers, until it is paid.

The rule: a receipt is overdue when every dunning retry failed (`invoicing.collection`, `ReceiptCollection`
status overdue, `overdue_at`). Once one of a driver's receipts of an operator has been overdue for the operator's
`Operator.overdue_refusal_days` (default 7; empty: never), the payment hook (`payments.services.
token_payment_standing`) refuses the driver's private cards at that operator's chargers with the reason
`sessions_app.hooks.OVERDUE_RECEIPT` (OCPP 1.6 Blocked, 2.0.1 NoCredit). A company's business card is not
refused for its driver's private receipt (the company pays for those sessions), and a transaction already running
is never cut off. Paying the receipt (Pay now in the portal, or a payment recorded by the operator) takes the
receipt out of overdue, and the next Authorize is accepted again. The portal says which receipt and from when
(`overdue_refusals`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from billing_app.models import Invoice, ReceiptCollection
from sessions_app.hooks import OVERDUE_RECEIPT
from sessions_app.models import Operator, User


@dataclass(frozen=True, slots=True)
class OverdueRefusal:
    """One overdue receipt and the moment it refuses (or refused) the driver at the operator's chargers."""

    receipt: Invoice
    refused_from: datetime

    def refusing(self, at: datetime) -> bool:
        return self.refused_from <= at


def _overdue(driver_id: int):
    return (
        ReceiptCollection.objects.filter(
            status=ReceiptCollection.Status.OVERDUE,
            invoice__driver_id=driver_id,
            invoice__state=Invoice.State.ISSUED,
            overdue_at__isnull=False,
        )
        .select_related("invoice__operator")
        .order_by("overdue_at", "pk")
    )


def overdue_refusal_standing(*, driver_id: int, operator_id: int, at: datetime) -> str | None:
    """The payment hook's question: does an overdue receipt of this operator refuse the driver at `at`? (The
    operator's setting is read here, not from the gateway's long-lived station object, so a change counts at once.)"""
    days = Operator.objects.filter(pk=operator_id).values_list("overdue_refusal_days", flat=True).first()
    if days is None:
        return None
    refusing = _overdue(driver_id).filter(invoice__operator_id=operator_id, overdue_at__lte=at - timedelta(days=days))
    return OVERDUE_RECEIPT if refusing.exists() else None


def overdue_refusals(*, driver: User) -> list[OverdueRefusal]:
    """What the portal tells the driver: each overdue receipt whose operator refuses overdue drivers, and from
    when (earliest first)."""
    refusals = []
    for collection in _overdue(driver.pk):
        days = collection.invoice.operator.overdue_refusal_days
        if days is not None:
            refusals.append(OverdueRefusal(collection.invoice, collection.overdue_at + timedelta(days=days)))
    return sorted(refusals, key=lambda refusal: refusal.refused_from)
