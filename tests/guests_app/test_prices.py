"""The connector page and the public price API: status, the ad hoc price incl. VAT before start, the worked
example priced by the engine, and the QR codes operators print."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.models import Tariff, TariffAssignment
from guests_app import prices
from sessions_app.models import ChargingSession, IdToken, Location
from tests import factories
from tests.guests_app.conftest import online

pytestmark = pytest.mark.django_db

NOON_BERLIN = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
NIGHT_BERLIN = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)


def test_the_page_shows_status_and_every_component_incl_vat_with_its_rate(client, guest_connector, guest_tariff):
    response = client.get(f"/charge/{guest_connector.station.ocpp_identity}/1/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="connector-status">Available<' in page
    assert "Type 2 · AC three-phase · up to 22.0 kW" in page
    assert "0,4641\xa0€ per kWh incl. 19 % VAT" in page  # 0.39 excl. + 19 %, as English is written in Germany (en_DE)
    assert "0,3451\xa0€ per kWh incl. 19 % VAT" in page  # the night price 0.29 excl.
    assert "22:00-06:00" in page
    assert "0,60\xa0€ per session incl. 19 % VAT" in page  # 0.50 + 19 % = 0.595, shown at the minor unit
    assert "7,14\xa0€ per hour incl. 19 % VAT, billed per 1 min" in page  # parking 6.00/h
    assert "after 10 min grace once charging ends" in page
    assert "We hold <strong id=\"hold\">30,00\xa0€</strong>" in page
    assert "Example:" in page


def test_the_example_is_the_engines_price_at_that_time_of_day(guest_connector, guest_tariff):
    day = prices.connector_price(guest_connector, at=NOON_BERLIN)
    night = prices.connector_price(guest_connector, at=NIGHT_BERLIN)
    # 22 kW x 90 % x 40 min = 13 kWh; day: 13 x 0.39 + 0.50 fee = 5.57 net, 19 % VAT; night: 13 x 0.29 + the
    # fee, which only the all-day element has (OCPI: each dimension from the first active element that prices it)
    assert (day.example_kwh, day.example_minutes, day.example_total_incl_vat) == ("13", 40, "6.63")
    # night: 3.77 + 0.50 = 4.27 net, 19 % VAT per rate 0.8113 -> 0.81 (the lines' own VAT, 0.72 + 0.10, made 5.09)
    assert night.example_total_incl_vat == "5.08"
    assert day.example == "A 13 kWh charge in 40 minutes, started now, costs 6,63\xa0€ incl. VAT."


def test_money_is_written_the_readers_way_where_the_charger_is(guest_connector, guest_tariff):
    assert prices.connector_price(guest_connector, language="de", at=NOON_BERLIN).hold_shown == "30,00\xa0€"
    location = guest_connector.station.location
    location.country = "IE"
    location.save()
    irish = prices.connector_price(guest_connector, language="en", at=NOON_BERLIN)
    assert irish.hold_shown == "€30.00" and irish.example.endswith("costs €6.63 incl. VAT.")


def test_a_dc_connector_gets_the_30_kwh_in_40_minutes_example(operator, guest_tariff):
    dc = factories.ConnectorFactory(station__location__operator=operator, max_power_kw=Decimal("150"))
    TariffAssignment.objects.create(tariff=guest_tariff, connector=dc)
    assert prices.connector_price(dc, at=NOON_BERLIN).example.startswith("A 30 kWh charge in 40 minutes")


def test_the_ad_hoc_tariff_wins_over_a_more_specific_regular_one(operator, guest_connector):
    regular = factories.energy_tariff(operator, price="0.20")
    TariffAssignment.objects.filter(tariff=regular).update(connector=guest_connector)
    assert prices.ad_hoc_tariff(guest_connector) == regular  # no ad hoc tariff: the regular one
    from tests.guests_app.conftest import ad_hoc_tariff

    ad_hoc = ad_hoc_tariff(operator)  # the operator's default
    assert prices.ad_hoc_tariff(guest_connector) == ad_hoc


def test_a_guest_session_is_settled_with_the_ad_hoc_tariff(operator, guest_connector, guest_tariff):
    from billing_app.tariffs.services import tariff_for_session

    regular = factories.energy_tariff(operator, price="0.20")
    TariffAssignment.objects.filter(tariff=regular).update(connector=guest_connector)
    guest_token = factories.IdTokenFactory(operator=operator, type=IdToken.Type.AD_HOC)
    member_token = factories.IdTokenFactory(operator=operator)
    guest_session = factories.ChargingSessionFactory(operator=operator, connector=guest_connector,
                                                     id_token=guest_token)
    member_session = ChargingSession(operator=operator, connector=guest_connector, id_token=member_token,
                                     driver=member_token.driver, started_at=guest_session.started_at)
    assert tariff_for_session(guest_session) == guest_tariff
    assert tariff_for_session(member_session) == regular


def test_status_is_offline_or_occupied_from_the_gateways_view(client, operator, guest_connector, guest_tariff):
    station = guest_connector.station
    station.connected_to = ""
    station.save()
    page = client.get(f"/charge/{station.ocpp_identity}/1/").content.decode()
    assert 'id="connector-status">Offline<' in page and "pay-form" not in page
    online(station)
    factories.ChargingSessionFactory(operator=operator, connector=guest_connector)
    page = client.get(f"/charge/{station.ocpp_identity}/1/").content.decode()
    assert 'id="connector-status">Occupied<' in page and "This connector is in use" in page
    ChargingSession.objects.all().delete()
    guest_connector.status = "Faulted"
    guest_connector.save()
    assert prices.connector_status(guest_connector) == prices.OFFLINE


def test_unknown_charger_or_connector_is_404(client, guest_connector):
    assert client.get(f"/charge/{guest_connector.station.ocpp_identity}/2/").status_code == 404
    assert client.get("/charge/NOPE/1/").status_code == 404
    assert client.get("/api/public/prices/connectors/NOPE/1/").status_code == 404


def test_the_page_without_a_tariff_says_so(client, guest_connector):
    page = client.get(f"/charge/{guest_connector.station.ocpp_identity}/1/").content.decode()
    assert "has no price yet" in page and "pay-form" not in page


def test_the_public_api_gives_components_incl_vat_and_status(client, guest_connector, guest_tariff):
    data = client.get(f"/api/public/prices/connectors/{guest_connector.station.ocpp_identity}/1/").json()
    assert data["status"] == "available" and data["max_power_kw"] == "22.0"
    assert data["price"]["tariff_type"] == Tariff.Type.AD_HOC_PAYMENT
    day = data["price"]["elements"][1]
    assert [(c["type"], c["price_excl_vat"], c["vat_rate"], c["price_incl_vat"]) for c in day["components"]] == [
        ("ENERGY", "0.39", "19", "0.4641"), ("FLAT", "0.5", "19", "0.6"), ("PARKING_TIME", "6", "19", "7.14")]
    assert data["price"]["elements"][0]["restrictions"] == {"start_time": "22:00", "end_time": "06:00"}
    assert data["price"]["hold"] == "30.00" and data["price"]["parking_grace_minutes"] == 10
    location = client.get(f"/api/public/prices/locations/{guest_connector.station.location_id}/").json()
    assert [c["connector"] for c in location["connectors"]] == [1]
    assert location["connectors"][0]["page"] == f"/charge/{guest_connector.station.ocpp_identity}/1/"


def test_operators_get_qr_codes_of_their_own_connectors_only(client, operator, other_operator, guest_connector):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    png = client.get(reverse("admin:guests_qr_connector", args=[guest_connector.pk, "png"]))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = client.get(reverse("admin:guests_qr_connector", args=[guest_connector.pk, "svg"]))
    assert svg.status_code == 200 and b"<svg" in svg.content
    sheet = client.get(reverse("admin:guests_qr_sheet", args=[guest_connector.station.location_id]))
    assert sheet.status_code == 200
    assert f"http://testserver/charge/{guest_connector.station.ocpp_identity}/1/" in sheet.content.decode()
    changelist = client.get(reverse("admin:guests_app_guestsession_changelist"))
    assert changelist.status_code == 200 and "QR codes for chargers" in changelist.content.decode()

    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(reverse("admin:guests_qr_connector", args=[guest_connector.pk, "png"])).status_code == 404
    assert client.get(reverse("admin:guests_qr_sheet", args=[guest_connector.station.location_id])).status_code == 404



def test_the_qr_sheet_speaks_the_staff_language_and_its_stickers_the_chargers_country(client, operator,
                                                                                      guest_connector):
    client.force_login(factories.OperatorStaffFactory(operator=operator, language="de"))
    location = guest_connector.station.location  # in DE
    sheet = client.get(reverse("admin:guests_qr_sheet", args=[location.pk])).content.decode()
    assert '<html lang="de">' in sheet and '<div class="sheet" lang="de">' in sheet
    assert f"<title>QR-Codes \u2013 {location.name}</title>" in sheet and ">drucken</a>" in sheet
    assert "Scannen und laden \u2013 GUEST-AC-1 #1" in sheet
    assert "bis 22,0 kW · mit Karte zahlen, ohne Konto" in sheet
    assert not [key for key in ("QR codes", ">print<", "Scan to charge", "up to", "pay by card", "no account")
                if key in sheet]

    Location.objects.filter(pk=location.pk).update(country="GB")  # drivers in Britain read English stickers
    sheet = client.get(reverse("admin:guests_qr_sheet", args=[location.pk])).content.decode()
    assert '<html lang="de">' in sheet and '<div class="sheet" lang="en">' in sheet
    assert "Die Aufkleber werden auf Englisch gedruckt" in sheet
    assert "Scan to charge \u2013 GUEST-AC-1 #1" in sheet and "up to 22.0 kW · pay by card, no account" in sheet
