"""Events are emitted in the transaction of what happened: to the operator's own active endpoints that
subscribe to the type, never to another operator's, nothing when nobody listens or the change rolls
back, and a webhook failure never breaks the business operation."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_app import invoicing
from billing_app.models import Payment
from billing_app.payments.stripe_events import payment_webhook_apply
from sessions_app import services as session_services
from sessions_app.models import ChargingSession
from tests.billing_app.invoice_fixtures import account, charged_session
from tests.disputes_app.conftest import OPENED, T0, move
from tests.webhooks_app.conftest import make_endpoint
from webhooks_app import attempts, services
from webhooks_app.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

pytestmark = pytest.mark.django_db
D = Decimal


def received(receiver, event_type=None):
    return [r for r in receiver.requests if event_type is None or r.json["type"] == event_type]


# --- fan-out -------------------------------------------------------------------------------------

def test_fan_out_reaches_only_the_operators_active_subscribed_endpoints(operator, other_operator, receiver,
                                                                        django_capture_on_commit_callbacks):
    everything = make_endpoint(operator, f"{receiver.url}/all")
    invoices = make_endpoint(operator, f"{receiver.url}/invoices", event_types=["invoice.issued"])
    make_endpoint(operator, f"{receiver.url}/disputes", event_types=["dispute.opened"])
    make_endpoint(operator, f"{receiver.url}/off", is_active=False)
    make_endpoint(other_operator, f"{receiver.url}/other-operator")
    with django_capture_on_commit_callbacks(execute=True):
        event = services.webhook_event_emit(operator=operator, type="invoice.issued", payload={"invoice": {"id": 1}})
    assert set(event.deliveries.values_list("endpoint", flat=True)) == {everything.pk, invoices.pk}
    assert sorted(r.path for r in receiver.requests) == ["/all", "/invoices"]
    assert all(r.json["operator_id"] == operator.pk for r in receiver.requests)


def test_another_operators_event_never_reaches_this_operators_endpoint(operator, other_operator, endpoint, receiver,
                                                                       django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert services.webhook_event_emit(operator=other_operator, type="session.completed", payload={}) is None
    assert receiver.requests == [] and not WebhookEvent.objects.exists()


def test_nothing_is_stored_when_nobody_listens(operator, receiver):
    make_endpoint(operator, f"{receiver.url}/disputes", event_types=["dispute.opened"])
    assert services.webhook_event_emit(operator=operator, type="session.completed", payload={"x": 1}) is None
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_rolled_back_change_announces_nothing(operator, endpoint, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError), \
            transaction.atomic():
        services.webhook_event_emit(operator=operator, type="session.completed", payload={"x": 1})
        raise RuntimeError("the stop failed")
    assert callbacks == [] and receiver.requests == []
    assert not WebhookEvent.objects.exists() and not WebhookDelivery.objects.exists()


def test_a_batch_of_events_is_emitted_together(operator, other_operator, receiver):
    mine = make_endpoint(operator, f"{receiver.url}/mine")
    theirs = make_endpoint(other_operator, f"{receiver.url}/theirs", event_types=["invoice.issued"])
    events = services.webhook_events_emit(events=[
        services.EventIn(operator_id=operator.pk, type="invoice.issued", payload={"invoice": {"id": 1}}),
        services.EventIn(operator_id=other_operator.pk, type="invoice.issued", payload={"invoice": {"id": 2}}),
        services.EventIn(operator_id=other_operator.pk, type="session.completed", payload={"session": {"id": 3}}),
    ])
    assert [(e.operator_id, e.payload) for e in events] == [(operator.pk, {"invoice": {"id": 1}}),
                                                           (other_operator.pk, {"invoice": {"id": 2}})]
    assert [(d.event.payload, d.endpoint_id) for d in WebhookDelivery.objects.order_by("pk")] == [
        ({"invoice": {"id": 1}}, mine.pk), ({"invoice": {"id": 2}}, theirs.pk)]


# --- the database's invariants -------------------------------------------------------------------

def test_one_delivery_per_event_and_endpoint(operator, endpoint):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now())
    assert event.deliveries.count() == 1


@pytest.mark.parametrize("fields", [
    {"status": "retrying", "attempts": 1, "next_attempt_at": None},
    {"status": "failed", "attempts": 8, "next_attempt_at": timezone.now()},
    {"status": "succeeded", "attempts": 0, "delivered_at": timezone.now(), "next_attempt_at": None},
    {"status": "succeeded", "attempts": 1, "delivered_at": None, "next_attempt_at": None},
    {"status": "lost", "attempts": 1},
])
def test_delivery_states_that_cannot_be(operator, endpoint, fields):
    event = services.webhook_event_emit(operator=operator, type="session.completed", payload={})
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.filter(event=event).update(**fields)


def test_endpoint_url_and_secret_and_event_type_are_checked_by_the_database(operator):
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEndpoint.objects.create(operator=operator, url="ftp://files.example.com/")
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEndpoint.objects.create(operator=operator, url="https://ok.example.com/", secret="")
    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookEvent.objects.create(operator=operator, type="session.exploded", payload={})
    assert not WebhookEndpoint.objects.exists()


# --- end to end: the domain operations emit ------------------------------------------------------

def test_completing_a_session_emits_session_completed(operator, connector, id_token, endpoint, receiver,
                                                      django_capture_on_commit_callbacks):
    started = timezone.now() - timedelta(hours=1)
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=started,
                                             meter_start_wh=D(1000), transaction_ref="tx-webhook")
    with django_capture_on_commit_callbacks(execute=True):
        session_services.session_stop(session=session, stopped_at=started + timedelta(minutes=45),
                                      meter_stop_wh=D(12000))
    [request] = received(receiver, "session.completed")
    data = request.json["data"]["session"]
    assert data["id"] == session.pk and data["state"] == "completed" and data["energy_wh"] == "11000.000"
    assert data["station_identity"] == connector.station.ocpp_identity and data["connector_number"] == 1
    assert data["stopped_at"] == (started + timedelta(minutes=45)).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert data["driver_id"] == id_token.driver_id and request.json["operator_id"] == operator.pk


def test_a_webhook_failure_never_breaks_the_session_stop(monkeypatch, connector, id_token, endpoint, receiver,
                                                         caplog):
    def broken(session):
        list(ChargingSession.objects.raw("SELECT * FROM no_such_table"))  # a failing query, inside the savepoint

    monkeypatch.setattr("webhooks_app.payloads.session_data", broken)
    started = timezone.now() - timedelta(hours=1)
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=started,
                                             meter_start_wh=D(0), transaction_ref="tx-broken")
    stopped = session_services.session_stop(session=session, stopped_at=started + timedelta(minutes=5),
                                            meter_stop_wh=D(500))
    assert ChargingSession.objects.get(pk=stopped.pk).state == "completed"  # the transaction is still usable
    assert not WebhookEvent.objects.exists()
    assert "webhook event session.completed" in caplog.text


def test_issuing_a_receipt_emits_invoice_issued_with_lines_and_amounts(operator, connector, driver, endpoint,
                                                                       receiver, no_delivery,
                                                                       django_capture_on_commit_callbacks):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="11")
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    [request] = received(receiver, "invoice.issued")
    data = request.json["data"]["invoice"]
    assert (data["id"], data["number"], data["kind"], data["state"]) == (invoice.pk, "VOLT-2026-000001", "receipt",
                                                                         "issued")
    assert data["total_incl_vat"] == {"amount": "5.11", "currency": "EUR"}
    assert data["total_vat"] == {"amount": "0.82", "currency": "EUR"}
    assert [(line["description"], line["amount_incl_vat"]["amount"]) for line in data["lines"]] == [("Energy", "5.11")]
    assert data["buyer"]["name"] == driver.driver_profile.full_name and data["period_start"] == "2026-03-02"

    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=invoice.pk, reason="goodwill", amount_incl_vat=D("1.00"))
        invoicing.invoice_mark_paid(invoice_id=invoice.pk, reference="pi_1")
    [credit] = received(receiver, "credit_note.issued")
    assert credit.json["data"]["credit_note"]["number"] == note.number
    assert credit.json["data"]["credit_note"]["total_incl_vat"] == {"amount": "1.00", "currency": "EUR"}
    [paid] = received(receiver, "invoice.paid")
    assert paid.json["data"]["invoice"]["state"] == "paid"


def test_a_statement_run_emits_one_event_per_invoice(operator, connector, endpoint, receiver, no_delivery,
                                                     django_capture_on_commit_callbacks):
    from tests import factories

    drivers = [factories.DriverFactory(operator=operator) for _ in range(3)]
    for person in drivers:
        account(person)
        charged_session(connector=connector, driver=person, started_at=T0, energy_kwh="10")
    with django_capture_on_commit_callbacks(execute=True):
        issued = invoicing.receipts_issue_pending(operator_id=operator.pk)
    assert issued == 3
    numbers = sorted(r.json["data"]["invoice"]["number"] for r in received(receiver, "invoice.issued"))
    assert numbers == ["VOLT-2026-000001", "VOLT-2026-000002", "VOLT-2026-000003"]


def test_opening_and_resolving_a_dispute_emit_events(operator, endpoint, receiver, ticket, support,
                                                     django_capture_on_commit_callbacks):
    from disputes_app import services as disputes

    with django_capture_on_commit_callbacks(execute=True):
        attempts.webhook_deliveries_queue_due()  # the ticket fixture opened it outside this block
    [opened] = received(receiver, "dispute.opened")
    data = opened.json["data"]["dispute"]
    assert (data["id"], data["status"], data["reason"], data["source"]) == (ticket.pk, "open", "wrong_amount", "driver")
    assert data["opened_at"] == OPENED.isoformat().replace("+00:00", "Z") and data["resolution"] is None
    assert "11 kWh" not in opened.body.decode()  # the driver's message is not part of the event

    ticket = move(ticket, "in_progress", by=support)
    with django_capture_on_commit_callbacks(execute=True):
        disputes.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="Meter data is correct.",
                                now=OPENED + timedelta(hours=3))
    [resolved] = received(receiver, "dispute.resolved")
    data = resolved.json["data"]["dispute"]
    assert data["status"] == "resolved" and data["resolution"] == {
        "kind": "reject", "explanation": "Meter data is correct.", "amount": None}


def _payment(operator, driver, **fields):
    return Payment.objects.create(
        operator=operator, driver=driver, kind=Payment.Kind.SESSION_HOLD, currency="EUR",
        status=Payment.Status.AUTHORIZED, amount_requested=D("50.00"), amount_authorized=D("50.00"),
        amount_due=D("5.11"), idempotency_key=f"evb-test-{fields.get('stripe_payment_intent_id')}", **fields)


def test_payments_captured_or_failed_at_stripe_emit_events(operator, driver, endpoint, receiver,
                                                           django_capture_on_commit_callbacks):
    captured = _payment(operator, driver, stripe_payment_intent_id="pi_cap")
    declined = _payment(operator, driver, stripe_payment_intent_id="pi_fail")
    with django_capture_on_commit_callbacks(execute=True):
        payment_webhook_apply(event_id="evt_1", event_type="payment_intent.succeeded",
                              obj={"id": "pi_cap", "amount_received": 511, "amount": 5000})
        payment_webhook_apply(event_id="evt_1", event_type="payment_intent.succeeded",  # Stripe's replay
                              obj={"id": "pi_cap", "amount_received": 511, "amount": 5000})
        payment_webhook_apply(event_id="evt_2", event_type="payment_intent.payment_failed",
                              obj={"id": "pi_fail", "last_payment_error": {"code": "card_declined"}})
    [capture] = received(receiver, "payment.captured")
    payment = capture.json["data"]["payment"]
    assert (payment["id"], payment["status"], payment["amount_captured"]) == (
        captured.pk, "captured", {"amount": "5.11", "currency": "EUR"})
    assert capture.json["data"]["previous_status"] == "authorized"
    [failure] = received(receiver, "payment.failed")
    assert failure.json["data"]["payment"]["id"] == declined.pk
    assert failure.json["data"]["payment"]["failure_code"] == "card_declined"
