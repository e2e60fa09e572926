"""One slow dependency never stalls the gateway: a paused Stripe, a hanging or unreachable Redis.

The gateway runs in-process with the `ocpp` library's ChargePoints on real websockets. "Stripe paused" is
STRIPE_API_HOST at a socket that accepts and never answers; "Redis unreachable" is a closed port; "Redis
back" is a redis-server of our own started while the gateway runs. The assertions are about answers and
their order, never about how long anything took (bench/ocpp_slow_dependencies.py prints the figures).
"""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import threading
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from ocpp.v16 import call

from billing_app.models import BillingAccount, Payment, PaymentCustomer
from evbilling.celery import app as celery_app
from sessions_app.models import ChargingSession, MeterSample
from sessions_app.ocpp import commands
from tests import factories
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class SilentServer:
    """Accepts connections and reads what comes, never answering (a paused Stripe, a hung broker)."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.port = self.sock.getsockname()[1]
        self.reached = threading.Event()  # a request arrived
        self.open: list[socket.socket] = []  # connections whose client has not given up
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.sock.accept()
                self.open.append(client)
                threading.Thread(target=self._read, args=(client,), daemon=True).start()

    def _read(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while client.recv(65536):
                self.reached.set()
        self.open.remove(client)

    def close(self) -> None:
        """Close everything: a caller still waiting gets a connection error at once."""
        for sock in [self.sock, *self.open]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def paused_stripe(settings):
    """Stripe accepts the hold request and never answers; the gateway's deadline is shorter than the
    Stripe client's timeout, so it is the deadline that answers the charger."""
    server = SilentServer()
    settings.STRIPE_API_HOST = server.url
    settings.STRIPE_TIMEOUT = 30
    settings.OCPP_PAYMENT_STANDING_TIMEOUT = 2  # the test chargers give up after 5 s
    yield server
    server.close()


@pytest.fixture
def payg_token(operator):
    """A pay-as-you-go driver with a card on file (Stripe ids that only have to look real)."""
    driver = factories.DriverFactory(operator=operator)
    BillingAccount.objects.create(driver=driver, operator=operator,
                                  payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO)
    PaymentCustomer.objects.create(driver=driver, stripe_customer_id=f"cus_slowdeps{driver.pk:012d}",
                                   default_payment_method_id=f"pm_slowdeps{driver.pk:012d}")
    return factories.IdTokenFactory(operator=operator, driver=driver)


def broker_at(url: str):
    """This process sends its task messages to `url` (not eagerly) until the returned undo is called."""
    from kombu import pools

    saved = celery_app.conf.task_always_eager, celery_app.conf.broker_url, celery_app.conf.result_backend

    def forget():
        pools.reset()
        celery_app._pool = None
        if "amqp" in celery_app.__dict__:
            celery_app.amqp._producer_pool = None
        celery_app._backend_cache = None
        celery_app._local.__dict__.pop("backend", None)

    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = celery_app.conf.result_backend = url
    forget()

    def undo():
        celery_app.conf.task_always_eager, celery_app.conf.broker_url, celery_app.conf.result_backend = saved
        forget()

    return undo


def meter_value(minutes: int, wh: int) -> dict:
    return {"timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
            "sampledValue": [{"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}


# --- Stripe paused ------------------------------------------------------------------------------------

def test_while_stripe_hangs_other_chargers_are_answered_before_the_authorize(paused_stripe, payg_token, operator):
    """Charger A's Authorize waits on its hold; charger B's MeterValues (stored through the database
    thread) and Heartbeat are answered meanwhile, and A gets the documented Stripe-down answer
    (Accepted, hold left pending) while the hold request still waits at Stripe."""
    station_a = factories.ConnectorFactory(station__location__operator=operator).station
    busy = factories.ChargingSessionFactory(connector__station__location__operator=operator, id_token=None,
                                            started_at=T0, meter_start_wh=0)
    station_b = busy.connector.station
    answered: list[str] = []

    async def main():
        async with (gateway() as gw, charger(gw, station_a.ocpp_identity) as a,
                    charger(gw, station_b.ocpp_identity) as b):
            async def authorize():
                answer = await a.call(call.Authorize(id_tag=payg_token.uid), suppress=False)
                answered.append(f"A Authorize, Stripe still holding {len(paused_stripe.open)} request")
                return answer

            authorization = asyncio.create_task(authorize())
            assert await asyncio.to_thread(paused_stripe.reached.wait, 5), "the hold never reached Stripe"
            await b.call(call.MeterValues(connector_id=1, transaction_id=busy.pk, meter_value=[meter_value(5, 900)]),
                         suppress=False)
            answered.append("B MeterValues")
            await b.call(call.Heartbeat(), suppress=False)
            answered.append("B Heartbeat")
            answer = await authorization
            paused_stripe.close()  # the hold's Stripe call now fails: it stays pending for the sweep
            return answer

    answer = asyncio.run(main())
    assert answered == ["B MeterValues", "B Heartbeat", "A Authorize, Stripe still holding 1 request"]
    assert answer.id_tag_info["status"] == "Accepted"
    assert MeterSample.objects.filter(session=busy).count() == 1
    hold = Payment.objects.get(id_token=payg_token)
    assert (hold.kind, hold.status, hold.stripe_payment_intent_id) == ("session_hold", "pending", None)


def test_an_undecided_hold_refuses_the_token_when_stripe_down_means_refuse(paused_stripe, payg_token, operator,
                                                                           settings):
    settings.PAYMENT_ACCEPT_WHEN_STRIPE_DOWN = False
    station = factories.ConnectorFactory(station__location__operator=operator).station

    async def main():
        async with gateway() as gw, charger(gw, station.ocpp_identity) as cp:
            answer = await cp.call(call.Authorize(id_tag=payg_token.uid), suppress=False)
            still_waiting = len(paused_stripe.open)
            paused_stripe.close()
            return answer, still_waiting

    answer, still_waiting = asyncio.run(main())
    assert (answer.id_tag_info["status"], still_waiting) == ("Blocked", 1)


# --- Redis hanging or unreachable ---------------------------------------------------------------------

def test_a_stop_is_answered_while_the_broker_hangs(operator, id_token):
    """The stop queues settlement (transaction.on_commit); the broker accepts the connection and never
    answers. The stop and another charger's Heartbeat are answered anyway: the message waits in the
    gateway's publisher thread, and the beat sweep settles whatever never got queued."""
    broker = SilentServer()
    undo = broker_at(f"redis://127.0.0.1:{broker.port}/0")
    station, other = (factories.ConnectorFactory(station__location__operator=operator).station for _ in range(2))

    async def main():
        async with (gateway() as gw, charger(gw, station.ocpp_identity) as cp,
                    charger(gw, other.ocpp_identity) as bystander):
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=0,
                                                        timestamp=T0.isoformat()), suppress=False)
            stop = await cp.call(call.StopTransaction(meter_stop=4000, timestamp=(T0 + timedelta(hours=1)).isoformat(),
                                                      transaction_id=start.transaction_id, id_tag=id_token.uid),
                                 suppress=False)
            beat = await bystander.call(call.Heartbeat(), suppress=False)
            reached = await asyncio.to_thread(broker.reached.wait, 5)  # the settlement message tried to go out
            broker.close()
            return start.transaction_id, stop, beat, reached

    try:
        session_id, stop, beat, reached = asyncio.run(main())
    finally:
        undo()
        broker.close()
    assert stop.id_tag_info["status"] == "Accepted" and beat.current_time
    assert reached
    assert ChargingSession.objects.get(pk=session_id).state == ChargingSession.State.COMPLETED


def test_without_redis_the_gateway_starts_boots_chargers_and_answers_a_stop(operator, id_token, settings):
    unreachable = f"redis://127.0.0.1:{closed_port()}/0"
    undo = broker_at(unreachable)

    async def main():
        async with gateway(unreachable) as gw, charger(gw, id_token_station.ocpp_identity) as cp:
            boot = await cp.call(call.BootNotification(charge_point_vendor="ACME", charge_point_model="Slow"),
                                 suppress=False)
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=0,
                                                        timestamp=T0.isoformat()), suppress=False)
            await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                           meter_value=[meter_value(30, 2000)]), suppress=False)
            stop = await cp.call(call.StopTransaction(meter_stop=4000, timestamp=(T0 + timedelta(hours=1)).isoformat(),
                                                      transaction_id=start.transaction_id, id_tag=id_token.uid),
                                 suppress=False)
            return boot, start.transaction_id, stop

    id_token_station = factories.ConnectorFactory(station__location__operator=operator).station
    try:
        boot, session_id, stop = asyncio.run(main())
    finally:
        undo()
    assert boot.status == "Accepted" and stop.id_tag_info["status"] == "Accepted"
    session = ChargingSession.objects.get(pk=session_id)
    assert (session.state, session.energy_wh) == (ChargingSession.State.COMPLETED, 4000)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_remote_commands_resume_when_redis_comes_back(operator, settings, tmp_path):
    """The gateway starts while Redis is down and serves its charger; once Redis runs (and again after a
    restart), a remote command reaches the charger without the gateway or the charger doing anything."""
    from tests.ops.processes import RedisServer

    redis_server = RedisServer(tmp_path)  # its port is chosen, the server not started yet
    settings.REDIS_URL = redis_server.url
    station = factories.ConnectorFactory(station__location__operator=operator).station

    async def delivered_reset() -> None:
        while not (await sync_to_async(_reset_if_possible)(station)):
            await asyncio.sleep(0.2)

    async def main():
        async with gateway(redis_server.url) as gw, charger(gw, station.ocpp_identity) as cp:
            served = await cp.call(call.Heartbeat(), suppress=False)
            await asyncio.to_thread(redis_server.start)
            await asyncio.wait_for(delivered_reset(), 60)
            await asyncio.wait_for(cp.command_seen.wait(), 10)
            cp.command_seen.clear()
            await asyncio.to_thread(redis_server.stop)
            await asyncio.to_thread(redis_server.start)
            await asyncio.wait_for(delivered_reset(), 60)
            await asyncio.wait_for(cp.command_seen.wait(), 10)
            return served, cp.received

    try:
        served, received = asyncio.run(main())
    finally:
        redis_server.stop()
    assert served.current_time
    assert received == [("Reset", {"type": "Soft"}), ("Reset", {"type": "Soft"})]


def _reset_if_possible(station) -> bool:
    try:
        return commands.station_reset(station=station).delivered
    except Exception:  # Redis not (yet) answering
        return False
