"""Subscriptions against a real localstripe: subscribing charges the first period, renewals at month
ends in the operator's time zone, one renewal per period however often the beat runs, dunning after a
decline (retries after 1, 3 and 7 days, then suspension) and recovery from the portal, cancellation
at period end, and plan fees of postpaid accounts on the monthly statement."""
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from billing_app.invoicing import statement_create
from billing_app.models import BillingAccount, Invoice, Payment, PaymentCustomer, Subscription, SubscriptionPeriod
from billing_app.payments.methods import payment_method_add
from billing_app.plans import services as plans
from tests.billing_app.payment_fixtures import payg_driver
from tests.billing_app.plan_fixtures import make_plan

D = Decimal
pytestmark = pytest.mark.usefixtures("no_delivery_plans")


@pytest.fixture
def no_delivery_plans():
    from billing_app.invoicing import delivery_suppressed

    with delivery_suppressed():
        yield


def _berlin(year, month, day, hour=0, minute=0):
    """A Berlin wall-clock time as UTC (the operator's sites are in Berlin)."""
    from zoneinfo import ZoneInfo

    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


@pytest.fixture
def plan(operator, connector):  # the connector gives the operator its Berlin site (its time zone)
    return make_plan(operator, included_kwh=D(50))


@pytest.fixture
def subscriber(stripe_server, operator):
    return payg_driver(operator)


def _card(driver) -> str:
    return PaymentCustomer.objects.get(driver=driver).default_payment_method_id


def _subscribe(driver, plan, now):
    method = _card(driver)
    return plans.plan_subscribe(driver=driver, plan=plan, payment_method_id=method, now=now)


@pytest.mark.parametrize(("start", "expected"), [
    (date(2026, 1, 31), [date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]),
    (date(2028, 1, 31), [date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30), date(2028, 5, 31)]),
    (date(2026, 1, 30), [date(2026, 2, 28), date(2026, 3, 30), date(2026, 4, 30), date(2026, 5, 30)]),
    (date(2026, 12, 15), [date(2027, 1, 15), date(2027, 2, 15), date(2027, 3, 15), date(2027, 4, 15)]),
])
def test_periods_stay_anchored_on_the_start_day(start, expected):
    assert [plans.add_months(start, n, start.day) for n in range(1, 5)] == expected
    assert plans.add_months(date(2028, 2, 29), 12, 29) == date(2029, 2, 28)


def test_subscribing_charges_the_first_period_and_issues_a_paid_plan_fee_invoice(subscriber, plan):
    subscription = _subscribe(subscriber, plan, _berlin(2026, 1, 31, 12))
    period = subscription.periods.get()
    assert (subscription.status, subscription.anchor_day) == ("active", 31)
    assert (period.period_start, period.period_end) == (date(2026, 1, 31), date(2026, 2, 28))
    assert period.status == "paid"
    assert (period.fee_excl_vat, period.fee_vat, period.fee_incl_vat) == (D("9.90"), D("1.88"), D("11.78"))
    assert period.payment.status == Payment.Status.CAPTURED
    assert period.payment.amount_captured == D("11.78")
    assert period.payment.idempotency_key == f"evb-plan-{subscription.pk}-20260131-1"
    invoice = period.invoice
    assert (invoice.kind, invoice.state, invoice.total_incl_vat) == ("plan_fee", "paid", D("11.78"))
    assert invoice.payment_reference == period.payment.stripe_payment_intent_id
    assert BillingAccount.objects.get(driver=subscriber).payment_mode == "subscription"


def test_subscribing_in_the_operator_time_zone_anchors_on_the_local_day(subscriber, plan):
    subscription = _subscribe(subscriber, plan, datetime(2026, 1, 31, 23, 30, tzinfo=UTC))  # Feb 1, 00:30 Berlin
    assert (subscription.current_period_start, subscription.anchor_day) == (date(2026, 2, 1), 1)
    assert subscription.periods.get().starts_at == _berlin(2026, 2, 1)


def test_renewal_is_due_at_local_midnight_of_the_period_end_and_runs_once(subscriber, plan):
    subscription = _subscribe(subscriber, plan, _berlin(2026, 1, 31, 12))
    assert plans.subscriptions_renew_due(now=_berlin(2026, 2, 27, 23, 59)) == 0
    now = _berlin(2026, 2, 28, 0, 1)  # Feb 27, 23:01 UTC
    assert plans.subscriptions_renew_due(now=now) == 1
    assert plans.subscriptions_renew_due(now=now) == 0
    assert plans.subscription_renew(subscription_id=subscription.pk, now=now) is None
    periods = list(subscription.periods.order_by("period_start"))
    assert [(p.period_start, p.period_end, p.status) for p in periods] == [
        (date(2026, 1, 31), date(2026, 2, 28), "paid"), (date(2026, 2, 28), date(2026, 3, 31), "paid")]
    assert periods[1].ends_at == _berlin(2026, 3, 31)
    assert Payment.objects.filter(driver=subscriber, status="captured").count() == 2
    assert Invoice.objects.filter(driver=subscriber, kind="plan_fee").count() == 2


def test_a_missed_beat_catches_up_every_period_once(subscriber, plan):
    subscription = _subscribe(subscriber, plan, _berlin(2028, 1, 31, 12))
    plans.subscriptions_renew_due(now=_berlin(2028, 4, 2))
    assert list(subscription.periods.order_by("period_start").values_list("period_start", flat=True)) == [
        date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]


def test_yearly_plan_renews_after_twelve_months_on_a_leap_day(subscriber, operator, connector):
    yearly = make_plan(operator, name="Year", period="yearly", fee_excl_vat=D("99.00"))
    subscription = _subscribe(subscriber, yearly, _berlin(2028, 2, 29, 9))
    assert subscription.current_period_end == date(2029, 2, 28)
    assert plans.subscriptions_renew_due(now=_berlin(2029, 2, 27, 23)) == 0
    assert plans.subscriptions_renew_due(now=_berlin(2029, 2, 28, 1)) == 1
    subscription.refresh_from_db()
    assert subscription.current_period_end == date(2030, 2, 28)


def test_plan_change_takes_effect_at_the_next_period(subscriber, plan, operator):
    bigger = make_plan(operator, name="Max", fee_excl_vat=D("19.90"), included_kwh=D(200))
    subscription = _subscribe(subscriber, plan, _berlin(2026, 3, 10, 12))
    plans.plan_change(subscription=subscription, plan=bigger)
    assert subscription.periods.get().plan == plan
    plans.subscriptions_renew_due(now=_berlin(2026, 4, 10, 1))
    subscription.refresh_from_db()
    latest = subscription.periods.latest("period_start")
    assert (subscription.plan, subscription.pending_plan) == (bigger, None)
    assert (latest.plan, latest.fee_incl_vat, latest.included_kwh) == (bigger, D("23.68"), D(200))


def test_cancellation_ends_the_plan_at_period_end_without_charging(subscriber, plan):
    subscription = _subscribe(subscriber, plan, _berlin(2026, 3, 10, 12))
    plans.plan_cancel(subscription=subscription)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.cancel_at_period_end) == ("active", True)
    plans.subscriptions_renew_due(now=_berlin(2026, 4, 9, 23))
    assert Subscription.objects.get(pk=subscription.pk).status == "active"
    plans.subscriptions_renew_due(now=_berlin(2026, 4, 10, 0, 5))
    subscription.refresh_from_db()
    assert subscription.status == "canceled"
    assert subscription.periods.count() == 1
    assert Payment.objects.filter(driver=subscriber).count() == 1
    assert BillingAccount.objects.get(driver=subscriber).payment_mode == "payg"


def test_a_declined_card_at_subscription_subscribes_nobody(stripe_server, operator, plan):
    driver = payg_driver(operator, card="pm_card_chargeCustomerFail")
    with pytest.raises(plans.PlanError, match="declined"):
        _subscribe(driver, plan, _berlin(2026, 3, 10, 12))
    assert not Subscription.objects.filter(driver=driver, status__in=Subscription.LIVE).exists()
    assert BillingAccount.objects.get(driver=driver).payment_mode == "payg"
    assert Payment.objects.get(driver=driver).status == "failed"


def _decline_from_now_on(driver, subscription):
    failing = payment_method_add(driver=driver, payment_method_id="pm_card_chargeCustomerFail")
    Subscription.objects.filter(pk=subscription.pk).update(payment_method_id=failing.id)


def test_decline_retries_after_1_3_7_days_then_suspends_and_paying_reactivates(
        subscriber, plan, django_capture_on_commit_callbacks):
    subscription = _subscribe(subscriber, plan, _berlin(2026, 3, 10, 12))
    _decline_from_now_on(subscriber, subscription)
    renewal = _berlin(2026, 4, 10, 0, 5)
    with django_capture_on_commit_callbacks(execute=True):
        plans.subscriptions_renew_due(now=renewal)
    period = subscription.periods.latest("period_start")
    assert (period.status, period.attempts, period.next_attempt_at) == ("failed", 1, renewal + timedelta(days=1))
    assert Subscription.objects.get(pk=subscription.pk).status == "past_due"
    assert len(mail.outbox) == 1 and "failed" in mail.outbox[0].subject

    for day, attempts in ((1, 2), (3, 3)):
        with django_capture_on_commit_callbacks(execute=True):
            assert plans.subscriptions_renew_due(now=renewal + timedelta(days=day, minutes=-1)) == 0
            plans.subscriptions_renew_due(now=renewal + timedelta(days=day))
        period.refresh_from_db()
        assert (period.status, period.attempts) == ("failed", attempts)
    assert period.next_attempt_at == renewal + timedelta(days=7)
    assert "We will try again on 17 Apr 2026" in mail.outbox[-1].body  # the operator's date, the reader's form
    subscriber.language = "de"  # the driver's e-mails follow the language on their account
    subscriber.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        plans.subscriptions_renew_due(now=renewal + timedelta(days=7))
    period.refresh_from_db()
    subscription.refresh_from_db()
    assert (period.attempts, period.next_attempt_at, subscription.status) == (4, None, "suspended")
    assert BillingAccount.objects.get(driver=subscriber).payment_mode == "payg"
    assert len(mail.outbox) == 4 and mail.outbox[-1].subject == f"Ihr Tarif {plan.name} ist ausgesetzt"
    assert "Der Tarif ist ausgesetzt" in mail.outbox[-1].body
    assert plans.subscriptions_renew_due(now=renewal + timedelta(days=30)) == 0
    keys = set(Payment.objects.filter(driver=subscriber).values_list("idempotency_key", flat=True))
    assert len(keys) == 5  # the first period and four attempts at the second, each its own key

    visa = _card(subscriber)
    paid = plans.subscription_pay_now(subscription=subscription, payment_method_id=visa,
                                      now=renewal + timedelta(days=9))
    subscription.refresh_from_db()
    assert (paid.status, paid.invoice.state, subscription.status) == ("paid", "paid", "active")
    assert BillingAccount.objects.get(driver=subscriber).payment_mode == "subscription"


def test_a_retry_that_succeeds_ends_dunning(subscriber, plan):
    subscription = _subscribe(subscriber, plan, _berlin(2026, 3, 10, 12))
    _decline_from_now_on(subscriber, subscription)
    renewal = _berlin(2026, 4, 10, 0, 5)
    plans.subscriptions_renew_due(now=renewal)
    Subscription.objects.filter(pk=subscription.pk).update(
        payment_method_id=_card(subscriber))
    plans.subscriptions_renew_due(now=renewal + timedelta(days=1))
    period = subscription.periods.latest("period_start")
    assert (period.status, period.attempts) == ("paid", 2)
    assert Subscription.objects.get(pk=subscription.pk).status == "active"
    assert Payment.objects.filter(driver=subscriber, status="captured").count() == 2


def test_postpaid_plan_fee_goes_on_the_monthly_statement_once(stripe_server, operator, plan):
    driver = payg_driver(operator, mode=BillingAccount.PaymentMode.POSTPAID)
    subscription = _subscribe(driver, plan, _berlin(2026, 3, 10, 12))
    period = subscription.periods.get()
    assert (period.status, period.payment) == (SubscriptionPeriod.Status.STATEMENT, None)
    account = BillingAccount.objects.get(driver=driver)
    assert account.payment_mode == "postpaid"
    statement = statement_create(account_id=account.pk, period=date(2026, 3, 1), now=_berlin(2026, 4, 1, 2))
    fee = statement.lines.get(kind="PLAN_FEE")
    assert (fee.amount_excl_vat, fee.vat_amount, statement.total_incl_vat) == (D("9.90"), D("1.88"), D("11.78"))
    april = statement_create(account_id=account.pk, period=date(2026, 4, 1), now=_berlin(2026, 5, 1, 2))
    assert april is None


def test_stripe_unreachable_leaves_the_period_pending_and_the_rerun_charges_it_once(subscriber, plan, monkeypatch):
    from billing_app.payments import services as payments
    from billing_app.payments import stripe_client

    subscription = _subscribe(subscriber, plan, _berlin(2026, 3, 10, 12))
    real_advance = payments.payment_advance

    def unreachable(**kwargs):
        raise stripe_client.StripeUnavailable("down")

    monkeypatch.setattr(payments, "payment_advance", unreachable)
    now = _berlin(2026, 4, 10, 0, 5)
    plans.subscriptions_renew_due(now=now)
    period = subscription.periods.latest("period_start")
    assert (period.status, period.payment.status) == ("pending", "pending")
    monkeypatch.setattr(payments, "payment_advance", real_advance)
    plans.subscriptions_renew_due(now=now + timedelta(minutes=15))
    plans.subscriptions_renew_due(now=now + timedelta(minutes=30))
    period.refresh_from_db()
    assert (period.status, period.attempts) == ("paid", 1)
    assert Payment.objects.filter(driver=subscriber, status="captured").count() == 2
