"""Locations and Tariffs, Sender interfaces: paginated lists with their headers and filters, one location /
EVSE / connector, per-partner tariffs, and nothing of another operator or another partner's tariffs."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing_app.models import PriceComponent, TariffElement
from ocpi_app.locations import location_touch
from ocpi_app.models import PartnerTariff, PushDelivery
from sessions_app.services import connector_status_record
from tests import factories
from tests.ocpi_app.conftest import auth_header, registered_partner

pytestmark = pytest.mark.django_db


def get(client, url, token, **params):
    return client.get(url, params, **auth_header(token))


@pytest.fixture
def sites(operator, other_operator, cpo_party):
    ours = [factories.ConnectorFactory(station__location__operator=operator, station__location__name=f"Site {n}")
            for n in range(3)]
    theirs = factories.ConnectorFactory(station__location__operator=other_operator)
    for n, connector in enumerate(ours):
        location_touch(connector.station.location_id, at=datetime(2026, 3, 1 + n, tzinfo=UTC))
    return ours, theirs


def test_location_list_pages_with_link_total_and_limit(client, partner, sites):
    _, token = partner
    response = get(client, "/ocpi/2.2.1/locations", token, limit=2)
    body = response.json()
    assert response.status_code == 200 and body["status_code"] == 1000
    assert (response["X-Total-Count"], response["X-Limit"]) == ("3", "2")
    assert [loc["name"] for loc in body["data"]] == ["Site 0", "Site 1"]  # oldest first
    assert response["Link"] == '<http://testserver/ocpi/2.2.1/locations?offset=2&limit=2>; rel="next"'
    last = get(client, "/ocpi/2.2.1/locations", token, offset=2, limit=2)
    assert [loc["name"] for loc in last.json()["data"]] == ["Site 2"] and not last.has_header("Link")


def test_the_server_caps_the_limit(client, partner, sites, settings):
    settings.OCPI_PAGE_LIMIT = 2
    response = get(client, "/ocpi/2.2.1/locations", partner[1], limit=1000)
    assert response["X-Limit"] == "2" and len(response.json()["data"]) == 2


def test_date_filters_are_inclusive_from_exclusive_to_and_kept_in_the_link(client, partner, sites):
    response = get(client, "/ocpi/2.2.1/locations", partner[1], date_from="2026-03-02T00:00:00Z",
                   date_to="2026-03-03T00:00:00Z")
    assert [loc["name"] for loc in response.json()["data"]] == ["Site 1"]
    assert response["X-Total-Count"] == "1"
    response = get(client, "/ocpi/2.2.1/locations", partner[1], date_from="2026-03-02T00:00:00Z", limit=1)
    assert "date_from=2026-03-02T00%3A00%3A00Z" in response["Link"] and "offset=1" in response["Link"]


@pytest.mark.parametrize("params, field", [({"limit": "abc"}, "limit"), ({"offset": "-1"}, "offset"),
                                           ({"limit": "0"}, "limit"), ({"date_from": "yesterday"}, "date_from"),
                                           ({"date_from": "2026-03-03T00:00:00Z", "date_to": "2026-03-01T00:00:00Z"},
                                            "date_from")])
def test_bad_list_parameters_are_2001(client, partner, sites, params, field):
    response = get(client, "/ocpi/2.2.1/locations", partner[1], **params)
    assert response.status_code == 400
    assert response.json()["status_code"] == 2001 and field in response.json()["status_message"]


def test_a_location_its_evse_and_connector(client, partner, sites):
    connector = sites[0][0]
    location_id, uid = connector.station.location_id, f"{connector.station.ocpp_identity}-1"
    data = get(client, f"/ocpi/2.2.1/locations/{location_id}", partner[1]).json()["data"]
    assert (data["country_code"], data["party_id"], data["country"]) == ("DE", "VOL", "DEU")
    assert data["evses"][0]["uid"] == uid and data["evses"][0]["status"] == "UNKNOWN"
    evse = get(client, f"/ocpi/2.2.1/locations/{location_id}/{uid}", partner[1]).json()["data"]
    assert evse["evse_id"] == f"DE*VOL*E{connector.station.ocpp_identity}*1"
    plug = get(client, f"/ocpi/2.2.1/locations/{location_id}/{uid}/1/", partner[1]).json()["data"]
    assert (plug["standard"], plug["power_type"], plug["max_electric_power"]) == ("IEC_62196_T2", "AC_3_PHASE", 22000)


def test_another_operators_location_is_unknown_to_the_partner(client, partner, other_partner, sites):
    ours, theirs = sites
    response = get(client, f"/ocpi/2.2.1/locations/{theirs.station.location_id}", partner[1])
    assert (response.status_code, response.json()["status_code"]) == (404, 2003)
    names = [loc["name"] for loc in get(client, "/ocpi/2.2.1/locations", other_partner[1]).json()["data"]]
    assert names == [theirs.station.location.name]
    for path in ("nope", f"{ours[0].station.location_id}/no-such-evse", f"{ours[0].station.location_id}/x/9"):
        assert get(client, f"/ocpi/2.2.1/locations/{path}", partner[1]).json()["status_code"] == 2003


def _tariff(operator, ocpi_id, price):
    tariff = factories.TariffFactory(operator=operator, ocpi_id=ocpi_id)
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=Decimal(price), vat=Decimal(19),
                                  step_size=1)
    return tariff


def test_each_partner_sees_the_tariffs_chosen_for_it(client, operator, partner, other_partner):
    row, token = partner
    second, second_token = registered_partner(operator, name="Second", party_id="SEC")
    roaming, premium = _tariff(operator, "ROAM", "0.45"), _tariff(operator, "PREMIUM", "0.59")
    PartnerTariff.objects.create(partner=row, tariff=roaming)
    PartnerTariff.objects.create(partner=second, tariff=premium)
    data = get(client, "/ocpi/2.2.1/tariffs", token).json()["data"]
    assert [t["id"] for t in data] == ["ROAM"]
    assert data[0]["elements"][0]["price_components"][0]["price"] == 0.45
    assert b'"price": 0.45' in get(client, "/ocpi/2.2.1/tariffs", token).content  # exact decimals on the wire
    assert [t["id"] for t in get(client, "/ocpi/2.2.1/tariffs", second_token).json()["data"]] == ["PREMIUM"]
    assert get(client, "/ocpi/2.2.1/tariffs", other_partner[1]).json()["data"] == []


def test_locations_list_the_partners_tariff_ids(client, operator, partner, sites):
    PartnerTariff.objects.create(partner=partner[0], tariff=_tariff(operator, "ROAM", "0.45"))
    data = get(client, f"/ocpi/2.2.1/locations/{sites[0][0].station.location_id}", partner[1]).json()["data"]
    assert data["evses"][0]["connectors"][0]["tariff_ids"] == ["ROAM"]


def test_token_a_cannot_read_functional_modules(client, operator, cpo_party, sites):
    from ocpi_app.credentials import partner_token_a_issue

    _, token_a = partner_token_a_issue(operator=operator, name="Half")
    assert get(client, "/ocpi/2.2.1/locations", token_a).status_code == 401


def test_a_status_change_queues_a_patch_of_the_evse_for_every_partner(operator, partner, sites, settings,
                                                                      django_capture_on_commit_callbacks):
    settings.OCPI_ALLOW_PRIVATE_HOSTS = False  # the partner's example.com URL is refused: the push retries
    connector = sites[0][0]
    at = datetime(2026, 3, 5, 10, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        connector_status_record(station=connector.station, connector_number=1, status="Charging", timestamp=at,
                                received_at=at)
    push = PushDelivery.objects.get(method="PATCH")
    assert push.url == (f"https://emsp.example.com/ocpi/2.2.1/locations/DE/VOL/{connector.station.location_id}/"
                        f"{connector.station.ocpp_identity}-1")
    assert '"status": "CHARGING"' in push.body
    assert (push.status, push.attempts, push.partner_id) == ("retrying", 1, partner[0].pk)
    assert push.next_attempt_at is not None and push.last_error


def test_a_price_edited_on_its_own_pushes_the_tariff_again(operator, partner, other_partner, settings,
                                                          django_capture_on_commit_callbacks):
    """An element or a price component saved outside the tariff's form (its own admin page, an import) reaches
    the partners shown the tariff as a PUT of the whole tariff; a partner not shown it gets nothing."""
    settings.OCPI_ALLOW_PRIVATE_HOSTS = False  # the partner's example.com URL is refused: the push stays queued
    tariff = _tariff(operator, "ROAM", "0.45")
    PartnerTariff.objects.create(partner=partner[0], tariff=tariff)
    PushDelivery.objects.all().delete()
    component = PriceComponent.objects.get(element__tariff=tariff)
    component.price = Decimal("0.49")
    with django_capture_on_commit_callbacks(execute=True):
        component.save()
    push = PushDelivery.objects.get(module="tariffs", status__in=PushDelivery.OPEN_STATUSES)
    assert (push.method, push.partner_id) == ("PUT", partner[0].pk)
    assert push.url.endswith("/tariffs/DE/VOL/ROAM") and '"price": 0.49' in push.body
    with django_capture_on_commit_callbacks(execute=True):
        TariffElement.objects.create(tariff=tariff, position=1)
    pushes = PushDelivery.objects.filter(module="tariffs")
    assert pushes.count() == 2 and pushes.filter(status__in=PushDelivery.OPEN_STATUSES).count() == 1  # superseded
    assert not PushDelivery.objects.filter(partner=other_partner[0]).exists()
