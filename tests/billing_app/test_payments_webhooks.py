"""Stripe webhooks through dj-stripe's real endpoint, correctly signed: verified, recorded, applied once,
in any order; events for PaymentIntents we did not create are ignored."""
from decimal import Decimal

import pytest

from billing_app.models import Payment, PaymentEvent
from billing_app.payments import services as payments
from billing_app.payments import stripe_events
from sessions_app import services as session_services
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver, post_webhook, sign, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def hold(stripe_server, operator, payg_station, payg_tariff):
    token = factories.IdTokenFactory(operator=operator, driver=payg_driver(operator))
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    return Payment.objects.get(id_token=token)


@pytest.fixture
def deliver(client, webhook_endpoint, django_capture_on_commit_callbacks):
    def post(event_id, event_type, obj, *, signature=None):
        body = stripe_event(event_id, event_type, obj)
        with django_capture_on_commit_callbacks(execute=True):
            response = post_webhook(client, webhook_endpoint, body, signature=signature)
        return response
    return post


def _dispute(hold, status="needs_response"):
    return {"id": "dp_test1", "object": "dispute", "amount": 511, "currency": "eur", "charge": "ch_test1",
            "payment_intent": hold.stripe_payment_intent_id, "reason": "fraudulent", "status": status}


def test_unsigned_or_badly_signed_events_are_refused(deliver, hold):
    response = deliver("evt_bad", "charge.dispute.created", _dispute(hold), signature=sign("{}", secret="whsec_x"))
    assert response.status_code == 400
    assert not PaymentEvent.objects.filter(stripe_event_id="evt_bad").exists()
    assert Payment.objects.get(pk=hold.pk).dispute_status == ""


def test_dispute_opened_is_stored_and_announced_once(deliver, hold):
    announced = []
    payments.payment_dispute_changed.connect(lambda sender, **kw: announced.append(kw["status"]), weak=False,
                                             dispatch_uid="test-dispute")
    try:
        for _ in range(2):  # Stripe delivers at least once: the replay changes nothing
            assert deliver("evt_dispute_1", "charge.dispute.created", _dispute(hold)).status_code == 200
    finally:
        payments.payment_dispute_changed.disconnect(dispatch_uid="test-dispute")
    hold.refresh_from_db()
    assert (hold.dispute_status, hold.stripe_dispute_id) == ("open", "dp_test1")
    assert PaymentEvent.objects.filter(stripe_event_id="evt_dispute_1").count() == 1
    assert announced == ["open"]


def test_dispute_closed_before_created_stays_closed(deliver, hold):
    deliver("evt_closed", "charge.dispute.closed", _dispute(hold, "lost"))
    deliver("evt_created", "charge.dispute.created", _dispute(hold))
    hold.refresh_from_db()
    assert hold.dispute_status == "lost"


def test_succeeded_then_late_capturable_update_keeps_captured(deliver, hold):
    intent = {"id": hold.stripe_payment_intent_id, "object": "payment_intent", "amount": 3000,
              "amount_received": 1200, "amount_capturable": 0, "currency": "eur", "status": "succeeded",
              "metadata": {"evbilling_payment": str(hold.pk)}}
    deliver("evt_succeeded", "payment_intent.succeeded", intent)
    deliver("evt_capturable", "payment_intent.amount_capturable_updated",
            {**intent, "status": "requires_capture", "amount_capturable": 3000})
    deliver("evt_canceled", "payment_intent.canceled", {**intent, "status": "canceled"})
    hold.refresh_from_db()
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("12.00"))
    assert PaymentEvent.objects.filter(stripe_event_id__in=["evt_capturable", "evt_canceled"],
                                       note__endswith="no change").count() == 2


def test_payment_failed_event_fails_an_open_hold_with_the_reason(deliver, hold):
    intent = {"id": hold.stripe_payment_intent_id, "object": "payment_intent", "amount": 3000, "currency": "eur",
              "status": "requires_payment_method", "metadata": {"evbilling_payment": str(hold.pk)},
              "last_payment_error": {"code": "card_declined", "message": "Your card was declined."}}
    deliver("evt_failed", "payment_intent.payment_failed", intent)
    hold.refresh_from_db()
    assert (hold.status, hold.failure_code) == ("failed", "card_declined")


def test_refund_made_outside_evbilling_is_counted_never_beyond_captured(deliver, hold):
    Payment.objects.filter(pk=hold.pk).update(status="captured", amount_captured=Decimal("5.11"))
    charge = {"id": "ch_test1", "object": "charge", "amount": 3000, "amount_captured": 511, "currency": "eur",
              "payment_intent": hold.stripe_payment_intent_id}
    deliver("evt_refund_1", "charge.refunded", {**charge, "amount_refunded": 200})
    deliver("evt_refund_0", "charge.refunded", {**charge, "amount_refunded": 100})  # older, late
    hold.refresh_from_db()
    assert hold.amount_refunded == Decimal("2.00")
    deliver("evt_refund_2", "charge.refunded", {**charge, "amount_refunded": 9999})
    hold.refresh_from_db()
    assert hold.amount_refunded == Decimal("5.11")


def test_events_for_payment_intents_we_did_not_create_are_ignored(deliver, hold):
    foreign = {"id": "pi_notours", "object": "payment_intent", "amount": 100, "currency": "eur",
               "status": "canceled", "metadata": {}}
    assert deliver("evt_foreign", "payment_intent.canceled", foreign).status_code == 200
    assert not PaymentEvent.objects.filter(stripe_event_id="evt_foreign").exists()
    assert Payment.objects.get(pk=hold.pk).status == "authorized"


def test_event_before_our_row_is_visible_is_retried_then_applied(hold):
    intent = {"id": "pi_early", "object": "payment_intent", "amount": 3000, "amount_capturable": 3000,
              "currency": "eur", "status": "requires_capture", "metadata": {"evbilling_payment": "999999"}}
    with pytest.raises(stripe_events.PaymentNotVisibleYet):
        stripe_events.payment_webhook_apply(event_id="evt_early", event_type="payment_intent.amount_capturable_updated",
                                       obj=intent)
    late = Payment.objects.create(operator=hold.operator, driver=hold.driver, kind="session_hold", currency="EUR",
                                  amount_requested=Decimal("30.00"), idempotency_key="late-row", pk=999999)
    stripe_events.payment_webhook_apply(event_id="evt_early", event_type="payment_intent.amount_capturable_updated",
                                   obj=intent)
    late.refresh_from_db()
    assert (late.status, late.amount_authorized, late.stripe_payment_intent_id) == (
        "authorized", Decimal("30.00"), "pi_early")


def test_stripe_local_setup_is_idempotent_and_registers_the_webhook(stripe_server):
    from django.core.management import call_command
    from djstripe.models import APIKey, WebhookEndpoint

    call_command("stripe_local_setup", "--base-url", "http://127.0.0.1:8000")
    call_command("stripe_local_setup", "--base-url", "http://127.0.0.1:8000")
    assert WebhookEndpoint.objects.count() == 1 and APIKey.objects.count() == 1


def test_operator_staff_see_only_their_payments_in_the_admin(client, hold, other_operator):
    from tests import factories as f

    client.force_login(f.OperatorStaffFactory(operator=hold.operator))
    assert client.get(f"/admin/billing_app/payment/{hold.pk}/change/").status_code == 200
    client.force_login(f.OperatorStaffFactory(operator=other_operator))
    assert client.get(f"/admin/billing_app/payment/{hold.pk}/change/").status_code in (302, 404)
