"""Simulated chargers for people trying the product (`python manage.py simulate_chargers`).

Each charger connects to the gateway like a real one (HTTP Basic, OCPP 1.6J for AC stations and
2.0.1 for DC), boots, and runs charging sessions shaped like the demo data: power that tapers
above 80 % state of charge, sometimes an idle tail. Sessions are laid out back to back so that the
last one ends now, and replayed `speed` times faster than real time, so every timestamp is in the
past when sent (the gateway takes late messages) and sessions appear in the admin within seconds.

A station with a `meter` acts as an Eichrecht charger: its TEST meter (`sessions_app.ocmf.signing`) signs the
begin and end readings as OCMF, sent the way each version does (1.6: `SignedData` sampled values in
MeterValues at the start and in StopTransaction's transactionData; 2.0.1: `signedMeterValue`, base64, with
the public key). `tamper="end_value"` changes the signed end reading after signing, for tests.
"""
from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call as call201
from websockets.asyncio.client import connect
from websockets.headers import build_authorization_basic

from sessions_app.demo import _charge_profile
from sessions_app.ocmf.decoding import public_key_base64
from sessions_app.ocmf.signing import SIGNING_METHOD, TestMeter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimStation:
    identity: str
    password: str
    connectors: list[int]
    dc: bool
    max_kw: float
    tokens: list[str]
    meter: TestMeter | None = None
    tamper: str = ""


@dataclass
class Reading:
    at: datetime
    wh: int
    power_w: float
    soc: int


@dataclass
class SimSession:
    connector: int
    token: str
    readings: list[Reading] = field(default_factory=list)

    @property
    def start(self) -> Reading:
        return self.readings[0]

    @property
    def stop(self) -> Reading:
        return self.readings[-1]


def plan_sessions(rng: random.Random, station: SimStation, count: int, *, end: datetime) -> list[SimSession]:
    """`count` sessions on the station's connectors, back to back, the last ending at `end`."""
    registers = {n: rng.randint(100_000, 9_000_000) for n in station.connectors}
    step = timedelta(minutes=2 if station.dc else 5)
    sessions = []
    for _ in range(count):
        connector = rng.choice(station.connectors)
        wanted_kwh, peak_kw, idle_min = _charge_profile(rng, dc=station.dc, max_kw=station.max_kw)
        soc, capacity = rng.randint(10, 45), rng.choice([52.0, 64.0, 77.0, 82.0])
        session = SimSession(connector, rng.choice(station.tokens))
        t, wh, delivered = timedelta(0), registers[connector], 0.0
        session.readings.append(Reading(t, wh, 0.0, soc))
        while delivered < wanted_kwh and soc < 100:
            power_kw = peak_kw * (1.0 if soc < 80 else max(0.15, (100 - soc) / 20)) * rng.uniform(0.93, 1.0)
            energy = power_kw * step.total_seconds() / 3600
            delivered += energy
            soc = min(100, soc + max(1, round(energy / capacity * 100)))
            wh += round(energy * 1000)
            t += step
            session.readings.append(Reading(t, wh, round(power_kw * 1000, 1), soc))
        for _ in range(idle_min // int(step.total_seconds() // 60)):
            t += step
            session.readings.append(Reading(t, wh, 0.0, soc))
        registers[connector] = wh
        sessions.append(session)
    # lay them out back to back, 5-40 minutes apart, ending at `end`
    gaps = [timedelta(minutes=rng.randint(5, 40)) for _ in sessions]
    cursor = end - sum((s.stop.at + g for s, g in zip(sessions, gaps, strict=True)), timedelta(0))
    for session, gap in zip(sessions, gaps, strict=True):
        cursor += gap
        for reading in session.readings:
            reading.at = cursor + reading.at
        cursor = session.stop.at
    return sessions


class MeterKeyCharger16(ChargePoint16):
    """A 1.6 charger that reports its meter's public key as the configuration key `MeterPublicKey<connector>`."""

    meter: TestMeter | None = None
    connectors: tuple[int, ...] = ()

    @on(Action16.get_configuration)
    def on_get_configuration(self, key: list | None = None, **_):
        known = {f"MeterPublicKey{n}": self.meter.public_key_hex for n in self.connectors} if self.meter else {}
        asked = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None)


class SimulatedCharger:
    """Replays planned sessions over one OCPP connection."""

    def __init__(self, station: SimStation, url: str, *, speed: float, rng: random.Random):
        self.station, self.url, self.speed, self.rng = station, url, speed, rng
        self.version = "2.0.1" if station.dc else "1.6"
        self.clock: datetime | None = None
        self.completed = 0

    async def _advance(self, to: datetime) -> None:
        """Sleep the simulated time between two messages, compressed by `speed`."""
        if self.clock is not None and to > self.clock:
            await asyncio.sleep(min((to - self.clock).total_seconds() / self.speed, 30))
        self.clock = to

    async def run(self, sessions: list[SimSession]) -> int:
        headers = {"Authorization": build_authorization_basic(self.station.identity, self.station.password)}
        async with connect(f"{self.url.rstrip('/')}/{self.station.identity}", subprotocols=[f"ocpp{self.version}"],
                           additional_headers=headers) as ws:
            cls = ChargePoint201 if self.version == "2.0.1" else MeterKeyCharger16
            cp = cls(self.station.identity, ws)
            if self.version == "1.6":
                cp.meter, cp.connectors = self.station.meter, tuple(self.station.connectors)
            reader = asyncio.create_task(cp.start())
            try:
                replay = self._run_201 if self.version == "2.0.1" else self._run_16
                await replay(cp, sessions)
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        return self.completed

    # --- OCPP 1.6J ------------------------------------------------------------------------------
    async def _run_16(self, cp: ChargePoint16, sessions: list[SimSession]) -> None:
        await cp.call(call16.BootNotification(charge_point_vendor="ABB", charge_point_model="Terra AC W22",
                                              firmware_version="1.8.21"))
        for session in sessions:
            n, start = session.connector, session.start
            await self._advance(start.at - timedelta(seconds=30))
            await cp.call(call16.StatusNotification(connector_id=n, error_code="NoError", status="Preparing",
                                                    timestamp=self.clock.isoformat()))
            await cp.call(call16.Authorize(id_tag=session.token))
            await self._advance(start.at)
            started = await cp.call(call16.StartTransaction(connector_id=n, id_tag=session.token, meter_start=start.wh,
                                                            timestamp=start.at.isoformat()))
            await cp.call(call16.StatusNotification(connector_id=n, error_code="NoError", status="Charging",
                                                    timestamp=start.at.isoformat()))
            signed_begin = self._signed(session, start, "B")
            if signed_begin:
                begin = {"timestamp": start.at.isoformat(),
                         "sampled_value": [_signed16(signed_begin, start.wh, "Begin")]}
                await cp.call(call16.MeterValues(connector_id=n, transaction_id=started.transaction_id,
                                                 meter_value=[begin]))
            for reading in session.readings[1:-1]:
                await self._advance(reading.at)
                await cp.call(call16.MeterValues(connector_id=n, transaction_id=started.transaction_id,
                                                 meter_value=[_meter16(reading)]))
            await self._advance(session.stop.at)
            end = _meter16(session.stop)
            signed_end = self._signed(session, session.stop, "E")
            if signed_end:
                end["sampled_value"].append(_signed16(signed_end, session.stop.wh, "End"))
            await cp.call(call16.StopTransaction(meter_stop=session.stop.wh, timestamp=session.stop.at.isoformat(),
                                                 transaction_id=started.transaction_id, reason="EVDisconnected",
                                                 transaction_data=[end]))
            await cp.call(call16.StatusNotification(connector_id=n, error_code="NoError", status="Available",
                                                    timestamp=session.stop.at.isoformat()))
            self.completed += 1

    # --- OCPP 2.0.1 -----------------------------------------------------------------------------
    async def _run_201(self, cp: ChargePoint201, sessions: list[SimSession]) -> None:
        await cp.call(call201.BootNotification(
            charging_station={"model": "HYC150", "vendor_name": "Alpitronic", "firmware_version": "2.4.0"},
            reason="PowerUp",
        ))
        for index, session in enumerate(sessions):
            n, start = session.connector, session.start
            tx = f"SIM-{self.station.identity}-{int(start.at.timestamp())}-{index}"
            seq = itertools.count()
            await self._advance(start.at)
            await cp.call(call201.StatusNotification(timestamp=start.at.isoformat(), connector_status="Occupied",
                                                     evse_id=n, connector_id=1))
            await cp.call(call201.Authorize(id_token={"id_token": session.token, "type": "ISO14443"}))
            await cp.call(self._event201("Started", start, tx, seq, "Authorized", "Transaction.Begin",
                                         signed=self._signed(session, start, "B"), evse={"id": n, "connector_id": 1},
                                         id_token={"id_token": session.token, "type": "ISO14443"}))
            for reading in session.readings[1:-1]:
                await self._advance(reading.at)
                await cp.call(self._event201("Updated", reading, tx, seq, "MeterValuePeriodic", "Sample.Periodic"))
            await self._advance(session.stop.at)
            await cp.call(self._event201("Ended", session.stop, tx, seq, "EVCommunicationLost", "Transaction.End",
                                         stopped_reason="EVDisconnected",
                                         signed=self._signed(session, session.stop, "E")))
            await cp.call(call201.StatusNotification(timestamp=session.stop.at.isoformat(),
                                                     connector_status="Available", evse_id=n, connector_id=1))
            self.completed += 1

    def _signed(self, session: SimSession, reading: Reading, tx: str) -> str:
        """The meter's signed OCMF record of a begin ("B") or end ("E") reading; "" without a meter."""
        meter = self.station.meter
        if meter is None:
            return ""
        record = meter.reading(at=reading.at, wh=reading.wh, tx=tx, id_tag=session.token)
        if tx == "E" and self.station.tamper == "end_value":
            kwh = f'"RV":{Decimal(reading.wh) / 1000:.3f}'
            record = record.replace(kwh, f'"RV":{Decimal(reading.wh + 1000) / 1000:.3f}')
        return record

    def _event201(self, event_type: str, reading: Reading, tx: str, seq: Iterator[int], trigger: str, context: str,
                  stopped_reason: str | None = None, signed: str = "", **extra) -> call201.TransactionEvent:
        state = "Charging" if reading.power_w > 0 else "SuspendedEV"
        energy = {"value": reading.wh, "measurand": "Energy.Active.Import.Register", "context": context,
                  "unit_of_measure": {"unit": "Wh"}}
        if signed:
            energy["signed_meter_value"] = {
                "signed_meter_data": base64.b64encode(signed.encode()).decode(), "signing_method": SIGNING_METHOD,
                "encoding_method": "OCMF", "public_key": public_key_base64(self.station.meter.public_key_hex)}
        return call201.TransactionEvent(
            event_type=event_type, timestamp=reading.at.isoformat(), trigger_reason=trigger, seq_no=next(seq),
            transaction_info={"transaction_id": tx, "charging_state": "Idle" if event_type == "Ended" else state,
                              "stopped_reason": stopped_reason},
            meter_value=[{"timestamp": reading.at.isoformat(), "sampled_value": [
                energy,
                {"value": reading.power_w, "measurand": "Power.Active.Import", "context": context},
                {"value": reading.soc, "measurand": "SoC", "context": context, "location": "EV"},
            ]}],
            **extra,
        )


def _signed16(record: str, wh: int, context: str) -> dict:
    """A 1.6 sampled value carrying the signed record (`format: SignedData`) of the energy register."""
    return {"value": record, "format": "SignedData", "measurand": "Energy.Active.Import.Register",
            "context": f"Transaction.{context}", "unit": "Wh"}


def _meter16(reading: Reading) -> dict:
    current = Decimal(str(reading.power_w / (400 * 1.732))).quantize(Decimal("0.01"))
    return {"timestamp": reading.at.isoformat(), "sampled_value": [
        {"value": str(reading.wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh",
         "context": "Sample.Periodic"},
        {"value": str(reading.power_w), "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
        {"value": str(current), "measurand": "Current.Import", "unit": "A", "context": "Sample.Periodic"},
        {"value": str(reading.soc), "measurand": "SoC", "unit": "Percent", "location": "EV",
         "context": "Sample.Periodic"},
    ]}


async def simulate(stations: list[SimStation], url: str, *, sessions: int, speed: float, seed: int) -> int:
    """Run every station's chargers concurrently; returns the number of sessions completed."""
    rng = random.Random(seed)
    now = timezone.now()
    chargers = [
        (SimulatedCharger(s, url, speed=speed, rng=rng), plan_sessions(rng, s, sessions, end=now)) for s in stations
    ]
    results = await asyncio.gather(*(c.run(plan) for c, plan in chargers), return_exceptions=True)
    for (charger, _), result in zip(chargers, results, strict=True):
        if isinstance(result, BaseException):
            logger.error("charger %s failed: %r", charger.station.identity, result)
    return sum(c.completed for c, _ in chargers)


# --- A charger that waits to be started remotely (guest charging, `simulate_chargers --wait-for-remote`) ------

class RemoteStartCharger16(ChargePoint16):
    """An OCPP 1.6 charger that does what the central system tells it, in real time: RemoteStartTransaction
    starts a transaction with the given idTag (when a car is `plugged`; answered with `answer`), meter values
    follow every `interval` seconds at `power_kw`, RemoteStopTransaction stops it. What the central system shows
    on its display (California Pricing DataTransfer: SetUserPrice, RunningCost, FinalCost) is kept in
    `display` and logged, as a real screen would show it."""

    def __init__(self, *args, answer: str = "Accepted", plugged: bool = True, power_kw: float = 11.0,
                 interval: float = 1.0, shows_prices: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.answer, self.plugged, self.power_kw, self.interval = answer, plugged, power_kw, interval
        self.shows_prices = shows_prices
        self.display: list[dict] = []
        self.received: list[tuple[str, dict]] = []
        self.register_wh = 1_000_000
        self.stopped: dict[int, asyncio.Event] = {}
        self.completed: list[int] = []
        self._tasks: set[asyncio.Task] = set()

    @on(Action16.remote_start_transaction)
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_):
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        return result16.RemoteStartTransaction(status=self.answer)

    @after(Action16.remote_start_transaction)
    def after_remote_start(self, id_tag: str, connector_id: int | None = None, **_):
        if self.answer == "Accepted" and self.plugged:
            task = asyncio.create_task(self._transaction(id_tag, connector_id or 1))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, transaction_id: int, **_):
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        event = self.stopped.get(transaction_id)
        if event is None:
            return result16.RemoteStopTransaction(status="Rejected")
        event.set()
        return result16.RemoteStopTransaction(status="Accepted")

    @on(Action16.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_):
        """Advertises California Pricing (CustomDisplayCostAndPrice) when it `shows_prices`."""
        known = {"CustomDisplayCostAndPrice": "true" if self.shows_prices else "false"}
        asked = key or list(known)
        return result16.GetConfiguration(
            configuration_key=[{"key": k, "readonly": True, "value": known[k]} for k in asked if k in known],
            unknown_key=[k for k in asked if k not in known] or None)

    @on(Action16.data_transfer)
    def on_data_transfer(self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_):
        self.received.append(("DataTransfer", {"vendor_id": vendor_id, "message_id": message_id, "data": data}))
        self.display.append({"message_id": message_id, "data": data})
        logger.info("%s display: %s %s", self.id, message_id, data)
        return result16.DataTransfer(status="Accepted")

    async def _transaction(self, id_tag: str, connector: int) -> None:
        now = timezone.now
        await self.call(call16.StatusNotification(connector_id=connector, error_code="NoError", status="Preparing",
                                                  timestamp=now().isoformat()))
        started = await self.call(call16.StartTransaction(connector_id=connector, id_tag=id_tag,
                                                          meter_start=self.register_wh, timestamp=now().isoformat()))
        if started.id_tag_info.get("status") != "Accepted":
            await self.call(call16.StopTransaction(meter_stop=self.register_wh, timestamp=now().isoformat(),
                                                   transaction_id=started.transaction_id, reason="DeAuthorized"))
            return
        transaction_id = started.transaction_id
        self.stopped[transaction_id] = asyncio.Event()
        await self.call(call16.StatusNotification(connector_id=connector, error_code="NoError", status="Charging",
                                                  timestamp=now().isoformat()))
        while not self.stopped[transaction_id].is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopped[transaction_id].wait(), self.interval)
            self.register_wh += round(self.power_kw * 1000 * self.interval / 3600)
            reading = Reading(now(), self.register_wh, self.power_kw * 1000, 50)
            await self.call(call16.MeterValues(connector_id=connector, transaction_id=transaction_id,
                                               meter_value=[_meter16(reading)]))
        await self.call(call16.StopTransaction(meter_stop=self.register_wh, timestamp=now().isoformat(),
                                               transaction_id=transaction_id, reason="Remote"))
        await self.call(call16.StatusNotification(connector_id=connector, error_code="NoError", status="Available",
                                                  timestamp=now().isoformat()))
        self.completed.append(transaction_id)
