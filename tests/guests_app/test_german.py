"""A German reader's guest pages (issue 21): the connector page the QR code opens and the live page behind the
guest's link follow the browser's Accept-Language, in German wording with German money, and say the same in
English as before for everyone else."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from guests_app import prices, services
from guests_app.models import GuestSession
from tests.guests_app.conftest import GUEST_KEY

pytestmark = pytest.mark.django_db


def _page(client, url: str, language: str) -> str:
    response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_the_connector_page_in_german(client, guest_connector, guest_tariff):
    page = _page(client, f"/charge/{guest_connector.station.ocpp_identity}/1/", "de-DE,de;q=0.9,en;q=0.5")
    assert '<html lang="de">' in page
    for german in ('id="connector-status">Frei<', "Ladesäule GUEST-AC-1, Anschluss 1",
                   "Typ 2 · AC dreiphasig · bis 22,0 kW",
                   "Preis bei Zahlung mit Karte",
                   "0,4641\xa0€ pro kWh inkl. 19 % MwSt.",
                   "7,14\xa0€ pro Stunde inkl. 19 % MwSt., abgerechnet je 1 Min.",
                   "0,60\xa0€ pro Ladevorgang inkl. 19 % MwSt.", "(nach 10 Min. Karenzzeit ab Ladeende)",
                   "Beispiel:", "Ein Ladevorgang mit 13 kWh in", "Bezahlen und starten",
                   'Vor dem Laden merken wir <strong id="hold">30,00\xa0€</strong> auf Ihrer Karte vor',
                   "E-Mail für die Quittung (optional)", "30,00\xa0€ vormerken und Laden starten",
                   "Ihre Karte wurde abgelehnt:", "Park- / Standzeit", "<h3>Jederzeit</h3>"):
        assert german in page, german
    for english in ("Available<", "Price for paying by card", "per kWh", "incl. 19 % VAT", "Pay and start",
                    "We hold", "E-mail for the receipt", "Example:", "three-phase",
                    "Your card was declined", "At any time"):
        assert english not in page, english


def test_the_connector_page_in_english_is_unchanged(client, guest_connector, guest_tariff):
    page = _page(client, f"/charge/{guest_connector.station.ocpp_identity}/1/", "en")
    assert '<html lang="en">' in page
    for english in ('id="connector-status">Available<', "Charger GUEST-AC-1, connector 1",
                    "Type 2 · AC three-phase · up to 22.0 kW",
                    "Price for paying by card (ad hoc)", "0,4641\xa0€ per kWh incl. 19 % VAT", "Pay and start",
                    'We hold <strong id="hold">30,00\xa0€</strong> on your card',
                    "Pay 30,00\xa0€ hold and start charging",
                    "E-mail for the receipt (optional)", "Example:", "<h3>At any time</h3>"):
        assert english in page, english
    assert "Ladesäule" not in page and "MwSt." not in page


def test_the_offline_connector_says_so_in_german(client, guest_connector, guest_tariff):
    guest_connector.station.connected_to = ""
    guest_connector.station.save(update_fields=["connected_to"])
    page = _page(client, f"/charge/{guest_connector.station.ocpp_identity}/1/", "de")
    assert 'id="connector-status">Offline<' in page
    assert "Diese Ladesäule ist gerade offline und kann daher nicht gestartet werden." in page


def test_the_live_page_with_signed_readings_in_german(client, signed_guest):
    page = _page(client, reverse("guests:live", args=[GUEST_KEY]), "de")
    assert '<html lang="de">' in page
    for german in ("Ihr Ladevorgang", 'id="state">Beendet<', "<dt>Energie</dt>", "<dt>Dauer</dt>",
                   "Auf Ihrer Karte vorgemerkt:", "30,00\xa0€", "Laden beenden",
                   "Vom Zähler TM-GUEST signiert, geprüft.", "Prüfen Sie sie mit der S.A.F.E.-Transparenzsoftware:",
                   "signierte Messwerte (XML)", "öffentlicher Schlüssel des Zählers",
                   "Stimmt etwas mit diesem Ladevorgang nicht?", "An den Support senden", "Bisherige Kosten"):
        assert german in page, german
    for english in ("Your charge", "Signed by meter", "signed meter values", "public key", "Held on your card",
                    "Stop charging", "Send to support", ">Ended<"):
        assert english not in page, english
    english = _page(client, reverse("guests:live", args=[GUEST_KEY]), "en")
    assert "Signed by meter TM-GUEST, verified." in english and 'id="state">Ended<' in english
    assert "signed meter values (XML)" in english and "Vom Zähler" not in english


def test_the_status_answer_and_stored_messages_follow_the_language(client, signed_guest):
    status = client.get(reverse("guests:status", args=[GUEST_KEY]), HTTP_ACCEPT_LANGUAGE="de").json()
    assert status["state_label"] == "Beendet" and status["hold_shown"] == "30,00\xa0€"
    missing = client.get(reverse("guests:status", args=["no-such-key"]), HTTP_ACCEPT_LANGUAGE="de").json()
    assert missing["error"]["message"] == "Diesen Ladevorgang gibt es nicht."

    GuestSession.objects.filter(pk=signed_guest.pk).update(state=GuestSession.State.STARTING, session=None,
                                                           language="de")
    failed = services.guest_start_fail(guest_id=signed_guest.pk, message="No car was plugged in within %(minutes)s "
                                       "min; your hold was released and nothing was charged.", values={"minutes": 3})
    assert failed.message == ("Innerhalb von 3 Min. wurde kein Fahrzeug angeschlossen; Ihre Vormerkung wurde "
                              "freigegeben und es wurde nichts berechnet.")


def test_the_price_api_and_the_chargers_display_text_in_german(guest_connector, guest_tariff):
    price = prices.connector_price(guest_connector, language="de")
    assert price.elements[-1].components[0].label == "Energie" and price.elements[-1].when == "jederzeit"
    with translation.override("de"):  # the charger's display text, sent while the guest's request is German
        text = prices.price_text(price)
    assert text.startswith("Ad-hoc-Preis. 22:00-06:00: Energie ") and "Vormerkung 30,00\xa0€." in text
    english = prices.connector_price(guest_connector, language="en")
    assert english.elements[-1].components[0].label == "Energy"
    assert english.example.startswith("A 13 kWh charge in 40 minutes")
