"""REST API: token login, scoping (drivers see their own, staff their operator's), wrong owner is 404,
one JSON error shape, OCPI tariffs in and out, and a valid OpenAPI schema."""
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from billing_app.models import Tariff
from billing_app.pricing.ocpi import loads
from sessions_app.models import ChargingStation, IdToken
from tests import factories

DEMO_TARIFFS = Path(__file__).resolve().parents[2] / "billing_app" / "demo_tariffs"


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def sessions(operator, other_operator, driver, id_token):
    own = factories.ChargingSessionFactory(connector__station__location__operator=operator, id_token=id_token)
    own.state, own.meter_stop_wh = "completed", Decimal(5000)
    own.stopped_at = own.started_at + timedelta(hours=1)
    own.energy_wh = Decimal(4000)
    own.save()
    same_operator_other_driver = factories.ChargingSessionFactory(connector__station__location__operator=operator)
    foreign = factories.ChargingSessionFactory(connector__station__location__operator=other_operator)
    return own, same_operator_other_driver, foreign


def test_token_login_and_bad_credentials(db, driver):
    client = api_for()
    token = client.post("/api/v1/auth/token/", {"username": driver.username, "password": "pw-for-tests"})
    assert token.status_code == 200 and len(token.json()["token"]) == 40
    bad = client.post("/api/v1/auth/token/", {"username": driver.username, "password": "nope"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    authed = APIClient()
    authed.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert authed.get("/api/v1/sessions/").status_code == 200


def test_login_is_rate_limited(db, driver, settings):
    client = api_for()
    codes = [client.post("/api/v1/auth/token/", {"username": driver.username, "password": "x"}).status_code
             for _ in range(12)]
    assert codes[-1] == 429


def test_anonymous_gets_401_json(db):
    response = api_for().get("/api/v1/sessions/")
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_driver_sees_only_own_sessions_and_404_for_others(sessions, driver):
    own, other, foreign = sessions
    client = api_for(driver)
    listing = client.get("/api/v1/sessions/").json()
    assert [s["id"] for s in listing["results"]] == [own.pk]
    assert listing["results"][0]["energy_kwh"] == "4.000"
    for not_mine in (other, foreign):
        response = client.get(f"/api/v1/sessions/{not_mine.pk}/")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
        assert client.get(f"/api/v1/sessions/{not_mine.pk}/samples/").status_code == 404


def test_staff_see_their_operators_sessions(sessions, operator):
    own, other, _foreign = sessions
    ids = {s["id"] for s in api_for(factories.OperatorStaffFactory(operator=operator)).get(
        "/api/v1/sessions/").json()["results"]}
    assert ids == {own.pk, other.pk}


def test_session_filters_and_bad_filter_values(sessions, operator):
    client = api_for(factories.OperatorStaffFactory(operator=operator))
    assert client.get("/api/v1/sessions/", {"state": "completed"}).json()["count"] == 1
    bad = client.get("/api/v1/sessions/", {"started_after": "last tuesday"})
    assert bad.status_code == 400 and "started_after" in bad.json()["error"]["fields"]


def test_small_lists_have_an_exact_count(sessions, operator):
    body = api_for(factories.OperatorStaffFactory(operator=operator)).get("/api/v1/sessions/").json()
    assert (body["count"], body["count_is_exact"]) == (2, True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
def test_long_lists_report_the_planners_estimate_and_say_so(sessions, operator, monkeypatch):
    from sessions_app import admin_paginator

    monkeypatch.setattr(admin_paginator, "EXACT_BELOW", 0)  # as if the operator had passed 10,000 sessions
    body = api_for(factories.OperatorStaffFactory(operator=operator)).get("/api/v1/sessions/").json()
    assert body["count_is_exact"] is False and isinstance(body["count"], int) and len(body["results"]) == 2


def test_drivers_cannot_reach_stations_or_tariffs(db, driver):
    assert api_for(driver).get("/api/v1/stations/").status_code == 403
    assert api_for(driver).get("/api/v1/tariffs/").status_code == 403


def test_staff_create_a_station_in_their_location_only(operator, other_operator):
    staff = factories.OperatorStaffFactory(operator=operator)
    own = factories.LocationFactory(operator=operator)
    foreign = factories.LocationFactory(operator=other_operator)
    client = api_for(staff)
    body = {"ocpp_identity": "API-01", "location": own.pk, "password": "a-long-password-1234",
            "connectors": [{"number": 1, "standard": "IEC_62196_T2", "power_type": "AC_3_PHASE",
                            "max_power_kw": "22.0"}]}
    created = client.post("/api/v1/stations/", body, format="json")
    assert created.status_code == 201, created.json()
    station = ChargingStation.objects.get(ocpp_identity="API-01")
    assert station.check_password("a-long-password-1234") and station.connectors.count() == 1
    assert "password" not in created.json()
    sneaky = client.post("/api/v1/stations/", {**body, "ocpp_identity": "API-02", "location": foreign.pk},
                         format="json")
    assert sneaky.status_code == 400 and "location" in sneaky.json()["error"]["fields"]
    no_password = client.post("/api/v1/stations/", {**body, "ocpp_identity": "API-03", "password": ""},
                              format="json")
    assert no_password.status_code == 400


def test_staff_cannot_touch_another_operators_station(operator, other_operator):
    foreign = factories.ChargingStationFactory(location__operator=other_operator)
    client = api_for(factories.OperatorStaffFactory(operator=operator))
    assert client.get(f"/api/v1/stations/{foreign.pk}/").status_code == 404
    assert client.patch(f"/api/v1/stations/{foreign.pk}/", {"vendor": "x"}, format="json").status_code == 404
    assert client.delete(f"/api/v1/stations/{foreign.pk}/").status_code == 404


def test_support_reads_but_cannot_write_stations(operator):
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    station = factories.ChargingStationFactory(location__operator=operator)
    client = api_for(support)
    assert client.get(f"/api/v1/stations/{station.pk}/").status_code == 200
    assert client.patch(f"/api/v1/stations/{station.pk}/", {"vendor": "x"}, format="json").status_code == 403


def test_driver_blocks_their_lost_card_but_not_someone_elses(operator, driver, id_token):
    other_token = factories.IdTokenFactory(operator=operator)
    client = api_for(driver)
    assert [t["uid"] for t in client.get("/api/v1/tokens/").json()["results"]] == [id_token.uid]
    assert client.post(f"/api/v1/tokens/{id_token.pk}/block/").json()["status"] == "blocked"
    assert client.post(f"/api/v1/tokens/{other_token.pk}/block/").status_code == 404
    other_token.refresh_from_db()
    assert other_token.status == IdToken.Status.ACCEPTED


def test_tariff_ocpi_import_and_export(operator, other_operator):
    client = api_for(factories.OperatorStaffFactory(operator=operator))
    body = (DEMO_TARIFFS / "voltara-standard.json").read_text()
    created = client.post("/api/v1/tariffs/import/", body, content_type="application/json")
    assert created.status_code == 201, created.json()
    tariff = Tariff.objects.get(ocpi_id="VOLTARA-STANDARD")
    assert tariff.operator == operator
    exported = loads(client.get(f"/api/v1/tariffs/{tariff.pk}/ocpi/").content)
    assert exported["elements"][2]["price_components"][0]["price"] == Decimal("0.39")
    foreign = factories.TariffFactory(operator=other_operator)
    assert client.get(f"/api/v1/tariffs/{foreign.pk}/ocpi/").status_code == 404


@pytest.mark.parametrize(("body", "field"), [('{"id": "X"}', "tariff"), ("[1, 2]", "non_field_errors"),
                                             ("{not json", None)])
def test_tariff_import_bad_bodies(operator, body, field):
    response = api_for(factories.OperatorStaffFactory(operator=operator)).post(
        "/api/v1/tariffs/import/", body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field is None or field in error["fields"]
    assert not Tariff.objects.exists()


def test_openapi_schema_and_local_swagger(client, db):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/sessions/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
