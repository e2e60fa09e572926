""""Pay now" on a past-due plan takes one path however often it is fired (issue 15, item 8): ten requests at once
make one attempt and one Stripe PaymentIntent; the others are told it is under way (or paid). PostgreSQL (real
row locks) and a real localstripe."""
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from threading import Barrier
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, connections

from billing_app import invoicing
from billing_app.models import Payment, PaymentCustomer, Subscription, SubscriptionPeriod
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add
from billing_app.plans import services as plans
from billing_app.plans.renewals import PlanPaymentInProgress
from tests.billing_app.payment_fixtures import payg_driver
from tests.billing_app.plan_fixtures import make_plan

D = Decimal
REQUESTS = 10

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="row locks under concurrency need PostgreSQL")


def _berlin(*args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def _in_threads(function, count: int) -> list:
    barrier = Barrier(count)

    def run(_):
        try:
            barrier.wait()
            with invoicing.delivery_suppressed():
                return function()
        except Exception as error:  # the test inspects what each request got
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


@pytest.fixture
def past_due(stripe_server, operator, connector):
    """A subscription whose April renewal was declined (past due), and the driver's working card."""
    driver = payg_driver(operator)
    visa = PaymentCustomer.objects.get(driver=driver).default_payment_method_id
    with invoicing.delivery_suppressed():
        subscription = plans.plan_subscribe(driver=driver, plan=make_plan(operator), payment_method_id=visa,
                                            now=_berlin(2026, 3, 10, 12))
        failing = payment_method_add(driver=driver, payment_method_id="pm_card_chargeCustomerFail")
        Subscription.objects.filter(pk=subscription.pk).update(payment_method_id=failing.id)
        plans.subscriptions_renew_due(now=_berlin(2026, 4, 10, 0, 5))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    return subscription, visa


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_pay_now_fired_ten_times_at_once_charges_once(past_due, intents_created):
    subscription, visa = past_due
    created = intents_created
    now = _berlin(2026, 4, 11, 9)
    results = _in_threads(lambda: plans.subscription_pay_now(subscription=subscription, payment_method_id=visa,
                                                             now=now), REQUESTS)

    assert len(created) == 1, created  # one PaymentIntent asked of Stripe
    paid = [r for r in results if isinstance(r, SubscriptionPeriod)]
    assert len(paid) == 1 and paid[0].status == SubscriptionPeriod.Status.PAID, results
    assert all(isinstance(r, plans.PlanError) for r in results if r not in paid), results
    assert {type(r) for r in results if r not in paid} <= {plans.PlanError, PlanPaymentInProgress}
    period = SubscriptionPeriod.objects.get(pk=paid[0].pk)
    assert (period.attempts, period.payment.status) == (2, Payment.Status.CAPTURED)
    captured = Payment.objects.filter(driver=subscription.driver, status=Payment.Status.CAPTURED)
    assert captured.count() == 2  # March (at subscribing) and April (once)
    assert Subscription.objects.get(pk=subscription.pk).status == Subscription.Status.ACTIVE


@pytest.mark.django_db
def test_pay_now_while_the_attempt_is_under_way_asks_stripe_nothing(past_due, monkeypatch):
    subscription, visa = past_due
    period = subscription.periods.get(status=SubscriptionPeriod.Status.FAILED)
    in_flight = Payment.objects.create(
        operator=period.plan.operator, driver=subscription.driver, kind=Payment.Kind.INVOICE, currency="EUR",
        amount_requested=period.fee_incl_vat, amount_due=period.fee_incl_vat, idempotency_key="in-flight")
    SubscriptionPeriod.objects.filter(pk=period.pk).update(payment=in_flight)
    monkeypatch.setattr(stripe_client, "payment_intent_create", lambda **kwargs: pytest.fail("asked Stripe"))
    with pytest.raises(PlanPaymentInProgress):
        plans.subscription_pay_now(subscription=subscription, payment_method_id=visa,
                                   now=_berlin(2026, 4, 11, 9) + timedelta(minutes=1))
    assert SubscriptionPeriod.objects.get(pk=period.pk).attempts == 1
