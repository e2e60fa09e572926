"""Refunds: partial and full, never above what was captured (in code under a row lock, and in the
database), the same idempotency key never refunds twice."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_app.models import Payment, PaymentCustomer, Refund
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.payments.services import RefundError
from tests.billing_app.payment_fixtures import payg_driver

pytestmark = pytest.mark.django_db


def _captured(operator, amount="20.00") -> Payment:
    """A payment charged at Stripe for `amount` (automatic capture)."""
    driver = payg_driver(operator)
    customer = PaymentCustomer.objects.get(driver=driver)
    payment = Payment.objects.create(
        operator=operator, driver=driver, kind=Payment.Kind.INVOICE, currency="EUR",
        amount_requested=Decimal(amount), amount_due=Decimal(amount), idempotency_key=f"test-{driver.pk}",
        stripe_customer_id=customer.stripe_customer_id, stripe_payment_method_id=customer.default_payment_method_id,
    )
    payment = payments.payment_advance(payment_id=payment.pk)
    assert (payment.status, payment.amount_captured) == ("captured", Decimal(amount)), payment.failure_message
    return payment


def test_partial_then_full_refund(stripe_server, operator):
    payment = _captured(operator)
    first = payments.payment_refund(payment=payment, amount=Decimal("5.50"), reason="dispute 1",
                                    idempotency_key="dispute-1")
    second = payments.payment_refund(payment=payment, amount=Decimal("14.50"), reason="credit note 7",
                                     idempotency_key="credit-note-7")
    assert (first.status, second.status) == ("succeeded", "succeeded")
    assert first.stripe_refund_id.startswith("re_")
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.refundable) == (Decimal("20.00"), Decimal(0))


def test_refund_never_exceeds_what_is_left_and_writes_nothing(stripe_server, operator):
    payment = _captured(operator)
    payments.payment_refund(payment=payment, amount=Decimal("15.00"), reason="r", idempotency_key="r-1")
    with pytest.raises(RefundError, match=r"At most 5\.00 EUR"):
        payments.payment_refund(payment=payment, amount=Decimal("5.01"), reason="r", idempotency_key="r-2")
    assert Refund.objects.count() == 1
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("15.00")


def test_same_idempotency_key_refunds_once(stripe_server, operator):
    payment = _captured(operator)
    first = payments.payment_refund(payment=payment, amount=Decimal("3.00"), reason="r", idempotency_key="same")
    again = payments.payment_refund(payment=payment, amount=Decimal("3.00"), reason="r", idempotency_key="same")
    assert first.pk == again.pk
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("3.00")


def test_idempotency_key_of_another_payment_is_refused(stripe_server, operator):
    one, other = _captured(operator), _captured(operator)
    payments.payment_refund(payment=one, amount=Decimal("1.00"), reason="r", idempotency_key="k")
    with pytest.raises(RefundError, match="another payment"):
        payments.payment_refund(payment=other, amount=Decimal("1.00"), reason="r", idempotency_key="k")


def test_uncaptured_payment_cannot_be_refunded(stripe_server, operator):
    payment = _captured(operator)
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.AUTHORIZED)
    with pytest.raises(RefundError):
        payments.payment_refund(payment=payment, amount=Decimal("1.00"), reason="r", idempotency_key="r")


def test_database_refuses_refunded_above_captured(stripe_server, operator):
    payment = _captured(operator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=Decimal("20.01"))


def test_database_refuses_captured_above_authorized(stripe_server, operator):
    payment = _captured(operator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(amount_captured=Decimal("20.01"))


def test_refund_while_stripe_is_down_stays_reserved_and_is_sent_once_later(settings, stripe_server, operator):
    payment = _captured(operator)
    up = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = "http://127.0.0.1:9"
    with pytest.raises(stripe_client.StripeUnavailable):
        payments.payment_refund(payment=payment, amount=Decimal("8.00"), reason="r", idempotency_key="later")
    refund = Refund.objects.get()
    assert refund.status == "pending"
    with pytest.raises(RefundError):  # the pending refund counts against the limit
        payments.payment_refund(payment=payment, amount=Decimal("12.01"), reason="r", idempotency_key="other")
    settings.STRIPE_API_HOST = up
    payments.payments_settle_pending()
    payments.payments_settle_pending()
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("8.00")


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("25.00"), places=2), min_size=1,
                max_size=5))
def test_refunds_never_exceed_captures(stripe_server, operator, amounts):
    payment = _captured(operator, "20.00")
    accepted = Decimal(0)
    for index, amount in enumerate(amounts):
        try:
            payments.payment_refund(payment=payment, amount=amount, reason="p",
                                    idempotency_key=f"p-{payment.pk}-{index}")
            accepted += amount
        except RefundError:
            assert amount > Decimal("20.00") - accepted
    payment.refresh_from_db()
    assert payment.amount_refunded == accepted <= payment.amount_captured
    assert sum(r.amount for r in payment.refunds.filter(status="succeeded")) == accepted
