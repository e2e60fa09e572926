"""Guest charging in Debian's chromium: scan -> price -> pay on localstripe (its Stripe.js card form) -> the
`ocpp` library's charger accepts the remote start and sends meter values -> the live cost runs -> Stop -> the
receipt PDF (read with pdftotext) shows what was captured. Also a declined card and a charger that never
starts. Screenshots at 375 px and 1280 px; axe-core finds no serious or critical violation on either page.
Needs Redis for the remote commands (REDIS_URL, else a local one)."""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import threading
from decimal import Decimal
from functools import partial
from pprint import pformat

import pytest

from billing_app.models import Invoice, Payment
from guests_app.models import GuestSession
from sessions_app.ocpp.simulator import RemoteStartCharger16
from tests.e2e.checks import DESKTOP, PHONE, axe_violations, sideways_overflow
from tests.guests_app.conftest import ad_hoc_tariff, online
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redis_url(settings):
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis to carry remote commands")
    settings.REDIS_URL = url
    return url


class ChargerRig:
    """The gateway and one simulated charger on an event loop of their own (the browser has the main thread)."""

    def __init__(self, redis_url: str, identity: str, **charger_options):
        self.redis_url, self.identity, self.options = redis_url, identity, charger_options
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stack = contextlib.AsyncExitStack()
        self.cp: RemoteStartCharger16 | None = None

    async def _up(self):
        gw = await self.stack.enter_async_context(gateway(self.redis_url))
        self.cp = await self.stack.enter_async_context(
            charger(gw, self.identity, cls=partial(RemoteStartCharger16, **self.options)))

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._up(), self.loop).result(15)
        return self

    def __exit__(self, *exc):
        asyncio.run_coroutine_threadsafe(self.stack.aclose(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def guest_station(stripe_server, redis_url, operator, settings):
    from django.db import connection

    from tests import factories

    if connection.vendor != "postgresql":  # SQLite's in-memory test database locks whole tables across threads
        pytest.skip("needs PostgreSQL (DATABASE_URL): the live server, the gateway and the charger write at once")
    settings.STRIPE_JS_URL = f"{stripe_server}/js.stripe.com/v3/"
    settings.GUEST_START_ANSWER_SECONDS = 0
    connector = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="GUEST-E2E",
                                           station__location__name="Marktplatz", max_power_kw=Decimal("22"),
                                           status="Available")
    online(connector.station)
    ad_hoc_tariff(operator, connector=connector)
    return connector


def accessible(page, label: str, shot) -> dict:
    """axe-core's serious/critical findings and sideways scrolling at both widths, with screenshots."""
    problems = {}
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        found = axe_violations(page)
        if viewport is PHONE and (overflow := sideways_overflow(page)):
            found.append({"id": "sideways-scroll", "help": overflow})
        if found:
            problems[f"{label} {name}"] = found
        shot(page, f"{label}-{name}")
    page.set_viewport_size(PHONE)
    return problems


def fill_card(page, number: str) -> None:
    """localstripe's Stripe.js card element: number, month, year (two digits), CVC, postal code."""
    for field, value in (("number", number), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123"),
                         ("postal_code", "10115")):
        page.fill(f"#card-element input[placeholder={field}]", value)


def pdf_text(data: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_scan_pay_charge_stop_and_the_receipt_shows_the_capture(new_page, shot, guest_station, redis_url,
                                                                tmp_path):
    page = new_page()
    page.set_viewport_size(PHONE)
    with ChargerRig(redis_url, "GUEST-E2E", power_kw=22, interval=0.4) as rig:
        page.goto("/charge/GUEST-E2E/1/")  # what the QR code encodes
        assert page.text_content("#connector-status") == "Available"
        assert "0,4641\xa0€ per kWh incl. 19 % VAT" in page.text_content("main")
        assert page.text_content("#hold") == "30,00\xa0€"
        problems = accessible(page, "connector", shot)
        page.fill("#email", "guest@example.com")
        fill_card(page, "4242424242424242")
        page.click("#pay-button")
        page.wait_for_url(re.compile(r"/charge-session/[\w-]+/$"))
        page.wait_for_function("document.getElementById('state').textContent === 'Charging'")
        page.wait_for_function("document.getElementById('cost').textContent !== '\u2013'")
        first = page.text_content("#cost")
        page.wait_for_function(f"document.getElementById('cost').textContent !== {first!r}", timeout=20_000)
        assert page.text_content("#energy").endswith(" kWh")
        problems.update(accessible(page, "live", shot))
        page.dblclick("#stop-button")  # a double click stops once
        page.wait_for_selector("#receipt:not([hidden])", timeout=20_000)
        shot(page, "ended")
        receipt_number = page.text_content("#receipt-number")
        pdf = page.request.get(page.get_attribute("#receipt-link", "href"))
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        received = [name for name, _ in rig.cp.received]
    assert problems == {}, pformat(problems)
    assert received.count("RemoteStartTransaction") == 1 and received.count("RemoteStopTransaction") == 1
    receipt = Invoice.objects.get(number=receipt_number)
    hold = Payment.objects.get(session=receipt.session)
    assert hold.status == Payment.Status.CAPTURED and hold.amount_captured == receipt.total_incl_vat
    text = pdf_text(pdf.body(), tmp_path)
    assert receipt_number in text
    assert re.search(re.escape(str(receipt.total_incl_vat)).replace(r"\.", "[.,]"), text), text


def test_a_declined_card_says_so_and_holds_nothing(new_page, shot, guest_station, redis_url):
    page = new_page()
    page.set_viewport_size(PHONE)
    with ChargerRig(redis_url, "GUEST-E2E") as rig:
        page.goto("/charge/GUEST-E2E/1/")
        fill_card(page, "4000000000000002")
        page.click("#pay-button")
        page.wait_for_function("document.getElementById('pay-error').textContent !== ''")
        shot(page, "declined")
        assert page.text_content("#pay-error").startswith("Your card was declined")
        assert page.is_enabled("#pay-button")  # another card may be tried
        received = list(rig.cp.received)
    assert received == [] and not Payment.objects.exists()


def test_a_charger_that_never_starts_releases_the_hold(new_page, shot, guest_station, redis_url, settings):
    settings.GUEST_START_TIMEOUT_SECONDS = 3
    page = new_page()
    page.set_viewport_size(PHONE)
    with ChargerRig(redis_url, "GUEST-E2E", plugged=False):
        page.goto("/charge/GUEST-E2E/1/")
        fill_card(page, "4242424242424242")
        page.click("#pay-button")
        page.wait_for_url(re.compile(r"/charge-session/[\w-]+/$"))
        page.wait_for_function("document.getElementById('state').textContent.startsWith('Did not start')",
                               timeout=20_000)
        shot(page, "never-started")
        assert "No car was plugged in" in page.text_content("#message")
    hold = Payment.objects.get()
    assert hold.status == Payment.Status.CANCELED and hold.amount_captured == 0
    assert GuestSession.objects.get().state == GuestSession.State.FAILED
