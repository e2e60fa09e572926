"""Fixtures for the payment tests: a real localstripe (started once per test run on a free port, or the
one in LOCALSTRIPE_URL), wiped before each test; pay-as-you-go drivers with cards; signed webhooks."""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import nullcontext
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from threading import Lock

import pytest
import stripe
from django.utils import timezone

from billing_app.models import BillingAccount
from billing_app.payments import localstripe, stripe_client
from billing_app.payments.methods import payment_method_add
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories

WEBHOOK_SECRET = "whsec_testsecretfortheevbillingsuite"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/js.stripe.com/v3/", timeout=1):  # noqa: S310
            return True
    except OSError:
        return False


def localstripe_start(state_dir: Path, *, port: int | None = None,
                      from_scratch: bool = True) -> tuple[subprocess.Popen, str]:
    """A localstripe (a free port unless given) with its state in `state_dir` (evbilling.localstripe_launcher)."""
    port = port or _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "evbilling.localstripe_launcher", "--port", str(port), "--state-dir", str(state_dir),
         *(["--from-scratch"] if from_scratch else [])],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not _reachable(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"localstripe did not start on port {port}")
        time.sleep(0.1)
    return process, url


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    """A localstripe of our own (state from scratch, in a temporary folder), stopped at the end of the run; or
    the one in LOCALSTRIPE_URL (`.ci/run`'s). Each test wipes its state, so under pytest-xdist only the first
    worker (gw0) uses LOCALSTRIPE_URL and every other worker starts its own."""
    url = os.environ.get("LOCALSTRIPE_URL")
    if url and os.environ.get("PYTEST_XDIST_WORKER", "gw0") == "gw0":
        yield url.rstrip("/")
        return
    process, url = localstripe_start(tmp_path_factory.mktemp("localstripe"))
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def stripe_server(settings, localstripe_url, db, monkeypatch):
    """Point our client and dj-stripe's (the global stripe module) at the test localstripe, empty."""
    settings.STRIPE_API_HOST = localstripe_url
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    monkeypatch.setattr(stripe, "api_base", localstripe_url)
    localstripe.data_wipe()
    return localstripe_url


def payg_driver(operator, *, card: str | None = "pm_card_visa", mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO):
    driver = factories.DriverFactory(operator=operator)
    BillingAccount.objects.create(driver=driver, operator=operator, payment_mode=mode)
    if card:
        payment_method_add(driver=driver, payment_method_id=card)
    return driver


def payg_session_stopped(payg_station, token, *, ref: str, kwh: str = "11", meter_start: str = "0",
                         capture=None):
    """A session of `kwh` at 11 kW on the station's first connector, two hours ago for one hour, stopped.

    Its hold was placed when `token` was authorized; settlement (price, capture, receipt) runs on commit.
    In a test whose transaction never commits, pass django_capture_on_commit_callbacks as `capture` to run
    it at the stop; a transactional test commits for real and needs none."""
    start = timezone.now() - timedelta(hours=2)
    end = start + timedelta(hours=1)
    meter = Decimal(meter_start) + Decimal(kwh) * 1000
    session = session_services.session_start(connector=payg_station.connectors.first(), id_token=token,
                                              started_at=start, meter_start_wh=Decimal(meter_start),
                                              transaction_ref=ref)
    session_services.session_record_samples(session=session, samples=[SampleIn(end, meter, Decimal(11000))])
    with capture(execute=True) if capture else nullcontext():
        session_services.session_stop(session=session, stopped_at=end, meter_stop_wh=meter)
    session.refresh_from_db()
    return session


def declining_card() -> str:
    """A client-side PaymentMethod for the test card 4000 0000 0000 0002 (declined at confirm)."""
    method = stripe.PaymentMethod.create(
        type="card", card={"number": "4000000000000002", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        api_key="sk_test_" + "x" * 24,
    )
    return method.id


@pytest.fixture
def payg_station(operator):
    return factories.ConnectorFactory(station__location__operator=operator).station


@pytest.fixture
def payg_tariff(operator):
    """0.39 EUR/kWh + 19 % VAT, hold sized by its max price of 30 EUR incl. VAT."""
    return factories.energy_tariff(operator, price="0.39", vat="19", max_price_excl_vat=Decimal("25.21"),
                                   max_price_incl_vat=Decimal("30.00"))


@pytest.fixture
def webhook_endpoint(stripe_server):
    return localstripe.djstripe_rows_ensure()


def sign(body: str, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    signature = hmac.new(secret.encode(), f"{at}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={signature}"


def stripe_event(event_id: str, event_type: str, obj: dict) -> str:
    return json.dumps({
        "id": event_id, "object": "event", "api_version": "2020-08-27", "created": int(time.time()),
        "livemode": False, "type": event_type, "data": {"object": obj}, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
    })


def post_webhook(client, endpoint, body: str, *, signature: str | None = None):
    return client.post(endpoint.url_path, data=body, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=signature or sign(body))


@pytest.fixture
def intents_created(monkeypatch):
    """The idempotency key of every PaymentIntent create sent to Stripe (from any thread), in order."""
    sent, lock = [], Lock()
    create = stripe_client.payment_intent_create

    def counting(**kwargs):
        with lock:
            sent.append(kwargs["idempotency_key"])
        return create(**kwargs)

    monkeypatch.setattr(stripe_client, "payment_intent_create", counting)
    return sent
