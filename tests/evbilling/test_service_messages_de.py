"""Issue 21: services' messages in the reader's language. A message stored on a row (a payment's failure) stays
English in the database and is said in the reader's language when shown; English stays the default."""
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from billing_app.invoicing.documents import _STATE_WORDS
from billing_app.models import Payment, Tariff
from billing_app.payments.messages import NO_CARD, ended_as, failure_text, not_refunded, refund_failure_text
from billing_app.payments.services import RefundError, payment_refund
from billing_app.pricing.ocpi import dumps, loads
from billing_app.settlement.review import ReviewError, _energy, charge_review_accept
from billing_app.tariffs.what_if import WhatIfError, draft_from_ocpi
from evbilling.errors import NotFoundError
from sessions_app.services.signed_values import MeterKeyError, meter_key_check
from tests import factories
from tests.evbilling.api_fixtures import T0, api_for, assert_error
from webhooks_app.services import WebhookNotFound, webhook_delivery_redeliver

DEMO_TARIFFS = Path(__file__).resolve().parents[2] / "billing_app" / "demo_tariffs"


@pytest.fixture(autouse=True)
def _viewer_left_behind():
    """The viewer middleware activates a signed-in user's language and time zone for the thread and leaves them
    there after the request: reset both, so later tests in the same process run as they would alone."""
    yield
    timezone.deactivate()
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def no_card_payment(driver):
    return Payment.objects.create(operator=driver.operator, driver=driver, kind=Payment.Kind.SESSION_HOLD,
                                  status=Payment.Status.FAILED, currency="EUR", idempotency_key="svcmsg-no-card",
                                  amount_requested=Decimal("50.00"), failure_code="no_payment_method",
                                  failure_message=NO_CARD)


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "Für den Fahrer ist keine Karte hinterlegt."), ("en", "The driver has no card on file.")])
def test_stored_payment_failure_is_shown_in_the_drivers_language(driver, no_card_payment, language, expected):
    driver.language = language
    driver.save(update_fields=["language"])
    client = Client()
    client.force_login(driver)
    body = client.get(f"/api/v1/payments/{no_card_payment.pk}/").json()
    assert body["failure_reason"] == expected
    no_card_payment.refresh_from_db()
    assert no_card_payment.failure_message == "The driver has no card on file."


def test_stored_payment_failure_sentences_read_back():
    with translation.override("de"):
        assert failure_text(ended_as("canceled")) == "PaymentIntent endete als canceled"
        assert failure_text("Your card was declined.") == "Ihre Karte wurde abgelehnt."
        assert failure_text("Something Stripe said.") == "Something Stripe said."
    assert failure_text(ended_as("canceled")) == "PaymentIntent ended as canceled"


def _bad_tariff_upload():
    data = loads((DEMO_TARIFFS / "voltara-standard.json").read_text())
    data["elements"][0]["restrictions"] = {"start_time": "25:00"}
    return SimpleUploadedFile("t.json", dumps(data).encode())


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "elements[0].restrictions.start_time: '25:00' ist keine Uhrzeit im Format HH:MM"),
    ("en", "elements[0].restrictions.start_time: '25:00' is not HH:MM")])
def test_tariff_import_error_in_the_admin_speaks_the_staffs_language(client, operator, language, expected):
    client.force_login(factories.OperatorStaffFactory(operator=operator, language=language))
    response = client.post(reverse("admin:billing_app_tariff_import"),
                           {"operator": operator.pk, "file": _bad_tariff_upload()})
    assert response.status_code == 200
    assert response.context["form"].errors["file"] == [expected]
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(("language", "expected"), [
    ("de", "Nennen Sie den Ladevorgang oder die Rechnung, um die es im Ticket geht."),
    ("en", "Name the session or the invoice the ticket is about.")])
def test_serializer_refusal_follows_accept_language(driver, language, expected):
    response = api_for(driver).post("/api/v1/disputes/", {"reason": "wrong_amount", "description": "x"},
                                    format="json", HTTP_ACCEPT_LANGUAGE=language)
    error = assert_error(response, 400, field="session")
    assert error["fields"]["session"] == [expected]


def test_refusals_raised_in_the_request_speak_its_language(driver, no_card_payment):
    station = factories.ChargingStationFactory(location__operator=driver.operator)
    with translation.override("de"):
        with pytest.raises(MeterKeyError, match=r"^Kein öffentlicher Schlüssel einer elliptischen Kurve"):
            meter_key_check(station=station, evse_number=1, public_key="not a key", valid_from=T0)
        with pytest.raises(RefundError, match=r"^Eine Erstattung muss über null liegen\.$"):
            payment_refund(payment=no_card_payment, amount=Decimal("0"), reason="x", idempotency_key="svcmsg-r")
        with pytest.raises(WhatIfError, match=r"^elements\[0\]: unbekanntes Feld 'colour'$"):
            draft_from_ocpi({**loads((DEMO_TARIFFS / "voltara-standard.json").read_text()),
                             "elements": [{"colour": "red", "price_components": []}]})
    with pytest.raises(RefundError, match=r"^A refund must be above zero\.$"):
        payment_refund(payment=no_card_payment, amount=Decimal("0"), reason="x", idempotency_key="svcmsg-r")


def test_a_credit_notes_stored_refund_refusal_is_said_in_the_readers_language():
    stored = not_refunded(Decimal("5.00"), "EUR", ["Your card was declined."])
    assert stored == "5.00 EUR not refunded: Your card was declined."
    with translation.override("de"):
        assert refund_failure_text(stored) == "5.00 EUR nicht erstattet: Ihre Karte wurde abgelehnt."
        assert refund_failure_text(not_refunded(Decimal("1.00"), "EUR", [])) == (
            "1.00 EUR nicht erstattet: von der Karte eingezogen ist nichts mehr zu erstatten")
    assert refund_failure_text(stored) == stored


def test_review_and_webhook_refusals_in_german(db, driver):
    with translation.override("de"):
        with pytest.raises(NotFoundError, match=r"^Kein solcher zur Prüfung angehaltener Ladevorgang\.$"):
            charge_review_accept(charge_id=0, by=driver)
        with pytest.raises(ReviewError, match=r"^Die korrigierte Energie muss eine Zahl in kWh sein\.$"):
            _energy("viel")
        with pytest.raises(WebhookNotFound, match=r"^Keine solche Webhook-Zustellung\.$"):
            webhook_delivery_redeliver(delivery_id=0, user=driver)


def test_the_payment_admin_says_the_stored_failure_in_the_staffs_language(client, operator, no_card_payment):
    client.force_login(factories.OperatorStaffFactory(operator=no_card_payment.operator, language="de"))
    page = client.get(reverse("admin:billing_app_payment_change", args=[no_card_payment.pk]))
    assert page.status_code == 200
    assert "Für den Fahrer ist keine Karte hinterlegt." in page.content.decode()


def test_an_invoice_refusal_names_the_state_in_german():
    invoice = SimpleNamespace(state="paid")
    with translation.override("de"):
        words = {"invoice": "VOLT-2026-000001", "state": _STATE_WORDS[invoice.state](),
                 "refusal": translation.gettext("only an issued, unpaid invoice can be voided")}
        assert translation.gettext("%(invoice)s is %(state)s: %(refusal)s.") % words == (
            "VOLT-2026-000001 ist bezahlt: nur eine ausgestellte, unbezahlte Rechnung kann storniert werden.")
