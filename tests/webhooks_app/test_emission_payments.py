"""Payments against localstripe emit their events: a charge captured through the payments service, then a
refund Stripe accepts (payment.refunded, with the amounts as strings and the currency)."""
from decimal import Decimal

import pytest

from billing_app.models import Payment, PaymentCustomer
from billing_app.payments import services as payments
from tests.billing_app.payment_fixtures import payg_driver

pytestmark = pytest.mark.django_db


def test_capture_and_refund_at_stripe_emit_payment_events(stripe_server, operator, endpoint, receiver,
                                                          django_capture_on_commit_callbacks):
    driver = payg_driver(operator)
    customer = PaymentCustomer.objects.get(driver=driver)
    payment = Payment.objects.create(
        operator=operator, driver=driver, kind=Payment.Kind.INVOICE, currency="EUR",
        amount_requested=Decimal("20.00"), amount_due=Decimal("20.00"), idempotency_key=f"webhooks-{driver.pk}",
        stripe_customer_id=customer.stripe_customer_id, stripe_payment_method_id=customer.default_payment_method_id)
    with django_capture_on_commit_callbacks(execute=True):
        payment = payments.payment_advance(payment_id=payment.pk)
        refund = payments.payment_refund(payment=payment, amount=Decimal("5.5"), reason="goodwill",
                                         idempotency_key="webhooks-refund-1")
    assert (payment.status, refund.status) == ("captured", "succeeded")
    by_type = {r.json["type"]: r.json["data"] for r in receiver.requests}
    assert set(by_type) == {"payment.captured", "payment.refunded"}
    captured = by_type["payment.captured"]
    assert captured["previous_status"] == "pending"
    assert captured["payment"]["amount_captured"] == {"amount": "20.00", "currency": "EUR"}
    refunded = by_type["payment.refunded"]
    assert refunded["refund"]["id"] == refund.pk and refunded["refund"]["stripe_refund_id"].startswith("re_")
    assert refunded["refund"]["amount"] == {"amount": "5.50", "currency": "EUR"}
    assert refunded["payment"]["amount_refunded"] == {"amount": "5.50", "currency": "EUR"}
