"""The closing account of a fault-tolerance test: for each pay-as-you-go session, was it priced,
captured (in our database and at Stripe), and given a paid receipt, each exactly once?"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import stripe

from billing_app import money
from billing_app.models import Invoice, Payment, PaymentCustomer, SessionCharge
from sessions_app.models import ChargingSession

LOCALSTRIPE_KEY = "sk_test_" + "x" * 24


@dataclass(frozen=True)
class Settlement:
    session_id: int
    charges: int  # SessionCharge rows
    captures: int  # our Payment rows captured
    captured: Decimal  # what those rows say was taken
    stripe_captures: int  # charges captured at Stripe for the driver
    stripe_taken: Decimal  # what Stripe actually kept (captured minus released)
    receipts: int
    receipts_paid: int
    due: Decimal | None  # the priced total incl. VAT


def settlement_of(session: ChargingSession) -> Settlement:
    charge = SessionCharge.objects.filter(session=session).first()
    captured = list(Payment.objects.filter(session=session, status=Payment.Status.CAPTURED))
    customer = PaymentCustomer.objects.get(driver_id=session.driver_id)
    at_stripe = [c for c in stripe.Charge.list(customer=customer.stripe_customer_id, api_key=LOCALSTRIPE_KEY,
                                               limit=100).data if c.captured]
    receipts = Invoice.objects.filter(session=session, kind=Invoice.Kind.RECEIPT)
    return Settlement(
        session_id=session.pk,
        charges=SessionCharge.objects.filter(session=session).count(),
        captures=len(captured),
        captured=sum((p.amount_captured for p in captured), Decimal("0.00")),
        stripe_captures=len(at_stripe),
        stripe_taken=sum((money.from_minor_units(c.amount - c.amount_refunded, "EUR") for c in at_stripe),
                         Decimal("0.00")),
        receipts=receipts.count(),
        receipts_paid=receipts.filter(state=Invoice.State.PAID).count(),
        due=charge.total_incl_vat if charge else None,
    )


def settled(session: ChargingSession) -> bool:
    """Everything a settled pay-as-you-go session ends with is there (possibly twice: see `ledger`)."""
    s = settlement_of(session)
    return bool(s.charges and s.captures and s.stripe_captures and s.receipts_paid)


def ledger(sessions: list[ChargingSession]) -> tuple[list[Settlement], list[Settlement]]:
    """(lost, doubled): sessions missing any of charge, capture, Stripe capture, paid receipt or part of the
    amount, and sessions with any of them more than once or more money taken than priced."""
    lost, doubled = [], []
    for session in sessions:
        s = settlement_of(session)
        counts = (s.charges, s.captures, s.stripe_captures, s.receipts, s.receipts_paid)
        if min(counts) < 1 or s.due is None or s.captured < s.due or s.stripe_taken < s.due:
            lost.append(s)
        if max(counts) > 1 or (s.due is not None and (s.captured > s.due or s.stripe_taken > s.due)):
            doubled.append(s)
    return lost, doubled
