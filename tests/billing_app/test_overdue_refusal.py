"""A driver who leaves a receipt overdue past the operator's grace (`Operator.overdue_refusal_days`) is refused new
sessions at the chargers (OCPP 1.6 Blocked, 2.0.1 NoCredit), the portal says why and links to Pay now, and paying
lifts the refusal. Real gateway (the ocpp library's ChargePoint over a websocket), real localstripe."""

import asyncio
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from billing_app.invoicing import collection
from billing_app.models import Payment, ReceiptCollection
from billing_app.payments.methods import payment_method_add, payment_method_set_default
from sessions_app import services as session_services
from sessions_app.models import ChargingSession
from tests import factories
from tests.billing_app.test_receipt_pay_now import _declined_receipt
from tests.disputes_app.test_german_pages import english_lines
from tests.sessions_app.ocpp_chargers import charger, gateway


@pytest.fixture
def overdue(settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    """A receipt overdue for `days` (the operator refuses after 7, its default)."""
    settings.PAYMENTS_DUNNING_RETRY_DAYS = []
    receipt = _declined_receipt(
        operator, payg_station.connectors.first(), django_capture_on_commit_callbacks, retry_days=[]
    )

    def overdue_for(days: float):
        ReceiptCollection.objects.filter(invoice=receipt).update(overdue_at=timezone.now() - timedelta(days=days))
        return receipt

    return overdue_for


def _token(receipt):
    return factories.IdTokenFactory(operator=receipt.operator, driver=receipt.driver)


def _pay_with_a_new_default_card(receipt):
    visa = payment_method_add(driver=receipt.driver, payment_method_id="pm_card_visa")
    payment_method_set_default(driver=receipt.driver, payment_method_id=visa.id)
    paid = collection.receipt_pay_now(
        driver=receipt.driver,
        invoice_id=receipt.pk,
        attempt=collection.receipt_pay_attempt(receipt),
        payment_method_id=visa.id,
    )
    assert paid.state == "paid"


def _v16(station, uid: str) -> tuple[str, str, int]:
    """Authorize, then StartTransaction (a charger that starts from its local list anyway), as a 1.6 charger."""

    async def main():
        async with gateway() as gw, charger(gw, station.ocpp_identity) as cp:
            auth = await cp.call(call16.Authorize(id_tag=uid))
            start = await cp.call(
                call16.StartTransaction(connector_id=1, id_tag=uid, meter_start=0, timestamp=timezone.now().isoformat())
            )
            return auth.id_tag_info["status"], start.id_tag_info["status"], start.transaction_id

    return asyncio.run(main())


def _v201_authorize(station, uid: str) -> str:
    async def main():
        async with gateway() as gw, charger(gw, station.ocpp_identity, version="2.0.1") as cp:
            auth = await cp.call(call201.Authorize(id_token={"id_token": uid, "type": "ISO14443"}))
            return auth.id_token_info["status"]

    return asyncio.run(main())


@pytest.mark.django_db(transaction=True)
def test_an_overdue_driver_is_blocked_at_a_16_charger_until_the_receipt_is_paid(overdue, payg_station):
    receipt = overdue(8)
    uid = _token(receipt).uid
    auth, start, transaction_id = _v16(payg_station, uid)
    assert (auth, start) == ("Blocked", "Blocked")
    # refused before any hold: neither answer asked the card; the session the charger started anyway has its own
    # hold placed (billing's rule for every session), so a charger that ignores the refusal is still covered
    holds = Payment.objects.filter(id_token__uid=uid, kind="session_hold")
    assert [p.idempotency_key for p in holds] == [f"evb-session-{transaction_id}-hold"]
    assert ChargingSession.objects.get(pk=transaction_id).id_token.uid == uid  # the charger's start is kept

    _pay_with_a_new_default_card(receipt)
    auth, start, _ = _v16(payg_station, uid)
    assert (auth, start) == ("Accepted", "Accepted")


@pytest.mark.django_db(transaction=True)
def test_an_overdue_driver_gets_no_credit_at_a_201_charger(overdue, payg_station):
    receipt = overdue(8)
    uid = _token(receipt).uid
    assert _v201_authorize(payg_station, uid) == "NoCredit"
    _pay_with_a_new_default_card(receipt)
    assert _v201_authorize(payg_station, uid) == "Accepted"


@pytest.mark.django_db
def test_the_grace_and_the_operator_setting_decide(overdue, payg_station, settings):
    receipt = overdue(6)  # within the 7 days' grace
    token = _token(receipt)
    payment_method_set_default(
        driver=receipt.driver,
        payment_method_id=payment_method_add(driver=receipt.driver, payment_method_id="pm_card_visa").id,
    )  # a working card: only the rule can refuse

    def verdict():
        return session_services.token_authorize(station=payg_station, uid=token.uid)

    assert verdict().status == "Accepted"
    overdue(7.01)
    assert (verdict().status, verdict().reason) == ("Blocked", "overdue_receipt")
    receipt.operator.overdue_refusal_days = 30
    receipt.operator.save(update_fields=["overdue_refusal_days"])
    assert verdict().status == "Accepted"
    receipt.operator.overdue_refusal_days = None  # never refused
    receipt.operator.save(update_fields=["overdue_refusal_days"])
    overdue(365)
    assert verdict().status == "Accepted"


@pytest.mark.django_db
def test_the_portal_says_why_and_links_to_pay_now(client, overdue):
    receipt = overdue(2)
    client.force_login(receipt.driver)
    pay = reverse("portal:receipt_pay", args=[receipt.pk])
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert f"Receipt {receipt.number} is overdue: please pay it before" in page and pay in page

    overdue(8)
    for url in (reverse("portal:dashboard"), reverse("portal:tokens"), reverse("portal:invoices"), pay):
        page = client.get(url).content.decode()
        assert "Chargers refuse your cards since" in page and f"receipt {receipt.number} is overdue" in page, url
        assert f'href="{pay}"' in page, url

    receipt.driver.language = "de"
    receipt.driver.save(update_fields=["language"])
    page = client.get(reverse("portal:tokens")).content.decode()
    assert "Ladestationen lehnen Ihre Karten seit" in page and english_lines(page) == []

    _pay_with_a_new_default_card(receipt)
    page = client.get(reverse("portal:dashboard")).content.decode()
    assert receipt.number not in page


@pytest.mark.django_db
def test_another_drivers_overdue_receipt_refuses_only_them(client, operator, overdue, payg_station):
    receipt = overdue(8)
    other = factories.DriverFactory(operator=operator)
    client.force_login(other)
    assert receipt.number not in client.get(reverse("portal:dashboard")).content.decode()
    token = factories.IdTokenFactory(operator=operator, driver=other)
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted


@pytest.mark.django_db
def test_a_business_card_and_a_running_transaction_are_not_refused(overdue, payg_station):
    """The company pays for its business card's sessions; a token re-presented for its running transaction (a 2.0.1
    TransactionEvent, a StopTransaction) is never cut off."""
    receipt = overdue(8)
    driver = receipt.driver
    company = factories.CompanyFactory(operator=receipt.operator)
    driver.company = company
    driver.save(update_fields=["company"])
    business = factories.IdTokenFactory(operator=receipt.operator, driver=driver, company=company, charging="business")
    assert session_services.token_authorize(station=payg_station, uid=business.uid).accepted

    private = _token(receipt)
    assert session_services.token_authorize(station=payg_station, uid=private.uid).reason == "overdue_receipt"
    session_services.session_start(
        connector=payg_station.connectors.first(),
        id_token=private,
        started_at=timezone.now(),
        meter_start_wh=0,
        transaction_ref="running",
    )
    assert session_services.token_authorize(station=payg_station, uid=private.uid).accepted
