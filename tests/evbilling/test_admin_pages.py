"""Admin record pages read like a product (issue 21 item 8): a session's page with its cost, its documents and
its power curve; an invoice's parties as addresses, not JSON."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.models import Invoice, SessionCharge
from sessions_app.models import MeterSample
from sessions_app.power_chart import Reading, power_chart_svg
from tests import factories
from tests.billing_app.invoice_fixtures import account

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


@pytest.fixture
def priced_session(operator):
    factories.LocationFactory.create_batch(2, operator=operator, time_zone="Europe/Berlin")  # the operator's zone
    session = factories.ChargingSessionFactory(
        connector__station__location__operator=operator, connector__station__location__time_zone="Europe/Helsinki",
        started_at=START, stopped_at=START + timedelta(minutes=30), state="completed",
        meter_stop_wh=Decimal("12500"), energy_wh=Decimal("11500"))
    for minute, wh, w in ((0, 1000, None), (10, 4800, 22000), (20, 8800, 22000), (30, 12500, 21000)):
        MeterSample.objects.create(session=session, taken_at=START + timedelta(minutes=minute),
                                   energy_wh=Decimal(wh), power_w=Decimal(w) if w else None)
    SessionCharge.objects.create(session=session, currency="EUR", total_excl_vat=Decimal("3.77"),
                                 total_vat=Decimal("0.72"), total_incl_vat=Decimal("4.49"),
                                 total_energy_kwh=Decimal("11.5"), total_time_hours=Decimal("0.5"),
                                 total_parking_hours=Decimal(0), breakdown={}, tariff_snapshot_json="{}")
    return session


def _receipt(session, **fields):
    return Invoice.objects.create(
        account=account(session.driver), operator=session.operator, period_start=START.date(),
        period_end=START.date(), driver=session.driver, session=session, kind=Invoice.Kind.RECEIPT, currency="EUR",
        state=Invoice.State.ISSUED, number="VOLT-2026-000042", number_year=2026, number_sequence=42,
        issued_at=START + timedelta(hours=1), total_excl_vat=Decimal("3.77"), total_vat=Decimal("0.72"),
        total_incl_vat=Decimal("4.49"),
        seller={"name": "Voltara", "legal_name": "Voltara GmbH", "address": "Hafenstraße 1\n20457 Hamburg",
                "country": "DE", "vat_id": "DE136695976"},
        buyer={"name": "Jana Driver", "address": "Elm Road 5", "postal_code": "10115", "city": "Berlin",
               "country": "DE"}, **fields)


def test_session_page_shows_cost_documents_and_power_chart(staff_client, priced_session):
    receipt = _receipt(priced_session)
    page = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[priced_session.pk]))
    html = page.content.decode()
    assert "€4.49 incl. VAT (€3.77 excl. VAT, €0.72 VAT)" in html
    assert reverse("admin:billing_app_invoice_change", args=[receipt.pk]) in html and "VOLT-2026-000042" in html
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="power-chart"' in html and "<script" not in html.split(
        'class="power-chart"')[1].split("</svg>")[0]
    assert "22 kW" in html and "10:00" in html  # the scale, and the start in the charger's zone (Helsinki)
    assert "2 Mar 2026, 10:00 (Europe/Helsinki)" in html  # in the charger's zone, named: not the viewer's (Berlin)
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")  # no CDN asset


def test_session_page_in_german(staff_client, priced_session):
    staff = staff_client.session.get("_auth_user_id")
    factories.UserFactory._meta.model.objects.filter(pk=staff).update(language="de")
    html = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[priced_session.pk])
                            ).content.decode()
    assert "4,49\xa0€ inkl. USt." in html and "Kosten und Belege" in html
    assert "02.03.2026, 10:00 (Europe/Helsinki)" in html


def test_unpriced_session_says_so(staff_client, operator):
    session = factories.ChargingSessionFactory(connector__station__location__operator=operator)
    html = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[session.pk])).content.decode()
    assert "Not priced (yet)." in html and "Fewer than two meter readings" in html


def test_power_chart_derives_power_from_energy_when_not_reported():
    readings = [Reading(START, Decimal(0)), Reading(START + timedelta(minutes=30), Decimal(5500))]
    svg = str(power_chart_svg(readings, start_label="08:00", end_label="08:30", title="<b>"))
    assert "11 kW" in svg and "5.5 kWh" in svg and "&lt;b&gt;" in svg and "<b>" not in svg
    assert power_chart_svg(readings[:1], start_label="", end_label="") == ""


def test_invoice_page_shows_parties_as_addresses(staff_client, priced_session):
    receipt = _receipt(priced_session)
    html = staff_client.get(reverse("admin:billing_app_invoice_change", args=[receipt.pk])).content.decode()
    assert "<strong>Voltara GmbH</strong>" in html and "20457 Hamburg" in html and "10115 Berlin" in html
    assert "&quot;legal_name&quot;" not in html and '"legal_name"' not in html  # no raw JSON
    assert "€4.49" in html


def test_lists_show_times_in_the_chargers_zone_named(staff_client, priced_session):
    station = priced_session.connector.station
    station.last_seen_at = START
    station.save(update_fields=["last_seen_at"])
    for url in (reverse("admin:sessions_app_chargingstation_changelist"),
                reverse("admin:sessions_app_chargingsession_changelist"),
                reverse("admin:sessions_app_metersample_changelist")):
        assert "2 Mar 2026, 10:00 (Europe/Helsinki)" in staff_client.get(url).content.decode(), url


def test_session_readings_fold_away_in_the_chargers_zone(staff_client, priced_session):
    html = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[priced_session.pk])
                            ).content.decode()
    assert "Meter readings" in html and "10:10:00" in html and "22\xa0kW" in html and "4.800\xa0kWh" in html
