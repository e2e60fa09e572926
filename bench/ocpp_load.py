"""OCPP gateway load: MeterValues throughput and acknowledgement latency.

    .venv/bin/python bench/ocpp_load.py [--chargers 200] [--seconds 10] [--idle-chargers 2000]

Two servers, the same load, one run (loopback only, each phase bounded in time):
  (a) bare:    the `ocpp` library's ChargePoint answering MeterValues, no auth, no persistence;
  (b) gateway: our Gateway (HTTP Basic, sample storage through sessions_app services).
Each server runs in its own process; the chargers are raw websockets in this process sending
pre-built OCPP 1.6 frames (so the load generator does not spend CPU on schema validation).

Phase 1 (saturation): --chargers chargers each send MeterValues back to back for --seconds.
Phase 2 (paced): --idle-chargers chargers connected, each sending one MeterValues every
--interval seconds for --paced-seconds.

The database is a fresh SQLite file in a temporary directory unless --database-url is given.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-station-password"  # noqa: S105 - throwaway bench stations
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def setup_django(database_url: str | None) -> str:
    tmp = None
    if not database_url:
        tmp = tempfile.mkdtemp(prefix="ocpp-bench-")
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return database_url


def create_stations(count: int) -> dict[str, int]:
    """`count` stations, each with a connector and an active session; identity -> session id."""
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    from sessions_app.models import ChargingSession, ChargingStation, Connector, Location, Operator

    call_command("migrate", verbosity=0)
    operator, _ = Operator.objects.get_or_create(
        name="Bench", defaults={"legal_name": "Bench", "country": "DE", "default_currency": "EUR",
                                "invoice_prefix": "BENCH"})
    location, _ = Location.objects.get_or_create(
        operator=operator, name="Bench", defaults={"address": "x", "postal_code": "1", "city": "x", "country": "DE",
                                                   "time_zone": "UTC", "latitude": 0, "longitude": 0})
    password_hash = make_password(PASSWORD)
    ChargingStation.objects.bulk_create(
        [ChargingStation(location=location, ocpp_identity=f"BENCH-{i:05d}", password_hash=password_hash)
         for i in range(count)], ignore_conflicts=True)
    stations = list(ChargingStation.objects.filter(location=location).order_by("pk")[:count])
    Connector.objects.bulk_create(
        [Connector(station=s, number=1, standard="IEC_62196_T2", power_type="AC_3_PHASE", max_power_kw=22)
         for s in stations], ignore_conflicts=True)
    connectors = {c.station_id: c for c in Connector.objects.filter(station__in=stations)}
    ChargingSession.objects.filter(operator=operator).delete()
    ChargingSession.objects.bulk_create(
        [ChargingSession(operator=operator, connector=connectors[s.pk], transaction_ref=f"bench-{s.pk}",
                         started_at=T0, meter_start_wh=Decimal(0), last_message_at=T0) for s in stations])
    sessions = dict(ChargingSession.objects.filter(operator=operator).values_list(
        "connector__station__ocpp_identity", "pk"))
    from django.db import connections

    connections.close_all()
    return sessions


# --- the servers (each in a child process) ---------------------------------------------------------
def serve_bare(port: int, ready, stop) -> None:
    import logging

    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    logging.getLogger("ocpp").setLevel(logging.WARNING)

    class Bare(ChargePoint):
        @on(Action.meter_values)
        async def on_meter_values(self, **_):
            return call_result.MeterValues()

    async def handler(ws):
        with contextlib.suppress(ConnectionClosed):
            await Bare(ws.request.path.strip("/"), ws).start()

    async def main():
        async with serve(handler, "127.0.0.1", port, subprotocols=["ocpp1.6"], ping_interval=60, backlog=4096):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.2)

    asyncio.run(main())


def serve_gateway(port: int, ready, stop) -> None:
    import logging

    from sessions_app.ocpp.server import Gateway

    logging.getLogger("ocpp").setLevel(logging.WARNING)

    async def main():
        async with Gateway(host="127.0.0.1", port=port):
            ready.set()
            while not stop.is_set():
                await asyncio.sleep(0.2)

    asyncio.run(main())


# --- the chargers (this process) -------------------------------------------------------------------
class Charger:
    def __init__(self, identity: str, transaction_id: int):
        self.identity = identity
        self.transaction_id = transaction_id
        self.seq = 0
        self.ws = None

    async def connect(self, port: int) -> None:
        from websockets.asyncio.client import connect
        from websockets.headers import build_authorization_basic

        headers = {"Authorization": build_authorization_basic(self.identity, PASSWORD)}
        self.ws = await connect(f"ws://127.0.0.1:{port}/{self.identity}", subprotocols=["ocpp1.6"],
                                additional_headers=headers, open_timeout=60, ping_interval=None, max_queue=None)

    def frame(self) -> str:
        self.seq += 1
        at = (T0 + timedelta(seconds=self.seq)).isoformat()
        return json.dumps([2, f"{self.identity}-{self.seq}", "MeterValues", {
            "connectorId": 1, "transactionId": self.transaction_id, "meterValue": [{"timestamp": at, "sampledValue": [
                {"value": str(self.seq * 10), "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
                {"value": "11000", "unit": "W", "measurand": "Power.Active.Import"},
            ]}]}])

    async def send_one(self) -> float:
        started = time.perf_counter()
        await self.ws.send(self.frame())
        answer = json.loads(await self.ws.recv())
        if answer[0] != 3:
            raise RuntimeError(f"{self.identity}: {answer}")
        return time.perf_counter() - started


async def connect_all(chargers: list[Charger], port: int, concurrency: int = 200) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(c):
        async with gate:
            await c.connect(port)

    await asyncio.gather(*(one(c) for c in chargers))


async def saturate(chargers: list[Charger], seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(c):
        while time.perf_counter() < deadline:
            latencies.append(await c.send_one())

    await asyncio.gather(*(loop(c) for c in chargers))
    return latencies


async def paced(chargers: list[Charger], seconds: float, interval: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop(i, c):
        await asyncio.sleep(interval * i / len(chargers))  # spread the chargers over the interval
        while time.perf_counter() < deadline:
            tick = time.perf_counter()
            latencies.append(await c.send_one())
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - tick)))

    await asyncio.gather(*(loop(i, c) for i, c in enumerate(chargers)))
    return latencies


def summary(latencies: list[float], seconds: float) -> str:
    if not latencies:
        return "no messages"
    qs = statistics.quantiles(latencies, n=100, method="inclusive")
    return (f"{len(latencies) / seconds:8.0f} msg/s   p50 {qs[49] * 1000:7.1f} ms   p99 {qs[98] * 1000:7.1f} ms"
            f"   ({len(latencies)} messages)")


def run_phase(target, name: str, sessions: dict[str, int], args, port: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    server = ctx.Process(target=target, args=(port, ready, stop), daemon=True)
    server.start()
    results = {}
    try:
        if not ready.wait(30):
            raise RuntimeError(f"{name} server did not start")

        async def main():
            identities = sorted(sessions)
            busy = [Charger(i, sessions[i]) for i in identities[: args.chargers]]
            await connect_all(busy, port)
            results["saturation"] = summary(await saturate(busy, args.seconds), args.seconds)
            await asyncio.gather(*(c.ws.close() for c in busy))
            if args.idle_chargers:
                idle = [Charger(i, sessions[i]) for i in identities[: args.idle_chargers]]
                for c in idle:  # continue the series where phase 1 left off
                    c.seq = 10_000
                started = time.perf_counter()
                await connect_all(idle, port)
                results["connect"] = f"{len(idle)} chargers connected in {time.perf_counter() - started:.1f} s"
                results["paced"] = summary(await paced(idle, args.paced_seconds, args.interval), args.paced_seconds)
                await asyncio.gather(*(c.ws.close() for c in idle))

        asyncio.run(main())
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.kill()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chargers", type=int, default=200, help="chargers in the saturation phase")
    parser.add_argument("--seconds", type=float, default=10, help="length of the saturation phase")
    parser.add_argument("--idle-chargers", type=int, default=2000, help="chargers in the paced phase (0: skip)")
    parser.add_argument("--interval", type=float, default=10, help="seconds between a charger's MeterValues (paced)")
    parser.add_argument("--paced-seconds", type=float, default=30, help="length of the paced phase")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    database_url = setup_django(args.database_url)
    sessions = create_stations(max(args.chargers, args.idle_chargers))
    print(f"ocpp_load: {args.chargers} chargers saturating for {args.seconds:.0f} s, then {args.idle_chargers} "
          f"chargers at 1 MeterValues / {args.interval:.0f} s for {args.paced_seconds:.0f} s; db {database_url}")
    rows = {}
    for name, target, port in (("(a) bare ocpp", serve_bare, 9701), ("(b) gateway", serve_gateway, 9702)):
        rows[name] = run_phase(target, name, sessions, args, port)
        for phase, line in rows[name].items():
            print(f"{name:14} {phase:10} {line}", flush=True)


if __name__ == "__main__":
    main()
