"""Conflicts and refusals in the payment paths (issue 15, item 8): Stripe's 409 for an idempotency key still in
flight is "in progress", never a failure; the payments sweep fails the one item Stripe refuses for good (shown
in the admin) and goes on with the others. Against a real localstripe; the 409 is Stripe's own error object."""
from decimal import Decimal

import pytest
import stripe
from django.urls import reverse

from billing_app.models import Payment, PaymentCustomer
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.payments import tasks as payment_tasks
from evbilling.errors import ConflictError
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver

D = Decimal
pytestmark = pytest.mark.django_db


def _idempotency_conflict(*args, **kwargs):
    """What stripe-python raises for Stripe's answer to a second request while the first with its key runs."""
    body = {"error": {"type": "idempotency_error", "code": "idempotency_key_in_use",
                      "message": "There is currently another in-progress request using this Idempotent Key."}}
    raise stripe.IdempotencyError(body["error"]["message"], http_status=409, json_body=body,
                                  code="idempotency_key_in_use")


def _payment(operator, *, kind=Payment.Kind.INVOICE, amount="20.00") -> Payment:
    driver = payg_driver(operator)
    customer = PaymentCustomer.objects.get(driver=driver)
    return Payment.objects.create(
        operator=operator, driver=driver, kind=kind, currency="EUR", amount_requested=D(amount),
        amount_due=D(amount) if kind == Payment.Kind.INVOICE else None, idempotency_key=f"test-{driver.pk}",
        stripe_customer_id=customer.stripe_customer_id, stripe_payment_method_id=customer.default_payment_method_id)


def test_a_409_idempotency_conflict_is_in_progress_not_a_refusal():
    with pytest.raises(stripe_client.StripeInProgress) as caught:
        stripe_client._call(_idempotency_conflict, idempotency_key="k")
    assert isinstance(caught.value, ConflictError) and caught.value.status_code == 409
    assert not isinstance(caught.value, stripe_client.StripeRejected | stripe_client.StripeUnavailable)
    assert caught.value.code == "idempotency_key_in_use"


def test_a_payment_whose_key_is_in_flight_stays_pending_and_is_charged_once_later(stripe_server, operator,
                                                                                  monkeypatch):
    payment = _payment(operator)
    real_create = stripe_client.payment_intent_create
    monkeypatch.setattr(stripe_client, "payment_intent_create",
                        lambda **kwargs: stripe_client._call(_idempotency_conflict, idempotency_key="k"))
    with pytest.raises(stripe_client.StripeInProgress):
        payments.payment_advance(payment_id=payment.pk)
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == (Payment.Status.PENDING, "")
    assert payments.payments_settle_pending() == 1  # skipped, not failed, and the sweep finished
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PENDING
    monkeypatch.setattr(stripe_client, "payment_intent_create", real_create)
    payments.payments_settle_pending()
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (Payment.Status.CAPTURED, D("20.00"))


def test_payment_tasks_retry_what_is_in_progress():
    for task in (payment_tasks.payment_advance, payment_tasks.session_payment_settle, payment_tasks.refund_send):
        assert stripe_client.StripeInProgress in task.autoretry_for, task.name


def test_a_permanent_refusal_fails_that_payment_and_the_sweep_goes_on(stripe_server, operator, client):
    refused = _payment(operator, kind=Payment.Kind.SESSION_HOLD)
    refused = payments.payment_advance(payment_id=refused.pk)
    assert refused.status == Payment.Status.AUTHORIZED
    # Its PaymentIntent is unknown to Stripe now: the capture and the look-up after it are both refused (404).
    Payment.objects.filter(pk=refused.pk).update(stripe_payment_intent_id="pi_unknown_to_stripe",
                                                 amount_due=D("5.00"))
    good = payments.payment_advance(payment_id=_payment(operator, kind=Payment.Kind.SESSION_HOLD).pk)
    Payment.objects.filter(pk=good.pk).update(amount_due=D("7.00"))
    pending = _payment(operator)

    assert payments.payments_settle_pending() == 3
    refused.refresh_from_db()
    assert refused.status == Payment.Status.FAILED
    assert refused.failure_code and refused.failure_message  # Stripe's code and words (localstripe: 404 Not Found)
    assert refused.events.last().note.startswith("refused by Stripe")
    assert Payment.objects.get(pk=good.pk).amount_captured == D("7.00")
    assert Payment.objects.get(pk=pending.pk).status == Payment.Status.CAPTURED
    assert payments.payments_settle_pending() == 0  # the refused one is not asked again

    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(reverse("admin:billing_app_payment_changelist"), {"status": "failed"})
    assert page.status_code == 200 and f">{refused.failure_code}<" in page.content.decode()
