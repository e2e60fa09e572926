"""Admin pages in German name models and fields in German (issue 21): changelists and change forms of the pages
operator staff use most, rendered for a German-speaking staff user."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.models import Invoice
from sessions_app.models import MeterSample
from tests import factories
from tests.billing_app.invoice_fixtures import account

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


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
    MeterSample.objects.create(session=session, taken_at=START.replace(second=5),
                               energy_wh=Decimal(1000))
    form = _page(german_staff_client, "sessions_app_chargingsession_change", session.pk)
    assert "09:00:05" in form and "2026-03-02 08:00:05" not in form


def test_invoice_pages_name_models_and_fields_in_german(german_staff_client, operator):
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator)
    invoice = Invoice.objects.create(
        account=account(session.driver), operator=operator, period_start=START.date(), period_end=START.date(),
        driver=session.driver, session=session, kind=Invoice.Kind.RECEIPT, currency="EUR")
    listing = _page(german_staff_client, "billing_app_invoice_changelist")
    assert "Rechnungen" in listing and ">Invoices<" not in listing
    form = _page(german_staff_client, "billing_app_invoice_change", invoice.pk)
    for german in ("Beginn des Zeitraums", "Zahlungsreferenz", "Ausgestellt am"):
        assert german in form
    for english in ("Period start", "Payment reference", "Issued at"):
        assert english not in form


def test_tariff_pages_name_models_and_fields_in_german(german_staff_client, operator):
    tariff = factories.TariffFactory(operator=operator)
    listing = _page(german_staff_client, "billing_app_tariff_changelist")
    assert "Tarife" in listing and ">Tariffs<" not in listing
    form = _page(german_staff_client, "billing_app_tariff_change", tariff.pk)
    for german in ("Karenzminuten beim Parken", "Ländercode", "OCPI-ID", "Mindestpreis zzgl. USt"):
        assert german in form
    for english in ("Parking grace minutes", "Country code", "Ocpi id", "Start date time", "Min price excl. VAT"):
        assert english not in form
