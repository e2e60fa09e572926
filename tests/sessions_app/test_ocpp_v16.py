"""OCPP 1.6J end to end: a library ChargePoint talks to the gateway over a real websocket and the
test checks what was stored."""
import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v16 import call

from sessions_app.models import ChargingSession, ChargingStation, Connector, ConnectorStatusEvent, IdToken, MeterSample
from sessions_app.signals import session_completed
from tests import factories
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def meter(minutes: float, kwh: str, *, power_kw: str = "11", soc: int = 50, context: str = "Sample.Periodic") -> dict:
    return {
        "timestamp": at(minutes),
        "sampledValue": [
            {"value": kwh, "unit": "kWh", "measurand": "Energy.Active.Import.Register", "context": context},
            {"value": power_kw, "unit": "kW", "measurand": "Power.Active.Import", "context": context},
            {"value": "16.1", "unit": "A", "measurand": "Current.Import", "phase": "L1", "context": context},
            {"value": "15.9", "unit": "A", "measurand": "Current.Import", "phase": "L2", "context": context},
            {"value": str(soc), "unit": "Percent", "measurand": "SoC", "location": "EV", "context": context},
        ],
    }


def run(scenario):
    async def main():
        async with gateway() as gw:
            return await scenario(gw)

    return asyncio.run(main())


@pytest.fixture
def station(connector):
    return connector.station


@pytest.fixture
def completed():
    sessions = []

    def receiver(sender, session, **kwargs):
        sessions.append(session.pk)

    session_completed.connect(receiver, weak=False)
    yield sessions
    session_completed.disconnect(receiver)


def test_charger_session_end_to_end_is_stored(station, id_token, completed):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            boot = await cp.call(call.BootNotification(
                charge_point_vendor="Wallbox", charge_point_model="Commander 2", firmware_version="5.1",
                charge_point_serial_number="WB-77",
            ))
            heartbeat = await cp.call(call.Heartbeat())
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                                  timestamp=at(-1)))
            auth = await cp.call(call.Authorize(id_tag=id_token.uid))
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=120_000,
                                                        timestamp=at(0)))
            await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                           meter_value=[meter(5, "120.9"), meter(10, "121.8", context="Sample.Clock")]))
            stop = await cp.call(call.StopTransaction(
                meter_stop=123_000, timestamp=at(20), transaction_id=start.transaction_id, reason="EVDisconnected",
                id_tag=id_token.uid, transaction_data=[meter(15, "122.5", soc=80)],
            ))
            return boot, heartbeat, auth, start, stop

    boot, heartbeat, auth, start, stop = run(scenario)

    assert boot.status == "Accepted" and boot.interval == 300
    assert heartbeat.current_time
    assert auth.id_tag_info["status"] == "Accepted"
    assert start.id_tag_info["status"] == "Accepted"
    assert stop.id_tag_info["status"] == "Accepted"
    session = ChargingSession.objects.get(pk=start.transaction_id)
    assert session.state == ChargingSession.State.COMPLETED
    assert session.id_token == id_token and session.driver == id_token.driver
    assert session.energy_wh == Decimal(3000)
    assert session.duration == timedelta(minutes=20)
    assert session.stop_reason == "EVDisconnected"
    samples = list(session.samples.order_by("taken_at").values_list("energy_wh", "power_w", "current_a", "soc_percent"))
    assert samples == [
        (Decimal("120900"), Decimal("11000"), Decimal("16.1"), 50),
        (Decimal("121800"), Decimal("11000"), Decimal("16.1"), 50),
        (Decimal("122500"), Decimal("11000"), Decimal("16.1"), 80),
    ]
    assert completed == [session.pk]
    station.refresh_from_db()
    assert (station.vendor, station.model, station.firmware_version, station.serial_number) == (
        "Wallbox", "Commander 2", "5.1", "WB-77")
    assert station.last_boot_at is not None and station.ocpp_version == "1.6"
    assert station.connected_to == "" and not station.is_online  # disconnected at the end
    assert Connector.objects.get(station=station, number=1).status == "Preparing"


def test_resent_start_meter_values_and_stop_change_nothing_twice(station, id_token, completed):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            start = call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=5000, timestamp=at(0))
            first = await cp.call(start)
            again = await cp.call(start)
            values = call.MeterValues(connector_id=1, transaction_id=first.transaction_id,
                                      meter_value=[meter(5, "5.5"), meter(10, "6.0")])
            await cp.call(values)
            await cp.call(values)
            stop = call.StopTransaction(meter_stop=6500, timestamp=at(15), transaction_id=first.transaction_id)
            await cp.call(stop)
        async with charger(gw, station.ocpp_identity) as cp:  # after a reconnect
            await cp.call(values)
            await cp.call(stop)
            await cp.call(call.StopTransaction(meter_stop=9999, timestamp=at(30), transaction_id=first.transaction_id))
        return first, again

    first, again = run(scenario)

    assert first.transaction_id == again.transaction_id
    session = ChargingSession.objects.get()
    assert session.energy_wh == Decimal(1500) and session.stopped_at == T0 + timedelta(minutes=15)
    assert MeterSample.objects.filter(session=session).count() == 2
    assert completed == [session.pk]


def test_late_meter_values_inside_the_session_are_kept_and_outside_ignored(station, id_token):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=0,
                                                        timestamp=at(0)))
            await cp.call(call.StopTransaction(meter_stop=4000, timestamp=at(30), transaction_id=start.transaction_id))
            # queued while offline, delivered after the stop and out of order
            await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                           meter_value=[meter(20, "3.1"), meter(10, "1.2"), meter(45, "4.0")]))
            return start.transaction_id

    session = ChargingSession.objects.get(pk=run(scenario))
    assert list(session.samples.values_list("energy_wh", flat=True)) == [Decimal(1200), Decimal(3100)]
    assert session.energy_wh == Decimal(4000)


def test_a_new_start_on_a_busy_connector_fails_the_session_that_lost_its_stop(station, id_token):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            lost = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=0,
                                                       timestamp=at(0)))
            new = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=800,
                                                      timestamp=at(60)))
            return lost.transaction_id, new.transaction_id

    lost_id, new_id = run(scenario)
    assert ChargingSession.objects.get(pk=lost_id).state == ChargingSession.State.FAILED
    assert ChargingSession.objects.get(pk=new_id).state == ChargingSession.State.ACTIVE


def test_authorize_answers_from_the_token(station, operator, other_operator):
    blocked = factories.IdTokenFactory(operator=operator, status=IdToken.Status.BLOCKED)
    expired = factories.IdTokenFactory(operator=operator, expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    foreign = factories.IdTokenFactory(operator=other_operator)

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            return [
                (await cp.call(call.Authorize(id_tag=uid))).id_tag_info["status"]
                for uid in (blocked.uid, expired.uid, foreign.uid, "NOSUCHTAG")
            ]

    assert run(scenario) == ["Blocked", "Expired", "Invalid", "Invalid"]


def test_data_transfer_from_an_unknown_vendor_is_rejected(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            return await cp.call(call.DataTransfer(vendor_id="com.example", message_id="x", data="{}"))

    assert run(scenario).status == "UnknownVendorId"


def test_status_timeline_is_kept_once_and_a_late_status_does_not_overwrite_a_newer_one(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            faulted = call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted",
                                              timestamp=at(10), info="RCD tripped", vendor_error_code="E42")
            await cp.call(faulted)
            await cp.call(faulted)
            await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available",
                                                  timestamp=at(5)))
            await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Unavailable",
                                                  timestamp=at(1)))

    run(scenario)
    events = list(ConnectorStatusEvent.objects.filter(station=station).order_by("timestamp"))
    assert [(e.connector_number, e.status, e.error_code) for e in events] == [
        (0, "Unavailable", ""), (1, "Available", ""), (1, "Faulted", "GroundFailure"),
    ]
    assert events[-1].vendor_error_code == "E42" and events[-1].info == "RCD tripped"
    assert Connector.objects.get(station=station, number=1).status == "Faulted"
    assert ChargingStation.objects.get(pk=station.pk).status == ChargingStation.Status.UNAVAILABLE


def test_a_charger_cannot_touch_another_stations_transaction(station, id_token, operator):
    other = factories.ConnectorFactory(station__location__operator=operator).station
    session = factories.ChargingSessionFactory(connector=station.connectors.get(), id_token=id_token,
                                               started_at=T0, meter_start_wh=Decimal(0))

    async def scenario(gw):
        async with charger(gw, other.ocpp_identity) as cp:
            await cp.call(call.MeterValues(connector_id=1, transaction_id=session.pk, meter_value=[meter(5, "1")]))
            await cp.call(call.StopTransaction(meter_stop=5000, timestamp=at(10), transaction_id=session.pk))

    run(scenario)
    session.refresh_from_db()
    assert session.state == ChargingSession.State.ACTIVE and not session.samples.exists()


def test_the_station_shows_online_while_connected(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            await cp.call(call.Heartbeat())
            from asgiref.sync import sync_to_async

            return await sync_to_async(lambda: ChargingStation.objects.get(pk=station.pk).is_online)()

    assert run(scenario) is True
    assert ChargingStation.objects.get(pk=station.pk).is_online is False
