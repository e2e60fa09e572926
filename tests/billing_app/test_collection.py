"""Every pay-as-you-go session is collected (issue 15, item 2), against a real localstripe.

Each session claims its own hold as it starts, so a token's second session (while the first runs, or before
the first is settled) is held and captured too; and the receipt sweep charges what no payment covered,
off-session and once, retries on the dunning schedule with an email each time, then marks the receipt overdue.
"""
import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from django.core import mail
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from billing_app.invoicing import collection
from billing_app.models import Invoice, Payment, PaymentCustomer, ReceiptCollection
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add, payment_method_set_default
from billing_app.settlement import services as settlement
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.sessions_app.ocpp_chargers import exchange, gateway, raw_socket

D = Decimal
DOWN = "http://127.0.0.1:9"  # nothing listens there: Stripe unreachable
LATER = timedelta(hours=2)  # past PAYMENTS_COLLECT_AFTER_MINUTES (60)

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="row locks under concurrency need PostgreSQL")


def _token(operator, driver):
    return factories.IdTokenFactory(operator=operator, driver=driver)


def _start(connector, token, *, at, ref, capture, authorize=True):
    """As the gateway does it: the payment hook at Authorize and again at StartTransaction, then the start
    (whose on-commit work runs: a hold placed for a session that had none to claim)."""
    if authorize:
        for _message in ("Authorize", "StartTransaction"):
            assert session_services.token_authorize(station=connector.station, uid=token.uid, at=at).accepted
    with capture(execute=True):
        return session_services.session_start(connector=connector, id_token=token, started_at=at,
                                              meter_start_wh=D(0), transaction_ref=ref)


def _stop(session, *, kwh, capture, settle=True):
    """`kwh` in one hour at 11 kW; settlement (price, capture, receipt) runs on commit unless `settle` is off."""
    end = session.started_at + timedelta(hours=1)
    meter = D(kwh) * 1000
    session_services.session_record_samples(session=session, samples=[SampleIn(end, meter, D(11000))])
    with capture(execute=settle):
        session_services.session_stop(session=session, stopped_at=end, meter_stop_wh=meter)
    session.refresh_from_db()
    return session


def _receipt(session) -> Invoice:
    return Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)


def _captured(session) -> list[tuple[str, str, Decimal]]:
    return sorted((p.kind, p.status, p.amount_captured) for p in Payment.objects.filter(session=session))


def _unpaid_receipt(operator, connector, capture, *, kwh="11", card="pm_card_visa"):
    """A receipt no payment covers: the charger let the driver start from its local list while they had no
    card (so no hold), and they added `card` afterwards."""
    driver = payg_driver(operator, card=None)
    session = _start(connector, _token(operator, driver), at=timezone.now() - timedelta(hours=3), ref="offline",
                     capture=capture, authorize=False)
    session = _stop(session, kwh=kwh, capture=capture)
    assert not Payment.objects.filter(session=session).exists()
    assert _receipt(session).state == Invoice.State.ISSUED
    payment_method_add(driver=driver, payment_method_id=card)
    return driver, session


@pytest.fixture
def stripe_creates(monkeypatch):
    """Every PaymentIntent create sent to Stripe, by idempotency key."""
    sent = []
    create = stripe_client.payment_intent_create

    def counting(**kwargs):
        sent.append(kwargs["idempotency_key"])
        return create(**kwargs)

    monkeypatch.setattr(stripe_client, "payment_intent_create", counting)
    return sent


# --- Each session its own hold ------------------------------------------------------------------------

@pytest.mark.django_db
def test_two_sessions_of_one_token_at_once_each_capture_their_own_hold(
        stripe_server, operator, payg_tariff, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    first, second = (factories.ConnectorFactory(station__location__operator=operator) for _ in range(2))
    token = _token(operator, payg_driver(operator))
    at = timezone.now() - timedelta(hours=3)
    a = _start(first, token, at=at, ref="a", capture=capture)
    b = _start(second, token, at=at + timedelta(minutes=10), ref="b", capture=capture)  # while `a` runs
    assert Payment.objects.filter(id_token=token, kind="session_hold").count() == 2
    a, b = _stop(a, kwh="11", capture=capture), _stop(b, kwh="22", capture=capture)

    assert _captured(a) == [("session_hold", "captured", D("5.11"))]  # 11 kWh x 0.39 = 4.29 + 0.82 VAT
    assert _captured(b) == [("session_hold", "captured", D("10.21"))]  # 22 kWh x 0.39 = 8.58 + 1.63 VAT
    for session, cents in ((a, 511), (b, 1021)):
        hold = Payment.objects.get(session=session)
        charge = stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)["charges"]["data"][0]
        assert charge["amount"] - charge["amount_refunded"] == cents  # localstripe: full charge, rest refunded
        receipt = _receipt(session)
        assert (receipt.state, receipt.total_incl_vat) == ("paid", D(cents) / 100)


@pytest.mark.django_db
def test_a_start_before_the_first_session_is_settled_gets_its_own_hold(
        stripe_server, operator, payg_tariff, django_capture_on_commit_callbacks):
    """The first session stopped but its settlement was lost: its hold is still its own, not the next one's."""
    capture = django_capture_on_commit_callbacks
    first, second = (factories.ConnectorFactory(station__location__operator=operator) for _ in range(2))
    token = _token(operator, payg_driver(operator))
    at = timezone.now() - timedelta(hours=4)
    a = _stop(_start(first, token, at=at, ref="a", capture=capture), kwh="11", capture=capture, settle=False)
    b = _stop(_start(second, token, at=at + timedelta(hours=2), ref="b", capture=capture), kwh="22", capture=capture)
    assert _captured(b) == [("session_hold", "captured", D("10.21"))]

    with capture(execute=True):  # the beat sweeps pick the lost settlement up
        settlement.sessions_settle_pending()
        payments.payments_settle_pending()
    assert _captured(a) == [("session_hold", "captured", D("5.11"))]
    assert [_receipt(s).state for s in (a, b)] == ["paid", "paid"]
    assert collection.receipts_collect_unpaid(now=timezone.now() + LATER) == 0  # nothing left to collect


@pytest.mark.django_db
def test_a_second_connector_of_the_same_station_is_held_right_after_its_start(
        stripe_server, operator, payg_tariff, django_capture_on_commit_callbacks):
    """At the same station the hook cannot tell a new transaction from a re-presented one: the start holds."""
    capture = django_capture_on_commit_callbacks
    first = factories.ConnectorFactory(station__location__operator=operator)
    second = factories.ConnectorFactory(station=first.station, number=2)
    token = _token(operator, payg_driver(operator))
    at = timezone.now() - timedelta(hours=3)
    a = _start(first, token, at=at, ref="a", capture=capture)
    b = _start(second, token, at=at + timedelta(minutes=5), ref="b", capture=capture)
    hold = Payment.objects.get(session=b)
    assert (hold.status, hold.idempotency_key, hold.amount_authorized) == (
        "authorized", f"evb-session-{b.pk}-hold", D("30.00"))
    a, b = _stop(a, kwh="11", capture=capture), _stop(b, kwh="22", capture=capture)
    assert (_captured(a), _captured(b)) == ([("session_hold", "captured", D("5.11"))],
                                            [("session_hold", "captured", D("10.21"))])
    assert [_receipt(s).state for s in (a, b)] == ["paid", "paid"]


@pytest.mark.django_db
def test_a_session_started_at_plug_in_claims_the_hold_of_its_later_authorization(
        stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    """OCPP 2.0.1 starts the transaction at plug-in; the token (and its hold) come with a later event."""
    token = _token(operator, payg_driver(operator))
    session = session_services.session_start(connector=payg_station.connectors.first(), started_at=timezone.now(),
                                             meter_start_wh=D(0), transaction_ref="plug-in")
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    session_services.session_attach_token(session=session, id_token=token)
    hold = Payment.objects.get(id_token=token)
    assert (hold.session_id, hold.status) == (session.pk, "authorized")


@pytest.mark.django_db
def test_a_hold_of_a_failed_session_is_released(stripe_server, operator, payg_station, payg_tariff,
                                                django_capture_on_commit_callbacks):
    token = _token(operator, payg_driver(operator))
    session = _start(payg_station.connectors.first(), token, at=timezone.now(), ref="lost",
                     capture=django_capture_on_commit_callbacks)
    session_services.session_fail(session=session, reason="StaleNoStop")
    payments.payment_holds_maintain(now=timezone.now() + timedelta(hours=1))
    hold = Payment.objects.get(session=session)
    assert hold.status == "canceled"
    assert stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)["status"] == "canceled"


# --- The sweep: once ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_receipt_no_payment_covers_is_charged_once_by_the_sweep(
        stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks, stripe_creates):
    _driver, session = _unpaid_receipt(operator, payg_station.connectors.first(), django_capture_on_commit_callbacks)
    assert collection.receipts_collect_unpaid(now=timezone.now()) == 0  # settlement's own sweeps go first
    later = timezone.now() + LATER
    assert collection.receipts_collect_unpaid(now=later) == 1
    assert collection.receipts_collect_unpaid(now=later) == 0
    receipt = _receipt(session)
    payment = Payment.objects.get(session=session)
    assert (payment.kind, payment.status, payment.amount_captured, payment.invoice_id, payment.idempotency_key) == (
        "invoice", "captured", D("5.11"), receipt.pk, f"evb-receipt-{receipt.pk}-1")
    intent = stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)
    assert (intent["status"], intent["amount"], intent["capture_method"]) == ("succeeded", 511, "automatic")
    assert (receipt.state, receipt.payment_reference) == ("paid", payment.stripe_payment_intent_id)
    assert receipt.collection.status == "collected"
    assert stripe_creates == [f"evb-receipt-{receipt.pk}-1"]


@needs_postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", [1, 2], ids=["first attempt", "dunning retry"])
def test_concurrent_sweeps_charge_a_receipt_once(stripe_server, operator, payg_station, payg_tariff,
                                                 django_capture_on_commit_callbacks, stripe_creates, attempt):
    card = "pm_card_visa" if attempt == 1 else "pm_card_chargeCustomerFail"
    driver, session = _unpaid_receipt(operator, payg_station.connectors.first(), django_capture_on_commit_callbacks,
                                      card=card)
    later, threads = timezone.now() + LATER, 8
    if attempt == 2:  # declined once; the driver then changes card and the retry is due
        collection.receipts_collect_unpaid(now=later)
        visa = payment_method_add(driver=driver, payment_method_id="pm_card_visa")
        payment_method_set_default(driver=driver, payment_method_id=visa.id)
        later += timedelta(days=1)
        stripe_creates.clear()
    barrier = Barrier(threads)

    def sweep(_):
        try:
            barrier.wait()
            return collection.receipts_collect_unpaid(now=later)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(sweep, range(threads)))
    receipt = _receipt(session)
    assert stripe_creates == [f"evb-receipt-{receipt.pk}-{attempt}"]
    assert ("invoice", "captured", D("5.11")) in _captured(session)
    assert Payment.objects.filter(session=session, kind="invoice").count() == attempt
    assert (receipt.state, ReceiptCollection.objects.get().status) == ("paid", "collected")


@pytest.mark.django_db
def test_stripe_down_stops_the_sweep_and_the_attempt_is_finished_once(
        settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks,
        stripe_creates):
    _driver, session = _unpaid_receipt(operator, payg_station.connectors.first(), django_capture_on_commit_callbacks)
    up, later = settings.STRIPE_API_HOST, timezone.now() + LATER
    settings.STRIPE_API_HOST = DOWN
    collection.receipts_collect_unpaid(now=later)
    assert _captured(session) == [("invoice", "pending", D(0))]
    collection.receipts_collect_unpaid(now=later)  # an attempt under way is not sent again by the sweep

    settings.STRIPE_API_HOST = up
    payments.payments_settle_pending()  # sends the pending attempt, same key
    collection.receipts_collect_unpaid(now=later)  # records it
    receipt = _receipt(session)
    assert _captured(session) == [("invoice", "captured", D("5.11"))]
    assert (receipt.state, receipt.collection.status, receipt.collection.attempts) == ("paid", "collected", 1)
    assert stripe_creates == [f"evb-receipt-{receipt.pk}-1"] * 2  # refused by DOWN, then sent again, same key


@pytest.mark.django_db
def test_what_a_declined_extra_charge_left_is_collected_to_the_cent(
        settings, stripe_server, operator, payg_station, django_capture_on_commit_callbacks, monkeypatch):
    settings.PAYMENT_HOLD_DEFAULT = D("5")
    factories.energy_tariff(operator)  # no max price: the default hold of 5.00
    token = _token(operator, payg_driver(operator))
    session = _start(payg_station.connectors.first(), token, at=timezone.now() - timedelta(hours=3), ref="x",
                     capture=django_capture_on_commit_callbacks)
    create = stripe_client.payment_intent_create

    def decline_the_extra(**kwargs):
        if kwargs["idempotency_key"].endswith("-extra"):
            raise stripe_client.PaymentDeclined("Your card was declined.", code="card_declined")
        return create(**kwargs)

    monkeypatch.setattr(stripe_client, "payment_intent_create", decline_the_extra)
    session = _stop(session, kwh="22", capture=django_capture_on_commit_callbacks)
    assert _captured(session) == [("session_extra", "failed", D(0)), ("session_hold", "captured", D("5.00"))]
    assert _receipt(session).state == "issued"

    collection.receipts_collect_unpaid(now=timezone.now() + LATER)
    assert ("invoice", "captured", D("5.21")) in _captured(session)  # 10.21 - 5.00
    assert _receipt(session).state == "paid"


# --- Dunning and overdue ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_declining_card_goes_through_dunning_and_ends_overdue(
        settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    """The charger started without asking (its local list); the hold placed at the start and every retry are
    declined: a retry 1, 3 and 7 days after the first failure, an email each time, then overdue."""
    settings.PAYMENTS_DUNNING_RETRY_DAYS = [1, 3, 7]
    driver = payg_driver(operator, card="pm_card_chargeCustomerFail")
    session = _start(payg_station.connectors.first(), _token(operator, driver), at=timezone.now() - timedelta(hours=3),
                     ref="declined", capture=django_capture_on_commit_callbacks, authorize=False)
    assert _captured(session) == [("session_hold", "failed", D(0))]
    session = _stop(session, kwh="11", capture=django_capture_on_commit_callbacks)
    receipt = _receipt(session)
    mail.outbox.clear()

    first = timezone.now() + LATER
    runs = [first, first + timedelta(hours=12), first + timedelta(days=1), first + timedelta(days=3),
            first + timedelta(days=7), first + timedelta(days=30)]
    seen = []
    for now in runs:
        with django_capture_on_commit_callbacks(execute=True):
            collection.receipts_collect_unpaid(now=now)
        state = ReceiptCollection.objects.get(invoice=receipt)
        seen.append((state.status, state.attempts, state.next_attempt_at))
    assert seen == [
        ("retrying", 1, first + timedelta(days=1)),
        ("retrying", 1, first + timedelta(days=1)),  # not due yet: nothing tried
        ("retrying", 2, first + timedelta(days=3)),
        ("retrying", 3, first + timedelta(days=7)),
        ("overdue", 4, None),
        ("overdue", 4, None),  # no more automatic charges
    ]
    attempts = Payment.objects.filter(session=session, kind="invoice").order_by("pk")
    assert [(p.idempotency_key, p.status, p.amount_requested, p.failure_code) for p in attempts] == [
        (f"evb-receipt-{receipt.pk}-{n}", "failed", D("5.11"), "card_declined") for n in (1, 2, 3, 4)]
    receipt.refresh_from_db()
    assert (receipt.state, receipt.collection.overdue_at) == ("issued", first + timedelta(days=7))
    subjects = [m.subject for m in mail.outbox]
    assert subjects == [f"Payment for your charging receipt {receipt.number} failed"] * 3 + [
        f"Your charging receipt {receipt.number} is overdue"]
    assert all(m.to == [driver.email] for m in mail.outbox)
    assert "€5.11" in mail.outbox[0].body


@pytest.mark.django_db
def test_a_permanent_refusal_for_one_driver_does_not_stop_the_sweep(
        stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    refused_driver, refused = _unpaid_receipt(operator, payg_station.connectors.first(), capture)
    PaymentCustomer.objects.filter(driver=refused_driver).update(default_payment_method_id="pm_gone_for_good")
    other = factories.ConnectorFactory(station__location__operator=operator)
    _driver, collected = _unpaid_receipt(operator, other, capture)
    assert _receipt(refused).issued_at <= _receipt(collected).issued_at  # the refused one comes first

    collection.receipts_collect_unpaid(now=timezone.now() + LATER)
    failed = Payment.objects.get(session=refused)
    assert (failed.status, _receipt(refused).collection.status) == ("failed", "retrying")
    assert failed.failure_code  # Stripe's reason, shown in the admin
    assert _captured(collected) == [("invoice", "captured", D("5.11"))]
    assert _receipt(collected).state == "paid"


@pytest.mark.django_db
def test_an_error_escaping_for_one_receipt_does_not_stop_the_sweep(
        stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks, monkeypatch):
    capture = django_capture_on_commit_callbacks
    _d, refused = _unpaid_receipt(operator, payg_station.connectors.first(), capture)
    _d, collected = _unpaid_receipt(operator, factories.ConnectorFactory(station__location__operator=operator),
                                    capture)
    advance, refused_receipt = collection.payment_advance, _receipt(refused)

    def refuse_one(*, payment_id):
        if Payment.objects.get(pk=payment_id).invoice_id == refused_receipt.pk:
            raise stripe_client.StripeRejected("No such customer", code="resource_missing")
        return advance(payment_id=payment_id)

    monkeypatch.setattr(collection, "payment_advance", refuse_one)
    assert collection.receipts_collect_unpaid(now=timezone.now() + LATER) == 2
    assert _receipt(collected).state == "paid"


# --- Who sees it ------------------------------------------------------------------------------------

@pytest.fixture
def overdue_receipt(settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    settings.PAYMENTS_DUNNING_RETRY_DAYS = []
    driver, session = _unpaid_receipt(operator, payg_station.connectors.first(), django_capture_on_commit_callbacks)
    PaymentCustomer.objects.filter(driver=driver).update(default_payment_method_id="pm_gone_for_good")
    collection.receipts_collect_unpaid(now=timezone.now() + LATER)
    receipt = _receipt(session)
    assert receipt.collection.status == "overdue"
    return receipt


@pytest.mark.django_db
def test_the_driver_sees_their_overdue_receipt_and_nobody_else_does(client, operator, overdue_receipt):
    client.force_login(overdue_receipt.driver)
    page = client.get(reverse("portal:invoices")).content.decode()
    assert overdue_receipt.number in page and "Overdue" in page

    client.force_login(factories.DriverFactory(operator=operator))
    page = client.get(reverse("portal:invoices")).content.decode()
    assert overdue_receipt.number not in page and "Overdue" not in page


@pytest.mark.django_db
def test_operator_staff_filter_overdue_receipts_and_only_their_own(client, operator, other_operator,
                                                                   overdue_receipt):
    url = reverse("admin:billing_app_invoice_changelist") + "?collection=overdue"
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(url).content.decode()
    assert overdue_receipt.number in page and "Overdue (every retry failed)" in page
    assert client.get(reverse("admin:billing_app_receiptcollection_changelist") + "?status=overdue").status_code == 200

    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert overdue_receipt.number not in client.get(url).content.decode()


# --- Through the gateway ----------------------------------------------------------------------------

def _frames(identity: str, frames: list) -> list:
    """Send OCPP 1.6 frames as the charger `identity`, over a real websocket to an in-process gateway."""
    async def main():
        async with gateway() as gw, raw_socket(gw, identity, version="1.6") as ws:
            return [await exchange(ws, frame) for frame in frames]

    return asyncio.run(main())


@pytest.mark.django_db(transaction=True)
def test_one_card_on_two_chargers_at_once_is_held_and_captured_twice_through_the_gateway(
        stripe_server, operator, payg_tariff):
    """Authorize and StartTransaction at one charger, the same at a second while the first charges, then both
    stop: two holds, each captured to the cent, both receipts paid."""
    first, second = (factories.ConnectorFactory(station__location__operator=operator).station for _ in range(2))
    token = _token(operator, payg_driver(operator))
    t0 = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)

    def start(station, at):
        got = _frames(station.ocpp_identity, [
            [2, "a", "Authorize", {"idTag": token.uid}],
            [2, "s", "StartTransaction", {"connectorId": 1, "idTag": token.uid, "meterStart": 0,
                                          "timestamp": at.isoformat()}]])
        assert [answer[2]["idTagInfo"]["status"] for answer in got] == ["Accepted", "Accepted"]
        return got[1][2]["transactionId"]

    def stop(station, transaction_id, at, wh):
        reading = {"timestamp": at.isoformat(), "sampledValue": [{"value": str(wh)}]}
        _frames(station.ocpp_identity, [
            [2, "m", "MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": [reading]}],
            [2, "t", "StopTransaction", {"transactionId": transaction_id, "meterStop": wh,
                                         "timestamp": at.isoformat()}]])

    a = start(first, t0)
    b = start(second, t0 + timedelta(minutes=10))  # the first one still charges
    stop(first, a, t0 + timedelta(hours=1), 11000)
    stop(second, b, t0 + timedelta(minutes=70), 22000)

    holds = Payment.objects.filter(id_token=token, kind="session_hold").order_by("session_id")
    assert [(p.session_id, p.status, p.amount_authorized, p.amount_captured) for p in holds] == [
        (a, "captured", D("30.00"), D("5.11")), (b, "captured", D("30.00"), D("10.21"))]
    assert [(r.session_id, r.state) for r in Invoice.objects.order_by("session_id")] == [(a, "paid"), (b, "paid")]
