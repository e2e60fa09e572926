"""What the attack replay counts as lost or doubled money: for each session, what it owes (its charge), what our
Payment rows say was captured, and what localstripe kept of their PaymentIntents; and the PaymentIntents
localstripe holds for a driver that none of our rows knows (money taken or held twice, out of sight).

Unlike `settlement_ledger` (one session per driver), it reads Stripe per PaymentIntent, so a driver may have
several sessions. localstripe models a partial capture as a full charge plus an automatic refund of the
rest: what a PaymentIntent kept is its captured charges less what was refunded."""
from __future__ import annotations

from decimal import Decimal

import stripe

from billing_app import money
from billing_app.models import Invoice, Payment, PaymentCustomer, SessionCharge
from billing_app.payments import stripe_client
from sessions_app.models import ChargingSession
from tests.ops.settlement_ledger import LOCALSTRIPE_KEY

ZERO = Decimal("0.00")


def intent_charges(payment: Payment) -> list[dict]:
    if not payment.stripe_payment_intent_id:
        return []
    return stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)["charges"]["data"]


def kept_at_stripe(payment: Payment) -> Decimal:
    """What Stripe kept of the payment's PaymentIntent (captured, less refunded)."""
    cents = sum(c["amount"] - c["amount_refunded"] for c in intent_charges(payment) if c["captured"])
    return money.from_minor_units(cents, payment.currency)


def refunded_at_stripe(payment: Payment) -> Decimal:
    """What Stripe gave back of the payment's capture (the uncaptured part of a hold is not a refund)."""
    payment.refresh_from_db()
    cents = sum(c["amount_refunded"] for c in intent_charges(payment))
    uncaptured = payment.amount_authorized - payment.amount_captured if payment.kind == Payment.Kind.SESSION_HOLD \
        else ZERO
    return money.from_minor_units(cents, payment.currency) - uncaptured


def stripe_intents(driver) -> list:
    """Every PaymentIntent localstripe holds for the driver's customer."""
    customer = PaymentCustomer.objects.get(driver=driver).stripe_customer_id
    return [i for i in stripe.PaymentIntent.list(limit=100, api_key=LOCALSTRIPE_KEY).data if i.customer == customer]


MONEY_MOVED = ("requires_capture", "processing", "succeeded")  # held or taken (not declined, not canceled)


def untracked_intents(drivers) -> list[str]:
    """PaymentIntents at localstripe that hold or took money from these drivers and no Payment row names."""
    known = set(Payment.objects.exclude(stripe_payment_intent_id=None)
                .values_list("stripe_payment_intent_id", flat=True))
    return [f"{i.id} ({i.status}, {i.amount} cents) known to no payment row"
            for driver in drivers for i in stripe_intents(driver) if i.id not in known and i.status in MONEY_MOVED]


def session_accounts(sessions: list[ChargingSession]) -> tuple[list[str], list[str]]:
    """(lost, doubled), one line per session: lost when it has no charge, no paid receipt, or less captured (in
    our rows or at Stripe) than it owes; doubled when it has two receipts or more was taken than it owes."""
    lost, doubled = [], []
    for session in sessions:
        charge = SessionCharge.objects.filter(session=session).first()
        due = charge.total_incl_vat if charge else None
        payments = list(Payment.objects.filter(session=session))
        captured = sum((p.amount_captured for p in payments if p.status == Payment.Status.CAPTURED), ZERO)
        kept = sum((kept_at_stripe(p) for p in payments), ZERO)
        receipts = Invoice.objects.filter(session=session, kind=Invoice.Kind.RECEIPT)
        paid = receipts.filter(state=Invoice.State.PAID).count()
        line = (f"session {session.pk}: owes {due}, captured {captured}, kept at Stripe {kept}, "
                f"receipts {receipts.count()} ({paid} paid)")
        if due is None or paid < 1 or captured < due or kept < due:
            lost.append(line)
        if receipts.count() > 1 or (due is not None and (captured > due or kept > due)):
            doubled.append(line)
    return lost, doubled
