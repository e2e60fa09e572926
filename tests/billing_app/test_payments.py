"""Pay-as-you-go against a real localstripe: the hold at authorization, capture at settlement (partial,
zero, above the hold), declines, and Stripe being down."""
from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone

from billing_app.models import BillingAccount, Payment, PaymentCustomer, SessionCharge
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add
from sessions_app import services as session_services
from tests import factories
from tests.billing_app.payment_fixtures import declining_card, payg_driver, payg_session_stopped

pytestmark = pytest.mark.django_db
DOWN = "http://127.0.0.1:9"  # nothing listens there: connection refused, as when Stripe is unreachable


def _intent(payment: Payment) -> dict:
    return stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)


def _authorize(payg_station, driver):
    token = factories.IdTokenFactory(operator=payg_station.location.operator, driver=driver)
    return token, session_services.token_authorize(station=payg_station, uid=token.uid)


def _charge(payg_station, token, *, kwh: str, capture):
    """A session of `kwh` on the payg_station's connector, stopped (settlement and payment run on commit)."""
    return payg_session_stopped(payg_station, token, ref=f"tx-{token.pk}", kwh=kwh, meter_start="1000",
                                capture=capture)


def test_hold_is_sized_from_the_tariff_max_price(stripe_server, operator, payg_station, payg_tariff):
    token, authorization = _authorize(payg_station, payg_driver(operator))
    assert authorization.accepted
    hold = Payment.objects.get(id_token=token)
    assert (hold.kind, hold.status, hold.amount_authorized) == ("session_hold", "authorized", Decimal("30.00"))
    intent = _intent(hold)
    assert (intent["status"], intent["amount"], intent["capture_method"]) == ("requires_capture", 3000, "manual")
    assert intent["metadata"]["evbilling_payment"] == str(hold.pk)


def test_hold_defaults_to_the_setting_without_a_max_price(stripe_server, settings, operator, payg_station):
    settings.PAYMENT_HOLD_DEFAULT = Decimal("50")
    factories.energy_tariff(operator)
    token, authorization = _authorize(payg_station, payg_driver(operator))
    assert authorization.accepted
    assert Payment.objects.get(id_token=token).amount_authorized == Decimal("50.00")


def test_declined_card_refuses_the_token_and_keeps_the_reason(stripe_server, operator, payg_station, payg_tariff):
    token, authorization = _authorize(payg_station, payg_driver(operator, card="pm_card_chargeCustomerFail"))
    assert (authorization.status, authorization.reason) == ("Blocked", "card_declined")
    hold = Payment.objects.get(id_token=token)
    assert (hold.status, hold.failure_code, hold.amount_authorized) == ("failed", "card_declined", Decimal(0))
    assert hold.failure_message == "Your card was declined."


def test_declining_test_card_is_not_saved_so_the_token_is_refused(stripe_server, operator, payg_station, payg_tariff):
    """4000 0000 0000 0002 is declined when it is attached (localstripe, like Stripe, checks it there)."""
    driver = payg_driver(operator, card=None)
    with pytest.raises(stripe_client.PaymentDeclined):
        payment_method_add(driver=driver, payment_method_id=declining_card())
    assert PaymentCustomer.objects.get(driver=driver).default_payment_method_id == ""
    _token, authorization = _authorize(payg_station, driver)
    assert (authorization.status, authorization.reason) == ("Blocked", "no_payment_method")


def test_missing_payment_method_refuses_the_token(stripe_server, operator, payg_station, payg_tariff):
    token, authorization = _authorize(payg_station, payg_driver(operator, card=None))
    assert (authorization.status, authorization.reason) == ("Blocked", "no_payment_method")
    assert Payment.objects.get(id_token=token).stripe_payment_intent_id is None


@pytest.mark.parametrize("mode", [BillingAccount.PaymentMode.POSTPAID, BillingAccount.PaymentMode.SUBSCRIPTION])
def test_postpaid_and_subscription_drivers_are_accepted_without_a_hold(stripe_server, operator, payg_station,
                                                                       payg_tariff, mode):
    _token, authorization = _authorize(payg_station, payg_driver(operator, card=None, mode=mode))
    assert authorization.accepted
    assert not Payment.objects.exists()


def test_authorize_then_start_holds_once(stripe_server, operator, payg_station, payg_tariff):
    token, _ = _authorize(payg_station, payg_driver(operator))
    again = session_services.token_authorize(station=payg_station, uid=token.uid)
    assert again.accepted
    assert Payment.objects.filter(id_token=token).count() == 1


def test_settlement_captures_the_priced_amount_from_the_hold(stripe_server, operator, payg_station, payg_tariff,
                                                             django_capture_on_commit_callbacks):
    token, _ = _authorize(payg_station, payg_driver(operator))
    session = _charge(payg_station, token, kwh="11", capture=django_capture_on_commit_callbacks)
    charge = SessionCharge.objects.get(session=session)
    assert charge.total_incl_vat == Decimal("5.11")  # 11 kWh x 0.39 = 4.29 + 19 % VAT 0.82
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_authorized, hold.amount_captured) == ("captured", Decimal("30.00"),
                                                                           Decimal("5.11"))
    intent = _intent(hold)
    assert intent["status"] == "succeeded"
    charge_at_stripe = intent["charges"]["data"][0]
    # localstripe models a partial capture as a full charge with the rest refunded at once
    assert charge_at_stripe["amount"] - charge_at_stripe["amount_refunded"] == 511
    assert [e.note for e in hold.events.all()] == [
        "hold of 30.00 EUR requested", "held at Stripe", f"claimed by session {session.pk}",
        "session priced at 5.11 EUR", "captured 5.11 EUR"]


def test_zero_cost_session_releases_the_hold(stripe_server, operator, payg_station, payg_tariff,
                                             django_capture_on_commit_callbacks):
    token, _ = _authorize(payg_station, payg_driver(operator))
    session = _charge(payg_station, token, kwh="0", capture=django_capture_on_commit_callbacks)
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("canceled", Decimal(0))
    assert _intent(hold)["status"] == "canceled"


def test_cost_above_the_hold_is_charged_off_session(stripe_server, settings, operator, payg_station,
                                                    django_capture_on_commit_callbacks):
    settings.PAYMENT_HOLD_DEFAULT = Decimal("5")
    factories.energy_tariff(operator)  # no max price: the default hold
    token, _ = _authorize(payg_station, payg_driver(operator))
    session = _charge(payg_station, token, kwh="22", capture=django_capture_on_commit_callbacks)
    assert SessionCharge.objects.get(session=session).total_incl_vat == Decimal("10.21")  # 8.58 + 1.63
    hold = Payment.objects.get(session=session, kind="session_hold")
    extra = Payment.objects.get(session=session, kind="session_extra")
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.00"))
    assert (extra.status, extra.amount_captured, extra.idempotency_key) == (
        "captured", Decimal("5.21"), f"evb-session-{session.pk}-extra")
    intent = _intent(extra)
    assert (intent["status"], intent["amount"], intent["capture_method"]) == ("succeeded", 521, "automatic")


def test_settling_twice_captures_once(stripe_server, operator, payg_station, payg_tariff,
                                      django_capture_on_commit_callbacks):
    token, _ = _authorize(payg_station, payg_driver(operator))
    session = _charge(payg_station, token, kwh="11", capture=django_capture_on_commit_callbacks)
    before = list(Payment.objects.values_list("pk", "status", "amount_captured"))
    events = Payment.objects.get(session=session).events.count()
    payments.session_payment_settle(session_id=session.pk)
    payments.payments_settle_pending()
    assert list(Payment.objects.values_list("pk", "status", "amount_captured")) == before
    assert Payment.objects.get(session=session).events.count() == events


def test_unused_hold_is_released_by_the_maintenance_task(stripe_server, operator, payg_station, payg_tariff):
    token, _ = _authorize(payg_station, payg_driver(operator))
    assert payments.payment_holds_maintain(now=timezone.now() + timedelta(hours=1)) == 1
    hold = Payment.objects.get(id_token=token)
    assert hold.status == "canceled"
    assert _intent(hold)["status"] == "canceled"


def test_ageing_hold_of_a_running_session_is_renewed(stripe_server, operator, payg_station, payg_tariff):
    token, _ = _authorize(payg_station, payg_driver(operator))
    session = session_services.session_start(connector=payg_station.connectors.first(), id_token=token,
                                             started_at=timezone.now(), meter_start_wh=Decimal(0),
                                             transaction_ref="long")
    old = Payment.objects.get(id_token=token)
    Payment.objects.filter(pk=old.pk).update(session=session)
    payments.payment_holds_maintain(now=timezone.now() + timedelta(days=6))
    old.refresh_from_db()
    renewed = Payment.objects.get(session=session, status="authorized")
    assert old.status == "canceled"
    assert renewed.pk != old.pk and renewed.amount_authorized == Decimal("30.00")
    assert _intent(renewed)["status"] == "requires_capture"


# --- Stripe down ------------------------------------------------------------------------------------

def test_stripe_down_at_authorization_leaves_the_hold_pending_and_accepts(settings, stripe_server, operator,
                                                                          payg_station, payg_tariff):
    driver = payg_driver(operator)  # card saved while Stripe was up
    settings.STRIPE_API_HOST = DOWN
    token, authorization = _authorize(payg_station, driver)
    assert authorization.accepted
    hold = Payment.objects.get(id_token=token)
    assert (hold.status, hold.stripe_payment_intent_id) == ("pending", None)


def test_stripe_down_at_authorization_refuses_when_configured(settings, stripe_server, operator, payg_station,
                                                              payg_tariff):
    settings.PAYMENT_ACCEPT_WHEN_STRIPE_DOWN = False
    driver = payg_driver(operator)
    settings.STRIPE_API_HOST = DOWN
    _token, authorization = _authorize(payg_station, driver)
    assert (authorization.status, authorization.reason) == ("Blocked", "payment_failed")


def test_stripe_down_at_settlement_loses_nothing_and_charges_once(settings, stripe_server, operator, payg_station,
                                                                  payg_tariff, django_capture_on_commit_callbacks):
    token, _ = _authorize(payg_station, payg_driver(operator))
    up = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = DOWN
    session = _charge(payg_station, token, kwh="11", capture=django_capture_on_commit_callbacks)
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_due, hold.amount_captured) == ("authorized", Decimal("5.11"), Decimal(0))
    with pytest.raises(stripe_client.StripeUnavailable):
        payments.session_payment_settle(session_id=session.pk)
    assert payments.payments_settle_pending() == 1  # tried, still down, nothing changed
    assert Payment.objects.get(pk=hold.pk).status == "authorized"

    settings.STRIPE_API_HOST = up  # Stripe is back: the beat sweep settles it, once
    payments.payments_settle_pending()
    payments.payments_settle_pending()
    hold.refresh_from_db()
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.11"))
    assert Payment.objects.count() == 1
    assert _intent(hold)["status"] == "succeeded"


def test_hold_pending_through_the_session_is_placed_and_captured_when_stripe_returns(
        settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    driver = payg_driver(operator)
    up = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = DOWN
    token, authorization = _authorize(payg_station, driver)
    assert authorization.accepted
    session = _charge(payg_station, token, kwh="11", capture=django_capture_on_commit_callbacks)
    settings.STRIPE_API_HOST = up
    payments.payments_settle_pending()
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_authorized, hold.amount_captured) == ("captured", Decimal("30.00"),
                                                                           Decimal("5.11"))


def test_a_lost_capture_answer_is_found_at_stripe_not_repeated(stripe_server, operator, payg_station, payg_tariff):
    token, _ = _authorize(payg_station, payg_driver(operator))
    hold = Payment.objects.get(id_token=token)
    stripe.PaymentIntent.capture(hold.stripe_payment_intent_id, amount_to_capture=511, api_key="sk_test_" + "x" * 24)
    Payment.objects.filter(pk=hold.pk).update(amount_due=Decimal("5.11"))  # we never heard back
    payments.payment_advance(payment_id=hold.pk)
    hold.refresh_from_db()
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.11"))


def test_a_hold_claimed_by_a_lost_task_is_captured_by_the_sweep(stripe_server, operator, payg_station, payg_tariff,
                                                                django_capture_on_commit_callbacks):
    """The worker died between claiming the hold and recording what to capture: the sweep finishes it."""
    from billing_app.settlement import services

    token, _ = _authorize(payg_station, payg_driver(operator))
    start = timezone.now() - timedelta(hours=2)
    session = session_services.session_start(connector=payg_station.connectors.first(), id_token=token,
                                              started_at=start, meter_start_wh=Decimal(0), transaction_ref="tx-lost")
    with django_capture_on_commit_callbacks(execute=False):  # the queued settlement is lost
        session_services.session_stop(session=session, stopped_at=start + timedelta(hours=1),
                                      meter_stop_wh=Decimal(11000))
    services.session_settle(session_id=session.pk)
    hold = payments._claim_hold(session)  # ...then the task died
    assert (hold.session_id, hold.amount_due, hold.status) == (session.pk, None, "authorized")
    payments.payments_settle_pending()
    hold.refresh_from_db()
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.11"))
    assert payments.payments_settle_pending() == 0
