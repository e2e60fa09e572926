"""Locations and tariffs between our live server and the extrawest-ocpi eMSP: the peer pulls them page by page
(each object validated by the library's pydantic schemas), and we push them (PUT location, PATCH EVSE status,
PUT tariff) into its receiver endpoints."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_app.models import PriceComponent, TariffElement
from ocpi_app import credentials
from ocpi_app.models import PartnerTariff, PushDelivery
from sessions_app.services import connector_status_record
from tests import factories

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("ocpi_peer")]  # one peer


@pytest.fixture
def registered_peer(ocpi_peer, live_ocpi, operator, cpo_party):
    partner = credentials.partner_register_outgoing(operator=operator, name="Extrawest", token_a=ocpi_peer.token_a,
                                                    versions_url=ocpi_peer.versions_url)
    return partner


def test_the_peer_pulls_our_locations_and_its_tariffs_page_by_page(ocpi_peer, registered_peer, operator,
                                                                  other_operator, settings):
    settings.OCPI_PAGE_LIMIT = 2
    for n in range(3):
        factories.ConnectorFactory(station__location__operator=operator, station__location__name=f"Site {n}")
    factories.ConnectorFactory(station__location__operator=other_operator)
    tariff = factories.TariffFactory(operator=operator, ocpi_id="ROAM-1")
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=Decimal("0.45"), vat=Decimal(19),
                                  step_size=1)
    factories.TariffFactory(operator=operator, ocpi_id="NOT-SHOWN")
    PartnerTariff.objects.create(partner=registered_peer, tariff=tariff)

    pulled = ocpi_peer.control("pull/locations", {})
    assert "error" not in pulled, pulled
    assert (pulled["pages"], pulled["totals"]) == (2, [3, 3])
    assert sorted(loc["name"] for loc in pulled["objects"]) == ["Site 0", "Site 1", "Site 2"]
    assert pulled["objects"][0]["evses"][0]["connectors"][0]["tariff_ids"] == ["roam-1"]  # CiString: any case

    pulled = ocpi_peer.control("pull/tariffs", {})
    assert [t["id"].upper() for t in pulled["objects"]] == ["ROAM-1"]
    assert Decimal(str(pulled["objects"][0]["elements"][0]["price_components"][0]["price"])) == Decimal("0.45")


def test_changes_are_pushed_into_the_peer(ocpi_peer, registered_peer, operator):
    connector = factories.ConnectorFactory(station__location__operator=operator, station__location__name="Harbour")
    location_id = str(connector.station.location_id)
    stored = ocpi_peer.control("store")["objects"]["locations"][location_id]
    assert stored["name"] == "Harbour"
    assert stored["evses"][0]["uid"].upper() == f"{connector.station.ocpp_identity}-1".upper()  # CiString

    at = datetime(2026, 3, 5, 10, tzinfo=UTC)
    connector_status_record(station=connector.station, connector_number=1, status="Charging", timestamp=at,
                            received_at=at)
    patch = PushDelivery.objects.get(method="PATCH")
    assert (patch.status, patch.last_http_status, patch.last_status_code) == ("succeeded", 200, 1000)

    tariff = factories.TariffFactory(operator=operator, ocpi_id="PUSHED")
    PartnerTariff.objects.create(partner=registered_peer, tariff=tariff)
    assert ocpi_peer.control("store")["objects"]["tariffs"]["pushed"]["currency"] == "EUR"
    assert not PushDelivery.objects.exclude(status="succeeded").exists(), list(
        PushDelivery.objects.values("method", "url", "status", "last_error"))
