"""Bad input at the OCPP gateway, over a real websocket: connector and EVSE ids and meter readings out of
range, a StartTransaction that fails validation. Each gets a CallError, the connection stays up, nothing
is stored and no token is authorized (no payment hold). Undecodable frames: test_ocpp_frames.py."""

import pytest

from billing_app.models import Payment
from sessions_app import hooks
from sessions_app.models import ChargingSession, Connector, ConnectorStatusEvent
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.sessions_app.ocpp_chargers import answers, codes

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-03-02T08:00:00+00:00"
HUGE = 99999999999999999999  # past 2^63

authorized: list[str] = []


def standing_recorded(*, id_token, station, at):
    """The payment hook of these tests (sessions_app.hooks.payment_standing): where billing would place its hold."""
    authorized.append(id_token.uid)
    return None


@pytest.fixture
def station(connector):
    return connector.station


@pytest.fixture
def holds(settings, monkeypatch):
    monkeypatch.setattr(hooks, "payment_standing", standing_recorded)
    authorized.clear()
    return authorized


def test_connector_ids_out_of_range_are_property_constraint_violations_16(station, id_token, holds):
    status = {"errorCode": "NoError", "status": "Available", "timestamp": T0}
    start = {"idTag": id_token.uid, "meterStart": 0, "timestamp": T0}
    sampled = [{"value": "1"}]
    got, alive = answers(station.ocpp_identity, "1.6", [
        [2, "s1", "StatusNotification", {**status, "connectorId": HUGE}],
        [2, "s2", "StatusNotification", {**status, "connectorId": 40000}],
        [2, "s3", "StatusNotification", {**status, "connectorId": -1}],
        [2, "t1", "StartTransaction", {**start, "connectorId": HUGE}],
        [2, "t2", "StartTransaction", {**start, "connectorId": 40000}],
        [2, "t3", "StartTransaction", {**start, "connectorId": 0}],
        [2, "t4", "StartTransaction", {**start, "connectorId": -3}],
        [2, "m1", "MeterValues", {"connectorId": HUGE, "meterValue": [{"timestamp": T0, "sampledValue": sampled}]}],
        [2, "m2", "MeterValues", {"connectorId": -1, "meterValue": [{"timestamp": T0, "sampledValue": sampled}]}],
    ])
    assert codes(got) == [(a[1], "PropertyConstraintViolation") for a in got]
    assert alive[:2] == [3, "still-there"]
    assert not ConnectorStatusEvent.objects.exists()
    assert not ChargingSession.objects.exists()
    assert list(Connector.objects.values_list("number", flat=True)) == [1]
    assert holds == []


def test_connector_ids_within_range_are_accepted_16(station):
    status = {"errorCode": "NoError", "status": "Available", "timestamp": T0}
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "s0", "StatusNotification", {**status, "connectorId": 0}],
        [2, "s1", "StatusNotification", {**status, "connectorId": 32767}],
    ])
    assert codes(got) == [("s0", "accepted"), ("s1", "accepted")]


def test_evse_ids_out_of_range_are_property_constraint_violations_201(station, id_token, holds):
    status = {"timestamp": T0, "connectorStatus": "Available", "connectorId": 1}
    started = {"eventType": "Started", "timestamp": T0, "triggerReason": "Authorized", "seqNo": 0,
               "transactionInfo": {"transactionId": "tx-1"}, "idToken": {"idToken": id_token.uid, "type": "ISO14443"}}
    got, alive = answers(station.ocpp_identity, "2.0.1", [
        [2, "s1", "StatusNotification", {**status, "evseId": HUGE}],
        [2, "s2", "StatusNotification", {**status, "evseId": 40000}],
        [2, "s3", "StatusNotification", {**status, "evseId": -1}],
        [2, "s4", "StatusNotification", {**status, "evseId": 1, "connectorId": HUGE}],
        [2, "t1", "TransactionEvent", {**started, "evse": {"id": HUGE}}],
        [2, "t2", "TransactionEvent", {**started, "evse": {"id": 40000}}],
        [2, "t3", "TransactionEvent", {**started, "evse": {"id": 0}}],
        [2, "t4", "TransactionEvent", {**started, "evse": {"id": 1, "connectorId": -1}}],
        [2, "m1", "MeterValues", {"evseId": HUGE, "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": 1.0}]}]}],
    ])
    assert codes(got) == [(a[1], "PropertyConstraintViolation") for a in got]
    assert alive[:2] == [3, "still-there"]
    assert not ConnectorStatusEvent.objects.exists()
    assert not ChargingSession.objects.exists()
    assert list(Connector.objects.values_list("number", flat=True)) == [1]
    assert holds == []


def test_a_start_transaction_that_fails_validation_authorizes_nothing(station, id_token, holds):
    start = {"connectorId": 1, "idTag": id_token.uid, "meterStart": 0, "timestamp": T0}
    bad = [{"connectorId": 0}, {"connectorId": 40000}, {"meterStart": -5}, {"meterStart": 10**15},
           {"timestamp": "yesterday"}]
    got, alive = answers(station.ocpp_identity, "1.6", [
        [2, f"t{n}", "StartTransaction", {**start, **change}] for n, change in enumerate(bad)
    ])
    assert codes(got) == [(f"t{n}", "PropertyConstraintViolation") for n in range(len(bad))]
    assert alive[:2] == [3, "still-there"]
    assert not ChargingSession.objects.exists()
    assert holds == []


def test_a_start_refused_as_older_than_the_running_session_authorizes_nothing(station, id_token, holds):
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "t1", "StartTransaction", {"connectorId": 1, "idTag": id_token.uid, "meterStart": 500,
                                       "timestamp": "2026-03-02T09:00:00+00:00"}],
        [2, "t2", "StartTransaction", {"connectorId": 1, "idTag": id_token.uid, "meterStart": 0, "timestamp": T0}],
    ])
    assert codes(got) == [("t1", "accepted"), ("t2", "PropertyConstraintViolation")]
    assert holds == [id_token.uid]  # the first start's only
    assert ChargingSession.objects.get().id_token == id_token


def test_a_valid_start_still_authorizes_its_token_once(station, id_token, holds):
    start = {"connectorId": 1, "idTag": id_token.uid, "meterStart": 0, "timestamp": T0}
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "t1", "StartTransaction", start],
        [2, "t1-again", "StartTransaction", start],
    ])
    assert [a[0] for a in got] == [3, 3]
    assert got[0][2]["idTagInfo"]["status"] == "Accepted"
    assert got[0][2]["transactionId"] == got[1][2]["transactionId"]
    session = ChargingSession.objects.get()
    assert (session.id_token, session.driver) == (id_token, id_token.driver)
    assert holds == [id_token.uid, id_token.uid]  # the hook itself gives no second hold to a running session


def test_a_valid_start_holds_once_and_its_session_claims_the_hold(station, operator, stripe_server):
    """With billing's real hook: the start is recorded first, then the token authorized (one hold), then the
    token named on the session, which claims the hold; a re-sent start places no second one."""
    token = factories.IdTokenFactory(operator=operator, driver=payg_driver(operator))
    start = {"connectorId": 1, "idTag": token.uid, "meterStart": 0, "timestamp": T0}
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "t1", "StartTransaction", start],
        [2, "t1-again", "StartTransaction", start],
    ])
    assert [(a[0], a[2]["idTagInfo"]["status"]) for a in got] == [(3, "Accepted"), (3, "Accepted")]
    session = ChargingSession.objects.get()
    hold = Payment.objects.get(kind=Payment.Kind.SESSION_HOLD)
    assert (hold.session, hold.status, session.id_token) == (session, Payment.Status.AUTHORIZED, token)


def test_a_stop_transaction_with_a_meter_reading_out_of_range_is_a_property_constraint_violation(station):
    got, alive = answers(station.ocpp_identity, "1.6", [
        [2, "s1", "StopTransaction", {"transactionId": 1, "meterStop": 10**15, "timestamp": T0}],
        [2, "s2", "StopTransaction", {"transactionId": 1, "meterStop": -1, "timestamp": T0}],
    ])
    assert codes(got) == [("s1", "PropertyConstraintViolation"), ("s2", "PropertyConstraintViolation")]
    assert alive[:2] == [3, "still-there"]


def test_a_transaction_id_out_of_range_is_an_unknown_transaction(station):
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "s1", "StopTransaction", {"transactionId": HUGE, "meterStop": 10, "timestamp": T0}],
        [2, "m1", "MeterValues", {"connectorId": 1, "transactionId": HUGE, "meterValue": [
            {"timestamp": T0, "sampledValue": [{"value": "1"}]}]}],
    ])
    assert codes(got) == [("s1", "accepted"), ("m1", "accepted")]
