"""The OCPP gateway while a dependency is slow or gone: what chargers wait for.

    .venv/bin/python bench/ocpp_slow_dependencies.py [--database-url URL]

Each scenario starts the real gateway process (`manage.py run_ocpp`) and drives it with the `ocpp`
library's ChargePoint over real websockets (loopback):

  1. Stripe paused: STRIPE_API_HOST is a socket that accepts connections and never answers.
     Charger A presents a pay-as-you-go token (its hold goes to Stripe); once the hold request has
     reached "Stripe", charger B sends MeterValues and Heartbeat. Prints each answer's latency.
  2. Redis unreachable: REDIS_URL points at a closed port (Celery broker and remote commands).
     Prints the time from process start to an answered BootNotification, then StartTransaction and
     StopTransaction latencies (the stop queues settlement tasks) and a Heartbeat sent during the stop.
  3. Redis back: a redis-server is started on that port while the gateway runs; prints the time
     until a remote command (Reset) reaches the charger.

The database is a fresh SQLite file in a temporary directory unless --database-url is given (an
already migrated PostgreSQL database saves the ~45 s of migrations). Figures are printed, never judged.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PASSWORD = "bench-station-password"  # noqa: S105 - throwaway bench stations
STATIONS = ("SLOWDEP-A", "SLOWDEP-B", "SLOWDEP-C")
TOKEN = "SLOWDEPPAYG01"  # noqa: S105 - an RFID uid


def setup_django(database_url: str | None) -> str:
    if not database_url:
        database_url = f"sqlite:///{tempfile.mkdtemp(prefix='ocpp-slow-')}/bench.sqlite3"
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    return database_url


def create_data() -> int:
    """Three stations of one operator, a pay-as-you-go driver whose card is on file (Stripe ids that
    only have to look real: the hold never gets an answer), and an active session on station B."""
    from decimal import Decimal

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connections

    from billing_app.models import BillingAccount, Payment, PaymentCustomer
    from sessions_app.models import ChargingSession, ChargingStation, Connector, IdToken, Location, Operator, User

    call_command("migrate", verbosity=0)
    operator, _ = Operator.objects.get_or_create(
        name="SlowDeps", defaults={"legal_name": "SlowDeps", "country": "DE", "default_currency": "EUR",
                                   "invoice_prefix": "SLOW"})
    location, _ = Location.objects.get_or_create(
        operator=operator, name="SlowDeps", defaults={"address": "x", "postal_code": "1", "city": "x",
                                                      "country": "DE", "time_zone": "UTC", "latitude": 0,
                                                      "longitude": 0})
    for identity in STATIONS:
        station, _ = ChargingStation.objects.update_or_create(
            ocpp_identity=identity, defaults={"location": location, "password_hash": make_password(PASSWORD)})
        Connector.objects.get_or_create(station=station, number=1, defaults={
            "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE", "max_power_kw": 22})
    driver, _ = User.objects.get_or_create(username="slowdeps-driver", defaults={"operator": operator})
    token, _ = IdToken.objects.get_or_create(operator=operator, uid=TOKEN, defaults={"driver": driver})
    BillingAccount.objects.get_or_create(driver=driver, defaults={"operator": operator, "payment_mode": "payg"})
    PaymentCustomer.objects.get_or_create(driver=driver, defaults={
        "stripe_customer_id": "cus_" + "slowdeps" * 3, "default_payment_method_id": "pm_" + "slowdeps" * 3})
    Payment.objects.filter(id_token=token).delete()
    sessions = ChargingSession.objects.filter(connector__station__ocpp_identity__in=STATIONS)
    Payment.objects.filter(session__in=sessions).delete()
    sessions.delete()
    t0 = datetime.now(UTC) - timedelta(hours=1)
    session = ChargingSession.objects.create(
        operator=operator, connector=Connector.objects.get(station__ocpp_identity=STATIONS[1]),
        transaction_ref="slowdeps-b", started_at=t0, meter_start_wh=Decimal(0), last_message_at=t0)
    connections.close_all()
    return session.pk


# --- the slow dependencies -------------------------------------------------------------------------
class SilentServer:
    """Accepts connections and reads whatever comes, never answering (a paused Stripe)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reached = threading.Event()
        self.clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                self.clients.append(client)
                threading.Thread(target=self._read, args=(client,), daemon=True).start()

    def _read(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while client.recv(65536):
                self.reached.set()

    def close(self) -> None:
        for client in [self.sock, *self.clients]:
            with contextlib.suppress(OSError):
                client.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayProcess:
    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.started = time.perf_counter()
            self.process = subprocess.Popen(  # noqa: S603 - our own manage.py
                [sys.executable, "manage.py", "run_ocpp", "--port", str(self.port)], cwd=ROOT,
                env=os.environ | {"DEBUG": "on", "LOG_LEVEL": "WARNING"} | env,
                stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- chargers --------------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def charger(port: int, identity: str, *, open_timeout: float = 5):
    from ocpp.v16 import ChargePoint
    from websockets.asyncio.client import connect
    from websockets.headers import build_authorization_basic

    headers = {"Authorization": build_authorization_basic(identity, PASSWORD)}
    async with connect(f"ws://127.0.0.1:{port}/{identity}", subprotocols=["ocpp1.6"],
                       additional_headers=headers, open_timeout=open_timeout) as ws:
        cp = ChargePoint(identity, ws, response_timeout=120)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)


async def timed(cp, payload) -> tuple[float, object]:
    started = time.perf_counter()
    answer = await cp.call(payload, suppress=False)
    return time.perf_counter() - started, answer


async def boot_time(gw: GatewayProcess, identity: str, *, within: float = 60) -> float | None:
    """Seconds from the gateway's process start to an answered BootNotification; None if it never came."""
    from ocpp.v16 import call

    while time.perf_counter() - gw.started < within:
        if gw.process.poll() is not None:
            return None
        try:
            async with charger(gw.port, identity, open_timeout=1) as cp:
                await cp.call(call.BootNotification(charge_point_vendor="Bench", charge_point_model="Slow"))
                return time.perf_counter() - gw.started
        except (OSError, TimeoutError, Exception):  # not listening yet, or refused
            await asyncio.sleep(0.1)
    return None


def meter_values(session_id: int, wh: int):
    from ocpp.v16 import call

    return call.MeterValues(connector_id=1, transaction_id=session_id, meter_value=[{
        "timestamp": datetime.now(UTC).isoformat(),
        "sampled_value": [{"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}])


# --- scenarios -------------------------------------------------------------------------------------
async def stripe_paused(tmp: Path, session_id: int) -> None:
    from ocpp.v16 import call

    stripe = SilentServer()
    gw = GatewayProcess({"STRIPE_API_HOST": f"http://127.0.0.1:{stripe.port}", "REDIS_URL": ""}, tmp / "gw1.log")
    try:
        boot = await boot_time(gw, STATIONS[1])
        print(f"1. Stripe paused (STRIPE_API_HOST accepts and never answers); gateway up in {boot:.2f} s")
        async with charger(gw.port, STATIONS[0]) as a, charger(gw.port, STATIONS[1]) as b:
            authorize = asyncio.create_task(timed(a, call.Authorize(id_tag=TOKEN)))
            sent = time.perf_counter()
            await asyncio.to_thread(stripe.reached.wait, 30)
            reached = time.perf_counter() - sent
            others = [("MeterValues", await timed(b, meter_values(session_id, 1000))),
                      ("Heartbeat", await timed(b, call.Heartbeat()))]
            latency, answer = await authorize
            print(f"   A Authorize (hold sent to Stripe after {reached * 1000:.0f} ms): "
                  f"{answer.id_tag_info['status']} after {latency:.2f} s")
            for name, (took, _answer) in others:
                print(f"   B {name} sent while the hold waited: answered after {took * 1000:.1f} ms")
    finally:
        gw.stop()
        stripe.close()


async def redis_unreachable(tmp: Path, redis_port: int) -> GatewayProcess | None:
    from ocpp.v16 import call

    gw = GatewayProcess({"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}, tmp / "gw2.log")
    boot = await boot_time(gw, STATIONS[2])
    print(f"2. Redis unreachable (REDIS_URL at closed port {redis_port})")
    if boot is None:
        print(f"   the gateway did not start within 60 s (exit code {gw.process.poll()}); see {gw.log}")
        gw.stop()
        return None
    print(f"   BootNotification answered {boot:.2f} s after the process started")
    async with charger(gw.port, STATIONS[0]) as a, charger(gw.port, STATIONS[1]) as b:
        now = datetime.now(UTC)
        took, start = await timed(a, call.StartTransaction(connector_id=1, id_tag="SLOWDEP-NOTPAYG",
                                                           meter_start=0, timestamp=now.isoformat()))
        print(f"   A StartTransaction: {took * 1000:.1f} ms")
        stop = asyncio.create_task(timed(a, call.StopTransaction(
            meter_stop=5000, timestamp=(now + timedelta(seconds=1)).isoformat(),
            transaction_id=start.transaction_id, reason="Local")))
        await asyncio.sleep(0.05)
        heartbeat, _answer = await timed(b, call.Heartbeat())
        took, _answer = await stop
        print(f"   A StopTransaction (queues settlement): {took * 1000:.1f} ms; "
              f"B Heartbeat sent during it: {heartbeat * 1000:.1f} ms")
    return gw


async def redis_back(tmp: Path, gw: GatewayProcess, redis_port: int) -> None:
    import redis
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action, ResetStatus
    from websockets.asyncio.client import connect
    from websockets.headers import build_authorization_basic

    from sessions_app.ocpp.commands import channel_for

    binary = shutil.which("redis-server")
    if binary is None:
        print("3. Redis back: skipped (no redis-server binary)")
        return
    reset = asyncio.Event()

    class Resettable(ChargePoint):
        @on(Action.reset)
        def on_reset(self, type, **_):
            reset.set()
            return call_result.Reset(status=ResetStatus.accepted)

    headers = {"Authorization": build_authorization_basic(STATIONS[2], PASSWORD)}
    async with connect(f"ws://127.0.0.1:{gw.port}/{STATIONS[2]}", subprotocols=["ocpp1.6"],
                       additional_headers=headers) as ws:
        cp = Resettable(STATIONS[2], ws)
        loop = asyncio.create_task(cp.start())
        server = subprocess.Popen(  # noqa: S603 - the redis-server on PATH
            [binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started = time.perf_counter()
        try:
            client = redis.Redis(port=redis_port, socket_connect_timeout=0.5)
            up = None
            while not reset.is_set() and time.perf_counter() - started < 120:
                try:
                    if client.publish(channel_for(STATIONS[2]), '{"id": "", "command": "reset", "args": {}}'):
                        up = up or time.perf_counter() - started
                except redis.RedisError:
                    pass
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(reset.wait(), 0.1)
            took = time.perf_counter() - started
            print(f"3. Redis started while the gateway runs: the charger got a remote Reset {took:.2f} s later"
                  if reset.is_set() else "3. Redis back: no remote command reached the charger within 120 s")
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            server.terminate()
            server.wait(timeout=10)


async def main(session_id: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ocpp-slow-logs-"))
    await stripe_paused(tmp, session_id)
    redis_port = free_port()
    gw = await redis_unreachable(tmp, redis_port)
    if gw is not None:
        try:
            await redis_back(tmp, gw, redis_port)
        finally:
            gw.stop()
    print(f"gateway logs: {tmp}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    setup_django(parser.parse_args().database_url)
    asyncio.run(main(create_data()))
