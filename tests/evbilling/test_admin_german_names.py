"""Admin pages in German name models and fields in German (issue 21): changelists and change forms of the pages
operator staff use most, rendered for a German-speaking staff user."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from sessions_app.models import MeterSample
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def german_staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator, language="de"))
    return client


def _page(client, name, *args):
    response = client.get(reverse(f"admin:{name}", args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_session_pages_name_models_and_fields_in_german(german_staff_client, operator):
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator)
    listing = _page(german_staff_client, "sessions_app_chargingsession_changelist")
    assert "Ladevorgänge" in listing and "Charging sessions" not in listing
    form = _page(german_staff_client, "sessions_app_chargingsession_change", session.pk)
    for german in ("Ladevorgang", "Zustand", "Beendigungsgrund", "Transaktionsreferenz", "Kostenstelle"):
        assert german in form
    for english in ("Charging session", "Stop reason", "Cost centre", "Transaction ref"):
        assert english not in form


def test_station_pages_name_models_and_fields_in_german(german_staff_client, operator):
    station = factories.ChargingStationFactory(location__operator=operator)
    listing = _page(german_staff_client, "sessions_app_chargingstation_changelist")
    assert "Ladestationen" in listing and "Charging stations" not in listing
    form = _page(german_staff_client, "sessions_app_chargingstation_change", station.pk)
    for german in ("Hersteller", "Seriennummer", "Firmware-Version", "Standort"):
        assert german in form
    for english in ("Charging station", "Serial number", "Firmware version", "Vendor"):
        assert english not in form


def test_session_readings_have_no_utc_title(german_staff_client, operator):
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator,
                                               connector__station__location__time_zone="Europe/Berlin")
    MeterSample.objects.create(session=session, taken_at=datetime(2026, 3, 2, 8, 0, 5, tzinfo=UTC),
                               energy_wh=Decimal(1000))
    form = _page(german_staff_client, "sessions_app_chargingsession_change", session.pk)
    assert "09:00:05" in form and "2026-03-02 08:00:05" not in form
