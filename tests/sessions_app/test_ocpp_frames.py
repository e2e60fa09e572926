"""Frames the gateway must not decode (sessions_app/ocpp/frames.py), over a real websocket: nested 5,000
levels deep or carrying a 5,000-digit number, they get a CallError and the connection stays up."""
import asyncio

import pytest

from tests.sessions_app.ocpp_chargers import answers, codes, exchange, gateway, raw_socket

pytestmark = pytest.mark.django_db(transaction=True)

T0 = "2026-03-02T08:00:00+00:00"
DEEP = 5000


@pytest.fixture
def station(connector):
    return connector.station


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("version", "payload_error", "frame_error"), [
    ("1.6", "FormationViolation", "FormationViolation"),
    ("2.0.1", "FormatViolation", "RpcFrameworkError"),
])
def test_frames_nested_five_thousand_levels_or_with_endless_numbers_get_a_call_error_and_the_connection_stays_up(
    station, version, payload_error, frame_error,
):
    got, alive = answers(station.ocpp_identity, version, [
        f'[2, "deep", "DataTransfer", {{"vendorId": "acme", "data": {nested(DEEP)}}}]',
        nested(DEEP),
        '[2, "deep-object", "Heartbeat", ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "]",
        '[2, "long-number", "Heartbeat", {"a": ' + "7" * 5000 + "}]",
    ])
    assert codes(got) == [("deep", payload_error), ("-1", frame_error), ("deep-object", payload_error),
                          ("long-number", payload_error)]
    assert alive[:2] == [3, "still-there"]


def test_a_deeply_nested_response_is_dropped_and_the_connection_stays_up(station):
    async def main():
        async with gateway() as gw, raw_socket(gw, station.ocpp_identity) as ws:
            await ws.send(f'[3, "some-call", {{"data": {nested(DEEP)}}}]')
            return await exchange(ws, [2, "still-there", "Heartbeat", {}])

    assert asyncio.run(main())[:2] == [3, "still-there"]


def test_nesting_that_real_messages_use_is_accepted(station):
    sampled = [{"value": "1.5", "unit": "kWh", "measurand": "Energy.Active.Import.Register"}]
    got, _ = answers(station.ocpp_identity, "1.6", [
        [2, "m1", "MeterValues", {"connectorId": 1, "meterValue": [{"timestamp": T0, "sampledValue": sampled}]}],
        [2, "d1", "DataTransfer", {"vendorId": "acme", "data": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}],
    ])
    assert codes(got) == [("m1", "accepted"), ("d1", "accepted")]
