"""REST API for payments, plans and the driver's subscription: each payment with what was held, captured
and refunded and why it failed, scoped to its driver and operator (someone else's is a 404), filters with
400s for bad values; plans a driver may choose; the live subscription or a 404."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing_app.models import Payment, Plan, Refund, Subscription, SubscriptionPeriod
from tests import factories
from tests.evbilling.api_fixtures import T0, api_for, assert_error

D = Decimal


def _payment(driver, session, *, status, key, **amounts):
    return Payment.objects.create(operator=driver.operator, driver=driver, session=session,
                                  kind=Payment.Kind.SESSION_HOLD, status=status, currency="EUR",
                                  idempotency_key=key, **amounts)


@pytest.fixture
def payments(driver, other_driver, other_operator):
    """The driver's captured and partly refunded payment, a failed one of another driver of the same
    operator, and one of a driver of another operator."""
    own_session = factories.ChargingSessionFactory(connector__station__location__operator=driver.operator,
                                                   id_token__driver=driver, driver=driver)
    own = _payment(driver, own_session, status=Payment.Status.CAPTURED, key="own", amount_requested=D("50.00"),
                   amount_authorized=D("50.00"), amount_captured=D("12.34"), amount_refunded=D("2.00"))
    Refund.objects.create(payment=own, amount=D("2.00"), reason="Goodwill", idempotency_key="r-own",
                          status=Refund.Status.SUCCEEDED)
    failed = _payment(other_driver, None, status=Payment.Status.FAILED, key="failed",
                      amount_requested=D("50.00"), failure_code="card_declined",
                      failure_message="Your card was declined.")
    foreign_driver = factories.DriverFactory(operator=other_operator)
    foreign = _payment(foreign_driver, None, status=Payment.Status.AUTHORIZED, key="foreign",
                       amount_requested=D("30.00"), amount_authorized=D("30.00"))
    return own, failed, foreign


def test_driver_sees_what_was_held_captured_and_refunded_for_their_session(driver, payments):
    own = payments[0]
    body = api_for(driver).get("/api/v1/payments/").json()
    assert body["count"] == 1
    payment = body["results"][0]
    assert (payment["id"], payment["session"], payment["status"]) == (own.pk, own.session_id, "captured")
    assert (payment["amount_held"], payment["amount_captured"], payment["amount_refunded"]) == (
        "50.00", "12.34", "2.00")
    assert [(r["amount"], r["status"]) for r in payment["refunds"]] == [("2.00", "succeeded")]
    assert "stripe_payment_intent_id" not in payment


def test_failed_payment_says_why(other_driver, payments):
    payment = api_for(other_driver).get(f"/api/v1/payments/{payments[1].pk}/").json()
    assert (payment["status"], payment["failure_code"], payment["failure_reason"]) == (
        "failed", "card_declined", "Your card was declined.")


def test_staff_see_their_operators_payments_only(staff, support, foreign_staff, payments):
    own, failed, foreign = payments
    for user in (staff, support):
        assert {p["id"] for p in api_for(user).get("/api/v1/payments/").json()["results"]} == {own.pk, failed.pk}
    assert [p["id"] for p in api_for(foreign_staff).get("/api/v1/payments/").json()["results"]] == [foreign.pk]


@pytest.mark.parametrize("who", ["other_driver", "foreign_staff"])
def test_someone_elses_payment_is_not_found(request, who, payments):
    assert_error(api_for(request.getfixturevalue(who)).get(f"/api/v1/payments/{payments[0].pk}/"), 404)


def test_anonymous_gets_401(db):
    assert_error(APIClient().get("/api/v1/payments/"), 401)


def test_payment_filters_and_bad_values(staff, payments):
    own, failed, _ = payments
    client = api_for(staff)
    assert [p["id"] for p in client.get("/api/v1/payments/", {"session": own.session_id}).json()["results"]] == [
        own.pk]
    assert [p["id"] for p in client.get("/api/v1/payments/", {"status": "failed"}).json()["results"]] == [failed.pk]
    assert_error(client.get("/api/v1/payments/", {"status": "lost"}), 400, field="status")
    assert_error(client.get("/api/v1/payments/", {"session": "one"}), 400, field="session")


@pytest.fixture
def plans(operator, other_operator):
    basic = Plan.objects.create(operator=operator, name="Basic", fee_excl_vat=D("9.00"), vat_rate=D("19"),
                                currency="EUR", included_kwh=D("50"))
    retired = Plan.objects.create(operator=operator, name="Retired", fee_excl_vat=D("5.00"), currency="EUR",
                                  active=False)
    foreign = Plan.objects.create(operator=other_operator, name="Abroad", fee_excl_vat=D("7.00"), currency="GBP")
    return basic, retired, foreign


def test_driver_sees_their_operators_active_plans_and_staff_all_of_theirs(driver, staff, foreign_staff, plans):
    basic, retired, foreign = plans
    offered = api_for(driver).get("/api/v1/plans/").json()["results"]
    assert [(p["id"], p["fee_excl_vat"], p["included_kwh"]) for p in offered] == [(basic.pk, "9.00", "50.000")]
    assert {p["id"] for p in api_for(staff).get("/api/v1/plans/").json()["results"]} == {basic.pk, retired.pk}
    assert_error(api_for(foreign_staff).get(f"/api/v1/plans/{basic.pk}/"), 404)
    assert_error(api_for(driver).get(f"/api/v1/plans/{foreign.pk}/"), 404)


def test_subscription_is_the_drivers_live_one_with_its_period(driver, other_driver, staff, plans):
    basic = plans[0]
    start = date(2026, 3, 2)
    subscription = Subscription.objects.create(driver=driver, plan=basic, anchor_day=2, current_period_start=start,
                                               current_period_end=date(2026, 4, 2))
    SubscriptionPeriod.objects.create(subscription=subscription, plan=basic, period_start=start,
                                      period_end=date(2026, 4, 2), starts_at=T0, ends_at=T0 + timedelta(days=31),
                                      status="paid", currency="EUR", fee_excl_vat=D("9.00"), fee_vat=D("1.71"),
                                      fee_incl_vat=D("10.71"), included_kwh=D("50"), used_kwh=D("12.5"))
    body = api_for(driver).get("/api/v1/subscription/").json()
    assert (body["id"], body["status"], body["plan"]["name"]) == (subscription.pk, "active", "Basic")
    assert (body["current_period"]["fee_incl_vat"], body["current_period"]["used_kwh"]) == ("10.71", "12.500")
    for nobody in (other_driver, staff):
        assert_error(api_for(nobody).get("/api/v1/subscription/"), 404)
    subscription.status = Subscription.Status.CANCELED
    subscription.save()
    assert_error(api_for(driver).get("/api/v1/subscription/"), 404)
    assert_error(APIClient().get("/api/v1/subscription/"), 401)
