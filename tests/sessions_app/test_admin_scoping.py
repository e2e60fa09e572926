"""The admin shows operator staff only their operator's rows, FK choices included; another
operator's row reached by URL is a 404; support staff look but cannot change."""
import pytest
from django.urls import reverse

from sessions_app.models import ChargingStation, IdToken, Location
from tests import factories


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


@pytest.fixture
def own_station(operator):
    return factories.ChargingStationFactory(location__operator=operator, ocpp_identity="OWN-01")


@pytest.fixture
def foreign_station(other_operator):
    return factories.ChargingStationFactory(location__operator=other_operator, ocpp_identity="FOREIGN-01")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_changelist_lists_only_own_rows(staff_client, own_station, foreign_station):
    response = staff_client.get(reverse("admin:sessions_app_chargingstation_changelist"))
    assert response.status_code == 200
    assert b"OWN-01" in response.content
    assert b"FOREIGN-01" not in response.content


@pytest.mark.parametrize(
    "url_name", ["admin:sessions_app_chargingstation_change", "admin:sessions_app_chargingstation_delete"]
)
def test_foreign_row_by_url_is_not_found(staff_client, foreign_station, url_name):
    response = staff_client.get(reverse(url_name, args=[foreign_station.pk]))
    # The admin redirects a missing object to the index with a message, never shows it.
    assert response.status_code in (302, 404)
    assert b"FOREIGN-01" not in response.content


def test_foreign_session_is_not_visible(staff_client, other_operator, operator):
    own = factories.ChargingSessionFactory(connector__station__location__operator=operator, transaction_ref="own-tx")
    foreign = factories.ChargingSessionFactory(
        connector__station__location__operator=other_operator, transaction_ref="foreign-tx"
    )
    listing = staff_client.get(reverse("admin:sessions_app_chargingsession_changelist"))
    assert f">{own.pk}<".encode() in listing.content
    assert f">{foreign.pk}<".encode() not in listing.content
    detail = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[foreign.pk]))
    assert detail.status_code == 302


def test_foreign_key_choices_exclude_other_operators(staff_client, operator, other_operator):
    own_location = factories.LocationFactory(operator=operator, name="Own site")
    factories.LocationFactory(operator=other_operator, name="Foreign site")
    response = staff_client.get(reverse("admin:sessions_app_chargingstation_add"))
    choices = list(response.context["adminform"].form.fields["location"].queryset)
    assert choices == [own_location]


def test_posting_a_foreign_location_is_a_form_error(staff_client, other_operator):
    foreign_location = factories.LocationFactory(operator=other_operator)
    response = staff_client.post(
        reverse("admin:sessions_app_chargingstation_add"),
        {"location": foreign_location.pk, "ocpp_identity": "SNEAKY-01", "password": "a-long-password-1234",
         "connectors-TOTAL_FORMS": 0, "connectors-INITIAL_FORMS": 0},
    )
    assert response.status_code == 200
    assert "location" in response.context["adminform"].form.errors
    assert not ChargingStation.objects.filter(ocpp_identity="SNEAKY-01").exists()


def test_staff_add_row_is_owned_by_their_operator(staff_client, operator):
    response = staff_client.post(
        reverse("admin:sessions_app_location_add"),
        {"name": "New site", "address": "Road 2", "postal_code": "1", "city": "Berlin", "country": "DE",
         "time_zone": "Europe/Berlin", "latitude": "52.5", "longitude": "13.4"},
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Location.objects.get(name="New site").operator == operator


def test_bad_location_input_gets_form_errors(staff_client):
    response = staff_client.post(
        reverse("admin:sessions_app_location_add"),
        {"name": "Bad", "address": "x", "postal_code": "1", "city": "x", "country": "germany",
         "time_zone": "Mars/Olympus", "latitude": "95", "longitude": "13.4"},
    )
    errors = response.context["adminform"].form.errors
    assert {"country", "time_zone", "latitude"} <= set(errors)
    assert not Location.objects.filter(name="Bad").exists()


def test_station_password_is_hashed_from_the_form(staff_client, operator):
    location = factories.LocationFactory(operator=operator)
    response = staff_client.post(
        reverse("admin:sessions_app_chargingstation_add"),
        {"location": location.pk, "ocpp_identity": "NEW-01", "password": "a-long-password-1234",
         "connectors-TOTAL_FORMS": 0, "connectors-INITIAL_FORMS": 0},
    )
    assert response.status_code == 302
    station = ChargingStation.objects.get(ocpp_identity="NEW-01")
    assert station.check_password("a-long-password-1234")
    assert "a-long-password" not in station.password_hash


def test_token_driver_choices_are_scoped(staff_client, operator, other_operator):
    factories.DriverFactory(operator=other_operator, username="foreign-driver")
    own = factories.DriverFactory(operator=operator, username="own-driver")
    response = staff_client.post(
        reverse("admin:sessions_app_idtoken_add"),
        {"uid": "04ABCDEF", "type": "RFID", "driver": own.pk, "status": "accepted", "charging": "private"},
    )
    assert response.status_code == 302
    assert IdToken.objects.get(uid="04ABCDEF").operator == operator
    autocomplete = staff_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "sessions_app", "model_name": "idtoken", "field_name": "driver", "term": "driver"},
    )
    names = [r["text"] for r in autocomplete.json()["results"]]
    assert names == ["own-driver"]


def test_staff_cannot_see_other_operator_in_operator_list(staff_client, operator, other_operator):
    response = staff_client.get(reverse("admin:sessions_app_operator_changelist"))
    assert operator.name.encode() in response.content
    assert other_operator.name.encode() not in response.content


def test_support_can_view_supported_operators_but_not_edit(client, operator, other_operator, own_station,
                                                            foreign_station):
    support = factories.SupportFactory()
    support.supported_operators.add(operator)
    client.force_login(support)
    listing = client.get(reverse("admin:sessions_app_chargingstation_changelist"))
    assert b"OWN-01" in listing.content and b"FOREIGN-01" not in listing.content
    response = client.post(reverse("admin:sessions_app_chargingstation_change", args=[own_station.pk]),
                           {"ocpp_identity": "RENAMED"})
    assert response.status_code == 403
    own_station.refresh_from_db()
    assert own_station.ocpp_identity == "OWN-01"


def test_drivers_cannot_use_the_admin(client, driver):
    client.force_login(driver)
    response = client.get(reverse("admin:sessions_app_chargingsession_changelist"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_superuser_sees_everything(admin_client, own_station, foreign_station):
    response = admin_client.get(reverse("admin:sessions_app_chargingstation_changelist"))
    assert b"OWN-01" in response.content and b"FOREIGN-01" in response.content
