"""The gateway's door and robustness: who may connect, and what a bad frame gets."""
import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests import factories
from tests.sessions_app.ocpp_chargers import auth_header, exchange, gateway, raw_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def station(connector):
    return connector.station


def handshake_status(identity: str, *, headers: dict | None, subprotocols: list[str] | None) -> int:
    async def main():
        async with gateway() as gw:
            try:
                async with connect(f"ws://127.0.0.1:{gw.port}/{identity}", subprotocols=subprotocols,
                                   additional_headers=headers, open_timeout=5):
                    return 101
            except InvalidStatus as refused:
                return refused.response.status_code

    return asyncio.run(main())


def test_a_charger_with_its_credentials_and_protocol_is_accepted(station):
    assert handshake_status(station.ocpp_identity, headers=auth_header(station.ocpp_identity),
                            subprotocols=["ocpp1.6"]) == 101
    assert handshake_status(station.ocpp_identity, headers=auth_header(station.ocpp_identity),
                            subprotocols=["ocpp2.0.1"]) == 101


def test_a_wrong_password_is_refused_at_the_handshake(station):
    assert handshake_status(station.ocpp_identity, headers=auth_header(station.ocpp_identity, "wrong-password-xx"),
                            subprotocols=["ocpp1.6"]) == 401


def test_an_unknown_identity_is_refused_at_the_handshake(db):
    assert handshake_status("NO-SUCH-CHARGER", headers=auth_header("NO-SUCH-CHARGER"), subprotocols=["ocpp1.6"]) == 401


def test_missing_credentials_or_another_stations_username_are_refused(station, operator):
    other = factories.ChargingStationFactory(location__operator=operator)
    assert handshake_status(station.ocpp_identity, headers=None, subprotocols=["ocpp1.6"]) == 401
    assert handshake_status(station.ocpp_identity, headers=auth_header(other.ocpp_identity),
                            subprotocols=["ocpp1.6"]) == 401


def test_a_missing_or_unsupported_subprotocol_is_refused(station):
    headers = auth_header(station.ocpp_identity)
    assert handshake_status(station.ocpp_identity, headers=headers, subprotocols=None) == 400
    assert handshake_status(station.ocpp_identity, headers=headers, subprotocols=["ocpp1.5"]) == 400


def _malformed_answers(identity: str, version: str, frames: list) -> tuple[list, list]:
    async def main():
        async with gateway() as gw, raw_socket(gw, identity, version=version) as ws:
            answers = [await exchange(ws, frame) for frame in frames]
            alive = await exchange(ws, [2, "still-there", "Heartbeat", {}])
            return answers, alive

    return asyncio.run(main())


def test_malformed_frames_get_a_call_error_and_the_connection_stays_up_16(station):
    answers, alive = _malformed_answers(station.ocpp_identity, "1.6", [
        "this is not json",
        '{"not": "a list"}',
        [2, "m1", "BootNotification", {"chargePointModel": "X"}],
        [2, "m2", "BootNotification", {"chargePointVendor": 5, "chargePointModel": "X"}],
        [2, "m3", "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [
            {"timestamp": "2026-03-02T08:00:00Z", "sampledValue": [{"value": "lots"}]}]}],
        [2, "m4", "MeterValues", {"connectorId": 1, "transactionId": 1, "meterValue": [
            {"timestamp": "yesterday", "sampledValue": [{"value": "1"}]}]}],
        [2, "m5", "GetConfiguration", {}],
        [2, "m6", "NoSuchAction", {}],
        [2, "m7", "Heartbeat", ["payload", "as", "list"]],
        [7, "m8", "Heartbeat", {}],
    ])
    assert [a[0] for a in answers] == [4] * 10
    assert [(a[1], a[2]) for a in answers] == [
        ("-1", "FormationViolation"),
        ("-1", "FormationViolation"),
        ("m1", "ProtocolError"),
        ("m2", "TypeConstraintViolation"),
        ("m3", "PropertyConstraintViolation"),
        ("m4", "PropertyConstraintViolation"),
        ("m5", "NotImplemented"),
        ("m6", "NotSupported"),
        ("m7", "FormationViolation"),
        ("m8", "FormationViolation"),
    ]
    assert alive[0] == 3 and alive[1] == "still-there" and "currentTime" in alive[2]


def test_malformed_frames_get_a_call_error_and_the_connection_stays_up_201(station):
    answers, alive = _malformed_answers(station.ocpp_identity, "2.0.1", [
        "[2, ",
        [2, "m1", "BootNotification", {"reason": "PowerUp"}],
        [2, "m2", "TransactionEvent", {"eventType": "Started", "timestamp": "not a time", "triggerReason": "Authorized",
                                       "seqNo": 0, "transactionInfo": {"transactionId": "t-1"}}],
        [2, "m3", "BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "X", "vendorName": "Y"},
                                       "surprise": 1}],
        [9, "m4"],
    ])
    assert [(a[0], a[1], a[2]) for a in answers] == [
        (4, "-1", "RpcFrameworkError"),
        (4, "m1", "ProtocolError"),
        (4, "m2", "PropertyConstraintViolation"),
        (4, "m3", "FormatViolation"),
        (4, "m4", "MessageTypeNotSupported"),
    ]
    assert alive[0] == 3 and alive[1] == "still-there"


def _http_get(port: int, path: str) -> tuple[int, dict]:
    """A plain HTTP GET (what a load balancer's probe sends), no websocket upgrade."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def test_health_probe_counts_connected_chargers_and_checks_the_database(station):
    async def main():
        async with gateway() as gw:
            idle = await asyncio.to_thread(_http_get, gw.port, "/healthz")
            async with raw_socket(gw, station.ocpp_identity):
                for _ in range(50):  # the connection is registered once its handshake completes
                    if gw.connections:
                        break
                    await asyncio.sleep(0.02)
                busy = await asyncio.to_thread(_http_get, gw.port, "/healthz/")
            return gw.name, idle, busy

    name, (idle_status, idle), (busy_status, busy) = asyncio.run(main())
    assert idle_status == busy_status == 200
    assert idle == {"status": "ok", "gateway": name, "connected_chargers": 0, "checks": {"database": "ok"}}
    assert busy["connected_chargers"] == 1


def test_health_probe_is_503_when_redis_does_not_answer(db):
    async def main():
        async with gateway() as gw:
            import redis.asyncio

            gw._redis = redis.asyncio.Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
            try:
                return await asyncio.to_thread(_http_get, gw.port, "/healthz")
            finally:
                await gw._redis.aclose()
                gw._redis = None

    status, body = asyncio.run(main())
    assert status == 503 and body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("error")
