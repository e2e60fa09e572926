"""A guest's charge against real parts: localstripe as Stripe (the card confirmed the way its Stripe.js does),
the OCPP gateway with Redis carrying the remote start and stop, the `ocpp` library's ChargePoint as the charger
(`RemoteStartCharger16`), pdftotext reading the receipt back. Needs Redis (REDIS_URL, else a local one)."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from decimal import Decimal
from functools import partial

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.db import connection
from django.test import Client

from billing_app.models import Invoice, Payment
from billing_app.payments import stripe_client
from guests_app import services
from guests_app.models import GuestSession
from sessions_app.models import ChargingSession, IdToken
from sessions_app.ocpp.simulator import RemoteStartCharger16
from tests.sessions_app.ocpp_chargers import charger, gateway

pytestmark = pytest.mark.django_db(transaction=True)

VISA = "4242424242424242"
DECLINED_AT_SETUP = "4000000000000002"  # refused when the card is confirmed (in the browser)
DECLINED_AT_HOLD = "4000000000000341"  # confirmed, then refused when the hold is placed


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


@pytest.fixture
def guest_world(stripe_server, redis_url, guest_connector, guest_tariff, settings):
    settings.GUEST_START_ANSWER_SECONDS = 0
    return guest_connector


def confirm_card(stripe_url: str, client_secret: str, number: str = VISA) -> dict:
    """What localstripe's Stripe.js does for `stripe.confirmCardSetup`: the SetupIntent, or {"error": ...}."""
    seti = client_secret.split("_secret_")[0]
    body = json.dumps({"key": "pk_test_x", "use_stripe_sdk": True, "client_secret": client_secret,
                       "payment_method_data": {"type": "card", "card": {
                           "number": number, "exp_month": "12", "exp_year": "2034", "cvc": "123"}}}).encode()
    request = urllib.request.Request(  # noqa: S310 - the test's localstripe
        f"{stripe_url}/v1/setup_intents/{seti}/confirm", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the test's localstripe
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


class Guest:
    """One browser: the guest's requests, as the page's script makes them."""

    def __init__(self, connector, stripe_url: str):
        self.client, self.connector, self.stripe_url = Client(), connector, stripe_url
        self.live_url = self.pay_url = ""

    def post(self, url: str, data: dict | None = None):
        return self.client.post(url, data=json.dumps(data or {}), content_type="application/json")

    def checkout(self, email: str = "guest@example.com"):
        response = self.post(f"/charge/{self.connector.station.ocpp_identity}/{self.connector.number}/checkout/",
                             {"email": email})
        if response.status_code == 201:
            self.live_url, self.pay_url = response.json()["live_url"], response.json()["pay_url"]
        return response

    def pay(self, number: str = VISA):
        checkout = self.checkout()
        assert checkout.status_code == 201, checkout.content
        confirmed = confirm_card(self.stripe_url, checkout.json()["client_secret"], number)
        if "error" in confirmed:
            return confirmed
        return self.post(self.pay_url, {"setup_intent_id": confirmed["id"]})

    def status(self) -> dict:
        return self.client.get(self.live_url + "status/").json()

    def stop(self):
        return self.post(self.live_url + "stop/")

    @property
    def row(self) -> GuestSession:
        return services.guest_by_key(self.live_url.rstrip("/").rsplit("/", 1)[1])


async def until(check, timeout: float = 15.0, every: float = 0.2):
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await sync_to_async(check)()):
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(every)
    return result


def row_session_id(guest: Guest) -> int:
    return guest.row.session_id


def pdf_text(data: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_a_guest_pays_charges_stops_and_gets_the_receipt_of_what_was_captured(guest_world, redis_url, tmp_path):
    guest = Guest(guest_world, stripe_client.api_base())
    identity = guest_world.station.ocpp_identity

    async def main():
        async with gateway(redis_url) as gw, charger(
                gw, identity, cls=partial(RemoteStartCharger16, power_kw=22, interval=0.3)) as cp:
            paid = await sync_to_async(guest.pay)()
            assert paid.status_code == 200, paid.content
            assert paid.json()["state"] in ("starting", "charging")
            live = await until(lambda: (s := guest.status())["state"] == "charging" and s["cost"] and s)
            first_cost = Decimal(live["cost"])
            await until(lambda: Decimal(guest.status()["cost"] or 0) > first_cost)  # the cost runs
            stops = await asyncio.gather(sync_to_async(guest.stop)(), sync_to_async(guest.stop)())  # double click
            ended = await until(lambda: (s := guest.status())["receipt_number"] and s)
            return cp, stops, ended

    cp, stops, ended = asyncio.run(main())
    assert all(s.status_code == 200 for s in stops)
    assert [name for name, _ in cp.received].count("RemoteStopTransaction") == 1
    assert [name for name, _ in cp.received].count("RemoteStartTransaction") == 1
    # the charger advertises California Pricing: it showed the price before the start (SetUserPrice)
    shown_ids = [d["message_id"] for d in cp.display]
    assert shown_ids[0] == "SetUserPrice" and "RunningCost" in shown_ids  # the running cost too (2.0.1: CostUpdated)
    running = json.loads(next(d["data"] for d in cp.display if d["message_id"] == "RunningCost"))
    assert running["transactionId"] == row_session_id(guest) and running["cost"] > 0
    shown = json.loads(cp.display[0]["data"])
    assert "0,4641\xa0€ per kWh incl. 19 % VAT" in shown["priceText"] and shown["idToken"] == guest.row.id_token.uid
    row = guest.row
    assert row.state == GuestSession.State.ENDED and row.id_token.status == IdToken.Status.EXPIRED
    session = ChargingSession.objects.get(pk=row.session_id)
    assert session.state == ChargingSession.State.COMPLETED and session.energy_wh > 0
    payments = list(Payment.objects.filter(driver=row.driver))
    assert len(payments) == 1  # exactly one hold, captured
    hold = payments[0]
    assert (hold.status, hold.amount_authorized, hold.session_id) == (Payment.Status.CAPTURED, Decimal("30.00"),
                                                                      session.pk)
    receipt = Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)
    assert receipt.state == Invoice.State.PAID and hold.amount_captured == receipt.total_incl_vat
    assert ended["captured"] == str(receipt.total_incl_vat) and ended["receipt_number"] == receipt.number
    intent = stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)
    assert intent["amount"] == 3000  # the hold at Stripe; what was taken is our capture above
    pdf = guest.client.get(guest.live_url + "receipt.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    text = pdf_text(b"".join(pdf.streaming_content) if pdf.streaming else pdf.content, tmp_path)
    assert receipt.number in text and f"{receipt.total_incl_vat}".replace(".", ",") in text.replace(".", ",")
    sent = [m for m in mail.outbox if "guest@example.com" in m.to]
    assert len(sent) == 1 and sent[0].attachments  # the receipt by e-mail, as given


def test_a_card_declined_in_the_browser_places_no_hold(guest_world):
    guest = Guest(guest_world, stripe_client.api_base())
    refused = guest.pay(DECLINED_AT_SETUP)
    assert refused["error"]["code"] == "card_declined"
    assert not Payment.objects.exists()
    assert guest.row.state == GuestSession.State.AWAITING_PAYMENT  # they may try another card


def test_a_card_declined_at_the_hold_starts_nothing_and_says_why(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=RemoteStartCharger16) as cp:
            answer = await sync_to_async(guest.pay)(DECLINED_AT_HOLD)
            await asyncio.sleep(0.3)
            return cp, answer

    cp, answer = asyncio.run(main())
    assert answer.status_code == 200 and answer.json()["state"] == "declined"
    assert answer.json()["message"].startswith("Your card was declined")
    assert cp.received == []  # the charger was never asked
    assert Payment.objects.get().status == Payment.Status.FAILED
    assert guest.row.id_token.status == IdToken.Status.EXPIRED


def test_a_german_guest_is_told_why_in_german_and_their_receipt_mail_will_be_german(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())
    guest.client = Client(HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=RemoteStartCharger16):
            return await sync_to_async(guest.pay)(DECLINED_AT_HOLD)

    answer = asyncio.run(main())
    assert answer.json()["state_label"] == "Zahlung abgelehnt"
    assert answer.json()["message"].startswith("Ihre Karte wurde abgelehnt: ")
    assert (guest.row.language, guest.row.driver.language) == ("de", "de")  # the receipt e-mail's language


def test_a_charger_that_refuses_releases_the_hold_at_once(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=partial(RemoteStartCharger16, answer="Rejected")):
            paid = await sync_to_async(guest.pay)()
            assert paid.status_code == 200
            return await until(lambda: (s := guest.status())["state"] == "failed" and s)

    failed = asyncio.run(main())
    assert "The charger refused to start (Rejected)" in failed["message"]
    hold = Payment.objects.get()
    assert hold.status == Payment.Status.CANCELED and hold.amount_captured == 0
    assert stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)["status"] == "canceled"


def test_an_offline_charger_takes_no_payment(guest_world):
    station = guest_world.station
    station.connected_to = ""
    station.save()
    answer = Guest(guest_world, stripe_client.api_base()).checkout()
    assert answer.status_code == 503 and "offline" in answer.json()["error"]["message"]
    assert not GuestSession.objects.exists() and not Payment.objects.exists()


def test_a_charger_that_drops_off_before_the_start_releases_the_hold(guest_world, redis_url):
    """Online in the database, but no gateway holds it: the remote start reaches nobody."""
    guest = Guest(guest_world, stripe_client.api_base())
    answer = guest.pay()
    assert answer.json()["state"] == "failed" and "offline" in answer.json()["message"]
    assert Payment.objects.get().status == Payment.Status.CANCELED


def test_pay_twice_or_replayed_holds_once(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=partial(RemoteStartCharger16, plugged=False)) as cp:
            checkout = await sync_to_async(guest.checkout)()
            confirmed = await asyncio.to_thread(confirm_card, guest.stripe_url, checkout.json()["client_secret"])
            # at once on PostgreSQL; one after another on SQLite, whose test database takes one writer at a time
            concurrent = connection.vendor == "postgresql"
            answers = await asyncio.gather(*[sync_to_async(guest.post, thread_sensitive=not concurrent)(
                guest.pay_url, {"setup_intent_id": confirmed["id"]}) for _ in range(3)])
            await until(lambda: len(cp.received) >= 2)  # the price on its display, then the start
            replay = await sync_to_async(guest.post)(guest.pay_url, {"setup_intent_id": confirmed["id"]})
            await asyncio.sleep(0.5)
            return cp, answers, replay

    cp, answers, replay = asyncio.run(main())
    assert all(a.status_code == 200 for a in [*answers, replay])
    assert Payment.objects.count() == 1 and Payment.objects.get().status == Payment.Status.AUTHORIZED
    assert sorted(name for name, _ in cp.received) == ["DataTransfer", "RemoteStartTransaction"]  # price, start


def test_a_second_guest_on_the_same_connector_is_told_it_is_taken(guest_world, redis_url):
    first, second = Guest(guest_world, stripe_client.api_base()), Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=partial(RemoteStartCharger16, plugged=False)):
            assert (await sync_to_async(first.pay)()).json()["state"] == "starting"
            return await sync_to_async(second.checkout)()

    answer = asyncio.run(main())
    assert answer.status_code == 409 and "in use" in answer.json()["error"]["message"]
    assert Payment.objects.count() == 1


def test_a_charger_that_never_starts_releases_the_hold_by_the_worker(guest_world, redis_url, settings,
                                                                    celery_worker_redis):
    """No car plugged in and the guest's tab closed: the real worker's deadline task releases the hold."""
    settings.GUEST_START_TIMEOUT_SECONDS = 2
    settings.GUEST_START_ANSWER_SECONDS = 1
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=partial(RemoteStartCharger16, plugged=False)):
            assert (await sync_to_async(guest.pay)()).json()["state"] == "starting"
            await until(lambda: Payment.objects.get().status == Payment.Status.CANCELED, timeout=20)

    asyncio.run(main())
    row = guest.row
    assert row.state == GuestSession.State.FAILED and "No car was plugged in" in row.message
    assert row.id_token.status == IdToken.Status.EXPIRED


def test_the_platform_stops_a_session_before_it_passes_the_hold(guest_world, redis_url, settings):
    settings.GUEST_STOP_AT_HOLD_SHARE = Decimal("0.02")  # 0.60 of 30.00: the session fee alone reaches it
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity,
                                                     cls=partial(RemoteStartCharger16, interval=0.3)) as cp:
            await sync_to_async(guest.pay)()
            await until(lambda: GuestSession.objects.get().session_id)
            await sync_to_async(services.guests_watch)()  # the beat's sweep
            ended = await until(lambda: (s := guest.status())["state"] == "ended" and s)
            return cp, ended

    cp, ended = asyncio.run(main())
    assert [name for name, _ in cp.received].count("RemoteStopTransaction") == 1
    assert "reached the amount you authorized" in ended["message"]


def test_stop_while_the_charger_is_offline_says_what_to_do(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw:
            async with charger(gw, guest_world.station.ocpp_identity, cls=partial(RemoteStartCharger16)):
                await sync_to_async(guest.pay)()
                await until(lambda: guest.status()["state"] == "charging")
            await asyncio.sleep(0.3)  # the charger dropped off mid-session
            return await sync_to_async(guest.stop)()

    answer = asyncio.run(main())
    assert answer.status_code == 503 and "unplug the cable" in answer.json()["error"]["message"]


def test_the_pay_endpoints_are_rate_limited(guest_world, settings):
    settings.GUEST_PAY_RATE = "3/600"
    guest = Guest(guest_world, stripe_client.api_base())
    answers = [guest.checkout().status_code for _ in range(4)]
    assert answers == [201, 201, 201, 429]
    assert GuestSession.objects.count() == 3


def test_bad_input_gets_a_clear_answer(guest_world):
    guest = Guest(guest_world, stripe_client.api_base())
    bad_email = guest.checkout(email="not an address")
    assert bad_email.status_code == 400 and "e-mail" in bad_email.json()["error"]["message"]
    assert guest.checkout().status_code == 201
    wrong_intent = guest.post(guest.pay_url, {"setup_intent_id": "seti_someone_elses"})
    assert wrong_intent.status_code == 400 and "does not belong" in wrong_intent.json()["error"]["message"]
    not_json = guest.client.post(guest.pay_url, data="{", content_type="application/json")
    assert not_json.status_code == 400
    assert guest.client.get("/charge-session/not-a-key/status/").status_code == 404
    assert not Payment.objects.exists()


def test_a_16_charger_without_a_price_display_is_not_sent_one(guest_world, redis_url):
    guest = Guest(guest_world, stripe_client.api_base())

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity, cls=partial(
                RemoteStartCharger16, shows_prices=False)) as cp:
            await sync_to_async(guest.pay)()
            await until(lambda: guest.status()["state"] == "charging")
            return cp

    cp = asyncio.run(main())
    assert cp.display == [] and "DataTransfer" not in [name for name, _ in cp.received]


def test_a_201_charger_shows_the_price_text(guest_world, redis_url, guest_tariff):
    from guests_app import prices
    from sessions_app.ocpp import commands
    from tests import factories

    token = factories.IdTokenFactory(operator=guest_world.station.location.operator, type=IdToken.Type.AD_HOC)
    text = prices.price_text(prices.connector_price(guest_world))

    async def main():
        async with gateway(redis_url) as gw, charger(gw, guest_world.station.ocpp_identity, version="2.0.1") as cp:
            await asyncio.sleep(0.5)  # the gateway subscribes to the charger's channel in the background
            sent = await sync_to_async(commands.station_display_price)(station=guest_world.station, id_token=token,
                                                                       text=text)
            await asyncio.wait_for(cp.command_seen.wait(), 5)
            return sent, cp.received

    sent, received = asyncio.run(main())
    assert sent.delivered
    assert received[0][0] == "SetDisplayMessage"
    message = received[0][1]["message"]
    assert message["priority"] == "InFront" and message["message"]["content"] == text
    assert text.startswith("Ad hoc price. 22:00-06:00: Energy 0,3451\xa0€ per kWh incl. 19 % VAT")
