"""Fault tolerance against the real services: Redis, a Celery worker, Stripe and PostgreSQL each fail in
the middle of work, and every test ends by counting what was lost and what was done twice: nothing.

The processes are real: a redis-server of our own (the machine's shared Redis and PostgreSQL are never
stopped), `celery -A evbilling worker` subprocesses on the test database, localstripe behind a gate
that can refuse connections, and the OCPP gateway with `ocpp` chargers on real websockets."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from django.utils import timezone
from ocpp.exceptions import OCPPError
from ocpp.v16 import call

from billing_app.invoicing.tasks import receipts_issue_pending
from billing_app.models import Payment, SessionCharge
from billing_app.payments.tasks import payments_settle_pending
from billing_app.settlement.tasks import sessions_settle_pending
from sessions_app import services as session_services
from sessions_app.models import ChargingSession, MeterSample
from sessions_app.ocpp.database import db
from sessions_app.services import SampleIn
from sessions_app.signals import session_completed
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.ops.processes import wait_for
from tests.ops.settlement_ledger import ledger, settled, settlement_of
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("real_services"), pytest.mark.django_db(transaction=True)]

CAPTURE = r"/v1/payment_intents/[^/]+/capture"
PAYMENT_SETTLE = "billing_app.tasks.session_payment_settle"
WORKER_SETTINGS = "tests.ops.worker_settings"  # the Redis visibility timeout is 3 s instead of an hour


@pytest.fixture
def tariff(operator):
    """0.39 EUR/kWh + 19 % VAT; holds of 30 EUR (its max price incl. VAT)."""
    return factories.energy_tariff(operator, price="0.39", vat="19", max_price_excl_vat=Decimal("25.21"),
                                   max_price_incl_vat=Decimal("30.00"))


def charging(operator, *, kwh: int) -> tuple[ChargingSession, Decimal]:
    """A pay-as-you-go driver (card on file) authorized (30 EUR held) and charging `kwh` on a station of
    their own; returns the running session and its meter at the stop."""
    connector = factories.ConnectorFactory(station__location__operator=operator)
    token = factories.IdTokenFactory(operator=operator, driver=payg_driver(operator))
    assert session_services.token_authorize(station=connector.station, uid=token.uid).accepted
    start = timezone.now() - timedelta(hours=1)
    session = session_services.session_start(connector=connector, id_token=token, started_at=start,
                                             meter_start_wh=Decimal(0), transaction_ref=f"fault-{token.pk}")
    meter = Decimal(kwh * 1000)
    session_services.session_record_samples(session=session, samples=[
        SampleIn(start + timedelta(minutes=30), meter / 2, Decimal(11000)),
        SampleIn(start + timedelta(minutes=59), meter, Decimal(11000))])
    return session, meter


def stop(session: ChargingSession, meter: Decimal) -> ChargingSession:
    """The charger's StopTransaction as the gateway handles it (settlement is queued on commit)."""
    return session_services.session_stop(session=session, stopped_at=timezone.now(), meter_stop_wh=meter)


def redelivered(*workers) -> list[str]:
    """Ids of the session_payment_settle messages given to a worker more than once."""
    ids = [task_id for worker in workers for task_id in worker.received(PAYMENT_SETTLE)]
    return sorted({task_id for task_id in ids if ids.count(task_id) > 1})


def test_redis_stopped_and_restarted_mid_run_loses_no_settlement(operator, tariff, stripe_gate, broker,
                                                                 celery_workers):
    """Redis goes down while a task is running and while sessions keep ending, then comes back.

    The task running at the outage (a capture) finishes, but its acknowledgement cannot reach Redis: the
    message, kept by Redis's append-only file, is delivered again and the rerun changes nothing. Stops
    during the outage still succeed (settlement is queued with on_commit(robust=True): a broker error
    never fails the charger's stop), but their settlement tasks could not be queued. The worker
    reconnects by itself; the beat sweeps, queued through the broker as beat queues them, price, capture
    and receipt what was missed, because everything they need is in PostgreSQL.
    Lost: nothing. Doubled: nothing."""
    worker = celery_workers(stripe_api_host=stripe_gate.url, settings_module=WORKER_SETTINGS)
    running = [charging(operator, kwh=kwh) for kwh in (11, 7, 5, 9, 13)]
    in_flight, during, after = running[0], running[1:4], running[4:]

    stripe_gate.hold(CAPTURE)
    stop(*in_flight)
    wait_for(stripe_gate.held.is_set, timeout=30, what="the capture to reach Stripe", diagnostics=worker.output)
    broker.stop()
    stripe_gate.let_go()  # the task ends while Redis is down: its acknowledgement is lost
    stopped_in_outage = [stop(session, meter) for session, meter in during]
    assert [s.state for s in stopped_in_outage] == [ChargingSession.State.COMPLETED] * 3
    broker.start()

    for session, meter in after:
        stop(session, meter)
    wait_for(lambda: all(settled(s) for s, _ in [in_flight, *after]), timeout=30,
             what="the worker to reconnect and settle", diagnostics=worker.output)
    wait_for(lambda: redelivered(worker), timeout=30, what="the unacknowledged task to come back",
             diagnostics=worker.output)
    assert not SessionCharge.objects.filter(session__in=[s for s, _ in during]).exists()  # their tasks never left

    for sweep in (sessions_settle_pending, payments_settle_pending, receipts_issue_pending):
        sweep.delay()  # as beat queues them
    sessions = [s for s, _ in running]
    wait_for(lambda: all(settled(s) for s in sessions), timeout=30, what="the sweeps to settle the outage",
             diagnostics=worker.output)

    lost, doubled = ledger(sessions)
    assert lost == [] and doubled == []


@pytest.mark.parametrize("killed", ["worker", "pool process"])
def test_worker_killed_mid_capture_reruns_the_task_and_captures_once(killed, operator, tariff, stripe_gate, broker,
                                                                    celery_workers):
    """SIGKILL in the worst place: Stripe has captured, the worker has not heard back nor written it down.

    acks_late keeps the message unacknowledged. A killed pool process is noticed by its worker, which
    gives the message back at once (task_reject_on_worker_lost); a killed worker (the machine died) leaves
    it with Redis, which delivers it again after the visibility timeout to a new worker. The rerun asks
    Stripe again with the same idempotency key and finds the capture made; nothing is taken twice.
    Lost: nothing. Doubled: nothing."""
    pool = "prefork" if killed == "pool process" else "solo"
    first = celery_workers(stripe_api_host=stripe_gate.url, settings_module=WORKER_SETTINGS, pool=pool)
    session, meter = charging(operator, kwh=11)

    stripe_gate.hold(CAPTURE)
    stop(session, meter)
    wait_for(stripe_gate.held.is_set, timeout=30, what="the capture to reach Stripe", diagnostics=first.output)
    at_stripe, ours = settlement_of(session), Payment.objects.get(session=session)
    assert (at_stripe.stripe_captures, ours.status, ours.amount_captured) == (1, "authorized", Decimal(0))

    if killed == "pool process":
        [child] = first.pool_children()
        os.kill(child, signal.SIGKILL)
        workers = [first]
    else:
        first.kill()
        workers = [first, celery_workers(stripe_api_host=stripe_gate.url, settings_module=WORKER_SETTINGS)]
    stripe_gate.let_go()  # the answer goes nowhere: its reader is dead

    wait_for(lambda: settled(session), timeout=30, what="the task to run again",
             diagnostics=lambda: "\n".join(w.output() for w in workers))
    assert redelivered(*workers) == first.received(PAYMENT_SETTLE)[:1]  # the message held at the kill
    lost, doubled = ledger([session])
    assert lost == [] and doubled == []


def meter_value(at: datetime, wh: int) -> dict:
    return {"timestamp": at.isoformat(), "sampledValue": [
        {"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}


def test_stripe_unreachable_sessions_wait_then_settle_once(operator, tariff, stripe_gate, broker, celery_workers):
    """Stripe stops answering (connection refused) while chargers authorize, charge and stop over OCPP.

    Every charger gets its normal answers (a token is accepted with its hold left pending; stops are
    acknowledged); sessions are priced at once and their payments wait, their targets recorded, while
    the worker's retries back off. When Stripe is back, the beat's payments sweep (and the retries) place
    the missing hold and capture every session exactly once.
    Lost: nothing. Doubled: nothing."""
    worker = celery_workers(stripe_api_host=stripe_gate.url)
    stations = [factories.ConnectorFactory(station__location__operator=operator).station for _ in range(3)]
    tokens = [factories.IdTokenFactory(operator=operator, driver=payg_driver(operator)) for _ in stations]
    started_at = timezone.now() - timedelta(hours=1)

    async def charge(cp, token, *, kwh: int) -> dict:
        auth = await cp.call(call.Authorize(id_tag=token.uid), suppress=False)
        start = await cp.call(call.StartTransaction(connector_id=1, id_tag=token.uid, meter_start=0,
                                                    timestamp=started_at.isoformat()), suppress=False)
        return {"auth": auth.id_tag_info["status"], "start": start.id_tag_info["status"],
                "transaction_id": start.transaction_id, "kwh": kwh}

    async def finish(cp, charged: dict) -> str:
        await cp.call(call.MeterValues(connector_id=1, transaction_id=charged["transaction_id"], meter_value=[
            meter_value(started_at + timedelta(minutes=30), charged["kwh"] * 500)]), suppress=False)
        stopped = await cp.call(call.StopTransaction(
            meter_stop=charged["kwh"] * 1000, timestamp=timezone.now().isoformat(),
            transaction_id=charged["transaction_id"], reason="EVDisconnected"), suppress=False)
        return stopped.id_tag_info["status"] if stopped.id_tag_info else "answered"

    async def scenario():
        async with (gateway() as gw, charger(gw, stations[0].ocpp_identity) as cp0,
                    charger(gw, stations[1].ocpp_identity) as cp1, charger(gw, stations[2].ocpp_identity) as cp2):
            charged = [await charge(cp0, tokens[0], kwh=11), await charge(cp1, tokens[1], kwh=7)]
            await asyncio.to_thread(stripe_gate.down)
            charged.append(await charge(cp2, tokens[2], kwh=9))  # its hold cannot be placed
            stops = [await finish(cp, c) for cp, c in zip((cp0, cp1, cp2), charged, strict=True)]
            return charged, stops

    charged, stops = asyncio.run(scenario())
    assert [(c["auth"], c["start"]) for c in charged] == [("Accepted", "Accepted")] * 3
    assert stops == ["answered"] * 3  # no CallError reached a charger
    sessions = list(ChargingSession.objects.filter(pk__in=[c["transaction_id"] for c in charged]).order_by("pk"))
    assert [s.state for s in sessions] == [ChargingSession.State.COMPLETED] * 3

    waiting = Payment.objects.filter(session__in=sessions, amount_due__isnull=False)
    wait_for(lambda: waiting.count() == 3, timeout=30, what="sessions priced and their payments' targets recorded",
             diagnostics=worker.output)
    assert SessionCharge.objects.filter(session__in=sessions).count() == 3
    assert sorted(waiting.values_list("status", flat=True)) == ["authorized", "authorized", "pending"]
    assert [settlement_of(s).stripe_captures for s in sessions] == [0, 0, 0]  # nothing taken while down

    stripe_gate.up()
    payments_settle_pending.delay()  # as beat queues it
    wait_for(lambda: Payment.objects.filter(session__in=sessions, status="captured").count() == 3, timeout=30,
             what="captures once Stripe is back", diagnostics=worker.output)
    receipts_issue_pending.delay()  # as beat queues it: marks receipts paid whose capture came by the sweep
    wait_for(lambda: all(settled(s) for s in sessions), timeout=30, what="receipts paid", diagnostics=worker.output)

    lost, doubled = ledger(sessions)
    assert lost == [] and doubled == []


def terminate_other_backends(*, spare: int) -> list[int]:
    """Kill every connection to the test database but ours and `spare` (as a failover or a DBA would)."""
    settings_dict = connection.settings_dict
    with psycopg.connect(host=settings_dict["HOST"] or "127.0.0.1", port=settings_dict["PORT"] or 5432,
                         user=settings_dict["USER"], password=settings_dict["PASSWORD"] or None,
                         dbname=settings_dict["NAME"], autocommit=True) as own:
        rows = own.execute(  # in the select list, so it runs only on the rows the WHERE clause kept
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND pid <> %s", [spare]).fetchall()
    return [pid for pid, terminated in rows if terminated]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


async def send_as_a_charger(cp, payload, retries: list) -> None:
    """Send until answered: a charger repeats a transaction message that got a CallError or no answer."""
    for attempt in range(8):
        try:
            await cp.call(payload, suppress=False)
            return
        except (OCPPError, TimeoutError) as error:
            retries.append(f"{cp.id} {payload.__class__.__name__}: {error.__class__.__name__}")
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError(f"{cp.id}: {payload} never answered")


def test_postgresql_connections_dropped_during_an_ocpp_burst_lose_no_sample(operator):
    """Every PostgreSQL connection of the gateway is terminated twice: in the middle of a MeterValues burst
    from five chargers, and just before their StopTransactions.

    The gateway keeps serving: a database error closes its connection so the next call reconnects; a
    group commit that fails is retried message by message; a message that still fails gets a CallError,
    and the charger sends it again. Chargers also re-send messages whose answer they "lost". The unique
    (session, instant) constraint absorbs every repeat and a repeated stop changes nothing.
    Lost: nothing. Doubled: nothing."""
    t0 = timezone.now() - timedelta(hours=1)
    sessions = [factories.ChargingSessionFactory(
        connector=factories.ConnectorFactory(station__location__operator=operator), started_at=t0,
        meter_start_wh=Decimal(0)) for _ in range(5)]
    identities = {s.pk: s.connector.station.ocpp_identity for s in sessions}
    token = factories.IdTokenFactory(operator=operator)
    messages = 12
    sent = {(s.pk, t0 + timedelta(minutes=m + 1)) for s in sessions for m in range(messages)}
    ours = backend_pid()
    kills: list[list[int]] = []
    retries: list[str] = []
    completed: list[int] = []
    session_completed.connect(lambda session, **_: completed.append(session.pk), weak=False, dispatch_uid="ft")

    async def burst(cp, session, halfway: asyncio.Event, killed: asyncio.Event) -> None:
        for minute in range(1, messages + 1):
            if minute == messages // 2 + 1 and session is sessions[0]:
                halfway.set()
                await killed.wait()  # this charger's next message meets the dead connection
            await send_as_a_charger(cp, call.MeterValues(connector_id=1, transaction_id=session.pk, meter_value=[
                meter_value(t0 + timedelta(minutes=minute), minute * 1000)]), retries)

    async def stop_twice(cp, session) -> None:
        payload = call.StopTransaction(meter_stop=messages * 1000, timestamp=timezone.now().isoformat(),
                                       transaction_id=session.pk, reason="EVDisconnected")
        await send_as_a_charger(cp, payload, retries)
        await send_as_a_charger(cp, payload, retries)  # the answer "was lost": sent again

    async def scenario() -> tuple[str, int, int]:
        async with gateway() as gw, contextlib.AsyncExitStack() as stack:
            chargers = [await stack.enter_async_context(charger(gw, identities[s.pk])) for s in sessions]
            before = await db(backend_pid)
            halfway, killed = asyncio.Event(), asyncio.Event()
            bursts = asyncio.gather(*(burst(cp, s, halfway, killed) for cp, s in zip(chargers, sessions, strict=True)))
            await halfway.wait()
            kills.append(await asyncio.to_thread(terminate_other_backends, spare=ours))
            killed.set()
            await bursts
            for cp, s in zip(chargers, sessions, strict=True):  # the last MeterValues again: answer "lost"
                await send_as_a_charger(cp, call.MeterValues(connector_id=1, transaction_id=s.pk, meter_value=[
                    meter_value(t0 + timedelta(minutes=messages), messages * 1000)]), retries)
            kills.append(await asyncio.to_thread(terminate_other_backends, spare=ours))
            # the first message after this drop: an Authorize, which chargers do not repeat (OCPP 1.6 4.7)
            authorized = await chargers[0].call(call.Authorize(id_tag=token.uid), suppress=False)
            await asyncio.gather(*(stop_twice(cp, s) for cp, s in zip(chargers, sessions, strict=True)))
            return authorized.id_tag_info["status"], before, await db(backend_pid)

    try:
        authorized, before, after = asyncio.run(scenario())
    finally:
        session_completed.disconnect(dispatch_uid="ft")

    assert before in kills[0] and all(kills) and after != before  # its connections died; it reconnected
    assert authorized == "Accepted"
    stored = list(MeterSample.objects.filter(session__in=sessions).values_list("session_id", "taken_at"))
    lost = sorted(sent - set(stored))
    doubled = sorted({row for row in stored if stored.count(row) > 1} | (set(stored) - sent))
    assert lost == [] and doubled == []
    assert sorted(completed) == sorted(s.pk for s in sessions)  # each stop announced (for billing) once
    assert set(ChargingSession.objects.filter(pk__in=identities).values_list("state", "meter_stop_wh")) == {
        (ChargingSession.State.COMPLETED, Decimal(messages * 1000))}
