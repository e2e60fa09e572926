"""The demo's history (billing_app.demo_history): the figures agree everywhere, documents are dated when they
happened, and every demo payment can be refunded or says clearly why not."""
from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.errors import CreditNoteError
from billing_app.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    ReceiptCollection,
    Refund,
    SessionCharge,
    Subscription,
    SubscriptionPeriod,
)
from billing_app.payments.services import RefundError, payment_refund
from billing_app.reporting import analytics
from sessions_app.models import ChargingSession, User

pytestmark = pytest.mark.django_db

SESSION_KINDS = (Payment.Kind.SESSION_HOLD, Payment.Kind.SESSION_EXTRA, Payment.Kind.INVOICE)


def _per_currency(rows) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in rows:
        totals[currency] += amount
    return dict(totals)


def _receipts_paid_by_their_payments():
    for receipt in Invoice.objects.filter(kind=Invoice.Kind.RECEIPT).select_related("session"):
        payments = Payment.objects.filter(session_id=receipt.session_id, kind__in=SESSION_KINDS)
        captured = sum((p.amount_captured for p in payments.filter(status=Payment.Status.CAPTURED)), Decimal(0))
        if receipt.state == Invoice.State.PAID:
            assert captured == receipt.total_incl_vat, receipt.number
        else:  # declined, and its retry has not come yet
            assert captured == 0 and receipt.collection.status == ReceiptCollection.Status.RETRYING, receipt.number


def _analytics_agree(admin: User, start, end) -> None:
    """Analytics' "captured" is every card payment; its revenue is what receipts, statements and the sessions not
    billed yet (this month's statement accounts) add up to."""
    filters = analytics.Filters(start=start, end=end)
    captured = {row["currency"]: row["captured"] for row in analytics.disputes_and_refunds(admin, filters)["money"]}
    refunded = {row["currency"]: row["refunded"] for row in analytics.disputes_and_refunds(admin, filters)["money"]}
    payments = _per_currency(Payment.objects.filter(status=Payment.Status.CAPTURED)
                             .values_list("currency", "amount_captured"))
    assert captured == payments
    assert refunded == {c: Decimal(v) for c, v in _per_currency(
        Refund.objects.filter(status=Refund.Status.SUCCEEDED).values_list("payment__currency", "amount")).items()} \
        or (not any(refunded.values()) and not Refund.objects.exists())
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for row in analytics.usage_series(admin, filters):
        for currency, (_excl, incl) in row["revenue"].items():
            revenue[currency] += incl
    billed = _per_currency(Invoice.objects.filter(kind=Invoice.Kind.RECEIPT).values_list("currency", "total_incl_vat"))
    on_statements = _per_currency(InvoiceLine.objects.filter(invoice__kind=Invoice.Kind.STATEMENT,
                                                             session__isnull=False)
                                  .values_list("invoice__currency", "amount_incl_vat"))
    not_billed = _per_currency(SessionCharge.objects.filter(session__receipts__isnull=True,
                                                            session__invoice_lines__isnull=True)
                               .values_list("currency", "total_incl_vat"))
    for currency, amount in revenue.items():
        expected = billed.get(currency, 0) + on_statements.get(currency, 0) + not_billed.get(currency, 0)
        assert abs(amount - expected) <= Decimal("0.01") * len(on_statements or [1]), currency  # statement lines


def _demo_company_with_its_fleet_manager():
    from sessions_app.models import Company, IdToken

    fleet = User.objects.get(username="fleet")
    assert fleet.check_password("fleet") and fleet.role == User.Role.FLEET_MANAGER
    company = fleet.company
    assert company.legal_name == "Fleetwise Logistics GmbH" and company.operator.name == "Voltara Charging"
    members = User.objects.filter(company=company, role=User.Role.DRIVER)
    assert members.count() == 3
    assert set(IdToken.objects.filter(company=company).values_list("charging", flat=True)) == {"business", "private"}
    business = ChargingSession.objects.filter(company=company)
    assert business.exists() and not business.filter(id_token__charging="private").exists()
    assert set(business.values_list("cost_centre", flat=True)) <= {"Sales", "Service", "Logistics"}
    statement = Invoice.objects.filter(account__company=company, kind="statement").first()
    assert statement is not None and statement.driver is None and statement.buyer["vat_id"] == "DE136695976"
    assert Company.objects.count() == 2


def test_recorded_history_agrees_everywhere_and_refunds_say_why_not():
    call_command("load_demo", days=35, no_progress=True)  # the tests' Stripe is a closed port: all recorded
    _demo_company_with_its_fleet_manager()
    now = timezone.now()
    receipts = Invoice.objects.filter(kind=Invoice.Kind.RECEIPT).select_related("session__connector__station__location")
    assert receipts.count() > 100
    for receipt in receipts:  # dated at its session, in the charger's day
        assert receipt.session.stopped_at <= receipt.issued_at <= receipt.session.stopped_at + timedelta(minutes=5)
        zone = ZoneInfo(receipt.session.connector.station.location.time_zone)
        assert receipt.issued_at.astimezone(zone).date() == receipt.period_start
    assert receipts.filter(issued_at__lt=now - timedelta(days=30)).exists()
    numbers = list(receipts.filter(operator__name="Voltara Charging").order_by("issued_at", "pk")
                   .values_list("number_sequence", flat=True))
    assert numbers == sorted(numbers)  # numbered in time order
    _receipts_paid_by_their_payments()
    assert receipts.filter(state=Invoice.State.PAID).count() >= receipts.count() - 3
    retried = ReceiptCollection.objects.all()
    assert retried.exists() and Payment.objects.filter(status=Payment.Status.FAILED, failure_code="card_declined",
                                                       kind=Payment.Kind.SESSION_HOLD).exists()
    captured = Payment.objects.filter(status=Payment.Status.CAPTURED)
    assert not captured.filter(settled_at__gte=now - timedelta(minutes=1)).exists()  # dated, not "today"
    assert not captured.exclude(stripe_payment_intent_id=None).exists()  # no Stripe: all recorded
    # captured less refunded (nothing: no Stripe) is what the receipts and plan fees took
    paid_documents = _per_currency(Invoice.objects.filter(state=Invoice.State.PAID, kind__in=(
        Invoice.Kind.RECEIPT, Invoice.Kind.PLAN_FEE)).values_list("currency", "total_incl_vat"))
    assert _per_currency(captured.values_list("currency", "amount_captured")) == paid_documents

    statements = Invoice.objects.filter(kind=Invoice.Kind.STATEMENT)
    assert statements.filter(account__company__isnull=False).exists()
    for statement in statements:  # issued on the 2nd of the month after
        following = (statement.period_end + timedelta(days=1))
        assert statement.issued_at.date() == following.replace(day=2)
        assert statement.state == (Invoice.State.PAID if statement.issued_at < now - timedelta(days=9)
                                   else Invoice.State.ISSUED)

    for subscription in Subscription.objects.all():  # renewed every month since the history began
        periods = SubscriptionPeriod.objects.filter(subscription=subscription).order_by("period_start")
        assert periods.count() >= 2 and set(periods.values_list("status", flat=True)) == {"paid"}
        assert periods.first().period_start <= (now - timedelta(days=34)).date()
        for period in periods:
            assert period.invoice.state == Invoice.State.PAID
            assert period.invoice.issued_at - period.starts_at in (timedelta(hours=3),  # its first morning
                                                                   timedelta(days=1, hours=3))  # or the retry
    assert SubscriptionPeriod.objects.filter(attempts=2).count() == 1  # declined once, paid on the retry

    admin = User.objects.get(username="admin")
    start = ChargingSession.objects.order_by("started_at").first().started_at.date() - timedelta(days=1)
    _analytics_agree(admin, start, now.date() + timedelta(days=1))

    payment = captured.filter(kind=Payment.Kind.SESSION_HOLD).first()
    with pytest.raises(RefundError, match="recorded without a Stripe PaymentIntent"):
        payment_refund(payment=payment, amount=Decimal("1.00"), reason="test", idempotency_key="demo-test-1")
    receipt = Invoice.objects.get(session_id=payment.session_id)
    with pytest.raises(CreditNoteError, match="recorded without Stripe"):
        credit_note_issue(invoice_id=receipt.pk, reason="test", amount_incl_vat=Decimal("1.00"), refund=True)
    assert not Refund.objects.exists() and not CreditNote.objects.exists()


def test_recent_demo_payments_are_at_stripe_and_refund_there(stripe_server):
    call_command("load_demo", days=2, no_progress=True, stripe_payments=6)
    at_stripe = Payment.objects.exclude(stripe_payment_intent_id=None)
    assert at_stripe.filter(kind=Payment.Kind.SESSION_HOLD).count() == 6
    assert not at_stripe.exclude(status=Payment.Status.CAPTURED).exists()
    assert not at_stripe.filter(settled_at__gte=timezone.now() - timedelta(minutes=1)).exists()  # dated

    notes = CreditNote.objects.all()
    assert notes.count() == 2 and set(notes.values_list("refund_status", flat=True)) == {"succeeded"}
    refunds = Refund.objects.filter(status=Refund.Status.SUCCEEDED)
    assert refunds.count() == 2 and not refunds.filter(stripe_refund_id=None).exists()
    assert sum(r.amount for r in refunds) == sum(n.refund_amount for n in notes)
    disputed = Payment.objects.exclude(dispute_status="")
    assert set(disputed.values_list("dispute_status", flat=True)) == {"open", "won"}
    from disputes_app.models import DisputeTicket
    assert DisputeTicket.objects.filter(stripe_dispute_id__in=disputed.values("stripe_dispute_id")).count() == 2

    # captured less refunded is what the receipts kept
    captured = Payment.objects.filter(status=Payment.Status.CAPTURED, kind__in=SESSION_KINDS, session__isnull=False)
    kept = (sum((p.amount_captured for p in captured), Decimal(0))
            - (captured.aggregate(s=Sum("amount_refunded"))["s"] or 0))
    receipts = Invoice.objects.filter(kind=Invoice.Kind.RECEIPT, state=Invoice.State.PAID)
    assert kept == (sum(r.total_incl_vat for r in receipts) - sum(n.refund_amount for n in notes))
    _receipts_paid_by_their_payments()

    # an operator refunds another demo payment: it works at Stripe
    payment = (at_stripe.filter(kind=Payment.Kind.SESSION_HOLD, amount_refunded=0, dispute_status="")
               .order_by("pk").first())
    refund = payment_refund(payment=payment, amount=Decimal("0.50"), reason="goodwill",
                            idempotency_key="demo-test-refund")
    assert refund.status == Refund.Status.SUCCEEDED and refund.stripe_refund_id
