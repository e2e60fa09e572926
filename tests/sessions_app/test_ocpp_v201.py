"""OCPP 2.0.1 end to end: TransactionEvent Started / Updated / Ended from a library ChargePoint."""
import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v201 import ChargePoint, call

from sessions_app import hooks
from sessions_app.models import ChargingSession, ChargingStation, Connector, ConnectorStatusEvent
from sessions_app.signals import session_completed
from tests.sessions_app.ocpp_chargers import charger, gateway, raw_socket

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def meter(minutes: float, wh: float, *, power_w: float = 7400, soc: int | None = None,
          context: str = "Sample.Periodic") -> dict:
    values = [
        {"value": wh / 1000, "measurand": "Energy.Active.Import.Register", "context": context,
         "unitOfMeasure": {"unit": "kWh"}},
        {"value": power_w, "measurand": "Power.Active.Import", "context": context, "unitOfMeasure": {"unit": "W"}},
    ]
    if soc is not None:
        values.append({"value": soc, "measurand": "SoC", "context": context, "location": "EV"})
    return {"timestamp": at(minutes), "sampledValue": values}


def event(event_type: str, minutes: float, seq_no: int, *, trigger: str = "MeterValuePeriodic", state: str = "Charging",
          meter_values: list | None = None, token: str | None = None, **info):
    return call.TransactionEvent(
        event_type=event_type, timestamp=at(minutes), trigger_reason=trigger, seq_no=seq_no,
        transaction_info={"transaction_id": "TX-2001", "charging_state": state, **info},
        meter_value=meter_values, evse={"id": 1, "connector_id": 1} if event_type == "Started" else None,
        id_token={"id_token": token, "type": "ISO14443"} if token else None,
    )


def run(scenario):
    async def main():
        async with gateway() as gw:
            return await scenario(gw)

    return asyncio.run(main())


@pytest.fixture
def station(connector):
    return connector.station


def test_transaction_events_make_a_session(station, id_token):
    completed = []
    session_completed.connect(lambda sender, session, **kw: completed.append(session.pk), weak=False,
                              dispatch_uid="v201-test")

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            boot = await cp.call(call.BootNotification(
                charging_station={"model": "Pulsar Plus", "vendor_name": "Wallbox", "firmware_version": "6.2"},
                reason="PowerUp",
            ))
            await cp.call(call.Heartbeat())
            await cp.call(call.StatusNotification(timestamp=at(-1), connector_status="Occupied", evse_id=1,
                                                  connector_id=1))
            auth = await cp.call(call.Authorize(id_token={"id_token": id_token.uid, "type": "ISO14443"}))
            started = await cp.call(event("Started", 0, 0, trigger="Authorized", token=id_token.uid,
                                          meter_values=[meter(0, 50_000, context="Transaction.Begin")]))
            updated = event("Updated", 10, 1, meter_values=[meter(5, 50_600, soc=40), meter(10, 51_200, soc=45)])
            await cp.call(updated)
            await cp.call(updated)  # re-sent after a reconnect
            ended = event("Ended", 30, 2, trigger="EVCommunicationLost", state="Idle", stopped_reason="EVDisconnected",
                          meter_values=[meter(30, 52_000, power_w=0, context="Transaction.End")])
            await cp.call(ended)
            await cp.call(ended)
            return boot, auth, started

    boot, auth, started = run(scenario)
    session_completed.disconnect(dispatch_uid="v201-test")

    assert boot.status == "Accepted" and auth.id_token_info["status"] == "Accepted"
    assert started.id_token_info["status"] == "Accepted" and started.total_cost is None
    session = ChargingSession.objects.get(transaction_ref="TX-2001")
    assert session.state == ChargingSession.State.COMPLETED and session.driver == id_token.driver
    assert session.meter_start_wh == Decimal(50_000) and session.energy_wh == Decimal(2000)
    assert session.duration == timedelta(minutes=30) and session.stop_reason == "EVDisconnected"
    assert list(session.samples.values_list("energy_wh", "soc_percent")) == [
        (Decimal(50_000), None), (Decimal(50_600), 40), (Decimal(51_200), 45), (Decimal(52_000), None),
    ]
    assert completed == [session.pk]
    station.refresh_from_db()
    assert (station.vendor, station.model, station.ocpp_version) == ("Wallbox", "Pulsar Plus", "2.0.1")
    assert Connector.objects.get(station=station, number=1).status == "Occupied"  # charging states do not replace it
    timeline = ConnectorStatusEvent.objects.filter(station=station).order_by("timestamp")
    assert [(e.timestamp, e.status) for e in timeline] == [
        (T0 - timedelta(minutes=1), "Occupied"), (T0, "Charging"), (T0 + timedelta(minutes=30), "Idle"),
    ]


def test_a_session_started_at_plug_in_gets_its_driver_when_authorized_later(station, id_token):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            await cp.call(event("Started", 0, 0, trigger="CablePluggedIn", state="EVConnected",
                                meter_values=[meter(0, 1000)]))
            await cp.call(event("Updated", 1, 1, trigger="Authorized", token=id_token.uid))

    run(scenario)
    session = ChargingSession.objects.get(transaction_ref="TX-2001")
    assert session.id_token == id_token and session.driver == id_token.driver


def test_an_ended_event_whose_start_went_missing_still_makes_the_session(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            await cp.call(event("Ended", 40, 3, state="Idle", stopped_reason="Local",
                                meter_values=[meter(5, 10_000), meter(40, 14_000)]))
            # the lost Started and an Updated then arrive late: nothing changes
            await cp.call(event("Started", 0, 0, meter_values=[meter(0, 9_000)]))
            await cp.call(event("Updated", 20, 1, meter_values=[meter(20, 12_000)]))

    run(scenario)
    session = ChargingSession.objects.get(transaction_ref="TX-2001")
    assert session.state == ChargingSession.State.COMPLETED
    assert session.started_at == T0 + timedelta(minutes=5) and session.energy_wh == Decimal(4000)
    assert list(session.samples.values_list("energy_wh", flat=True)) == [Decimal(10_000), Decimal(12_000),
                                                                         Decimal(14_000)]


def test_station_status_and_unknown_token(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            await cp.call(call.StatusNotification(timestamp=at(0), connector_status="Unavailable", evse_id=0,
                                                  connector_id=0))
            auth = await cp.call(call.Authorize(id_token={"id_token": "NOPE", "type": "ISO14443"}))
            transfer = await cp.call(call.DataTransfer(vendor_id="com.example"))
            return auth, transfer

    auth, transfer = run(scenario)
    assert auth.id_token_info["status"] == "Unknown"
    assert transfer.status == "UnknownVendorId"
    assert ChargingStation.objects.get(pk=station.pk).status == ChargingStation.Status.UNAVAILABLE


def test_running_cost_comes_from_the_configured_pricer(station, id_token, settings, monkeypatch):
    monkeypatch.setattr(hooks, "running_cost", flat_cost)

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            return await cp.call(event("Started", 0, 0, token=id_token.uid, meter_values=[meter(0, 0)]))

    assert run(scenario).total_cost == 1.25


def flat_cost(session):
    return Decimal("1.25")


def test_charging_state_changes_join_the_connector_timeline_once(station):
    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            await cp.call(event("Started", 0, 0, state="EVConnected", meter_values=[meter(0, 1000)]))
            await cp.call(event("Updated", 1, 1, state="Charging", meter_values=[meter(1, 1100)]))
            suspended = event("Updated", 20, 3, state="SuspendedEVSE", trigger="ChargingStateChanged")
            await cp.call(suspended)
            await cp.call(suspended)  # re-sent
            await cp.call(event("Updated", 25, 4, state="SuspendedEVSE", meter_values=[meter(25, 3000)]))  # no change
            await cp.call(event("Updated", 10, 2, state="Charging", meter_values=[meter(10, 2000)]))  # late
            await cp.call(event("Ended", 40, 5, state="Idle", stopped_reason="Local", meter_values=[meter(40, 3000)]))

    run(scenario)
    events = ConnectorStatusEvent.objects.filter(station=station, connector_number=1).order_by("timestamp")
    assert [(e.timestamp - T0, e.status, e.info) for e in events] == [
        (timedelta(0), "EVConnected", "chargingState, seqNo 0"),
        (timedelta(minutes=1), "Charging", "chargingState, seqNo 1"),
        (timedelta(minutes=20), "SuspendedEVSE", "chargingState, seqNo 3"),
        (timedelta(minutes=40), "Idle", "chargingState, seqNo 5"),
    ]
    from billing_app.tariffs.cdr import suspension_windows  # what billing waives idle fees from

    session = ChargingSession.objects.get(transaction_ref="TX-2001")
    assert suspension_windows(session, until=session.stopped_at) == [
        (T0 + timedelta(minutes=20), T0 + timedelta(minutes=40)),
    ]


def energy_cost(session):
    """A test pricer: 0.30 per kWh stored so far."""
    last = session.samples.order_by("-taken_at").first()
    return (last.energy_wh - session.meter_start_wh) / 1000 * Decimal("0.30") if last else Decimal(0)


def failing_cost(session):
    raise RuntimeError("the pricing engine is down")


async def _wait_for(predicate, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_cost_updated_is_pushed_after_meter_updates_at_most_once_per_interval(station, settings, monkeypatch):
    monkeypatch.setattr(hooks, "running_cost", energy_cost)
    settings.OCPP_COST_UPDATED_INTERVAL = 60

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            started = await cp.call(event("Started", 0, 0, meter_values=[meter(0, 10_000)]))
            await cp.call(event("Updated", 1, 1, meter_values=[meter(1, 12_000)]))
            await _wait_for(lambda: cp.received)
            await cp.call(event("Updated", 2, 2, meter_values=[meter(2, 14_000)]))
            await asyncio.sleep(0.2)
            first_pushes = list(cp.received)
            settings.OCPP_COST_UPDATED_INTERVAL = 0
            await cp.call(event("Updated", 3, 3, meter_values=[meter(3, 15_000)]))
            await _wait_for(lambda: len(cp.received) == 2)
            await cp.call(event("Ended", 4, 4, state="Idle", meter_values=[meter(4, 15_000)]))
            await asyncio.sleep(0.2)
            return started, first_pushes, list(cp.received)

    started, first_pushes, pushes = run(scenario)
    assert started.total_cost == 0
    # the first push prices what is stored by then: 0.60 after the Updated at 1 min, if it ran that late
    assert len(first_pushes) == 1 and first_pushes[0][0] == "CostUpdated"
    assert first_pushes[0][1]["transaction_id"] == "TX-2001" and first_pushes[0][1]["total_cost"] in (0, 0.6)
    assert pushes[1] == ("CostUpdated", {"total_cost": 1.5, "transaction_id": "TX-2001"})
    assert len(pushes) == 2  # none after the transaction ended


class ChargerWithoutCostUpdated(ChargePoint):
    """Answers CostUpdated with NotImplemented, as a station without a display may."""


def test_a_failing_pricer_or_a_refused_cost_update_never_breaks_the_connection(station, settings, monkeypatch):
    settings.OCPP_COST_UPDATED_INTERVAL = 0

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            monkeypatch.setattr(hooks, "running_cost", failing_cost)
            first = await cp.call(event("Started", 0, 0, meter_values=[meter(0, 10_000)]))
            await asyncio.sleep(0.1)
            received = list(cp.received)
        monkeypatch.setattr(hooks, "running_cost", energy_cost)
        async with charger(gw, station.ocpp_identity, version="2.0.1", cls=ChargerWithoutCostUpdated) as cp:
            updated = await cp.call(event("Updated", 1, 1, meter_values=[meter(1, 11_000)]))
            await asyncio.sleep(0.3)  # the station refused the push meanwhile
            alive = await cp.call(call.Heartbeat())
        return first, received, updated, alive

    first, received, updated, alive = run(scenario)
    assert first.total_cost is None and received == []
    assert updated.total_cost == 0.3 and alive.current_time
    assert ChargingSession.objects.get(transaction_ref="TX-2001").samples.count() == 2


def test_cost_updated_does_not_hold_up_the_next_answer(station, settings, monkeypatch):
    monkeypatch.setattr(hooks, "running_cost", energy_cost)
    settings.OCPP_COST_UPDATED_INTERVAL = 0

    def frame(unique_id, event_type, minutes, seq_no, wh):
        return json.dumps([2, unique_id, "TransactionEvent", {
            "eventType": event_type, "timestamp": at(minutes), "triggerReason": "MeterValuePeriodic",
            "seqNo": seq_no, "transactionInfo": {"transactionId": "TX-2001"}, "evse": {"id": 1},
            "meterValue": [{"timestamp": at(minutes),
                            "sampledValue": [{"value": wh, "unitOfMeasure": {"unit": "Wh"}}]}],
        }])

    async def scenario(gw):
        async with raw_socket(gw, station.ocpp_identity, version="2.0.1") as ws:  # never answers CostUpdated
            await ws.send(frame("e0", "Started", 0, 0, 10_000))
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
            await ws.send(frame("e1", "Updated", 1, 1, 11_000))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 1))
            while answer[0] == 2:  # another CostUpdated
                answer = json.loads(await asyncio.wait_for(ws.recv(), 1))
            return frames, answer

    frames, answer = run(scenario)
    assert sorted((f[0], f[2] if f[0] == 2 else f[1]) for f in frames) == [(2, "CostUpdated"), (3, "e0")]
    assert answer[:2] == [3, "e1"] and answer[2]["totalCost"] == 0.3
