"""Operator analytics: exact figures on a small fixture, scoping, filters and the CSV export."""
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.reporting import analytics
from billing_app.reporting import exports as accounting_exports
from billing_app.settlement import services
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _priced_session(connector, token, ref, start, kwh):
    session = session_services.session_start(connector=connector, id_token=token, started_at=start,
                                              meter_start_wh=Decimal(0), transaction_ref=ref)
    session_services.session_record_samples(session=session, samples=[
        SampleIn(start + timedelta(hours=1), Decimal(kwh * 1000), Decimal(kwh * 1000)),
        SampleIn(start + timedelta(hours=1, minutes=30), Decimal(kwh * 1000), Decimal(0)),
    ])
    session_services.session_stop(session=session, stopped_at=start + timedelta(hours=1, minutes=30),
                                  meter_stop_wh=Decimal(kwh * 1000))
    return services.session_settle(session_id=session.pk)


@pytest.fixture
def data(operator, other_operator, connector, id_token):
    tariff = factories.energy_tariff(operator, price="0.40", vat="19")
    parking = factories.TariffElementFactory(tariff=tariff, position=1)
    factories.PriceComponentFactory(element=parking, type="PARKING_TIME", price=Decimal("6.00"), vat=Decimal(19))
    _priced_session(connector, id_token, "a", T0, 10)  # 4.00 energy + 3.00 parking
    _priced_session(connector, id_token, "b", T0 + timedelta(days=1), 20)  # 8.00 + 3.00
    foreign_connector = factories.ConnectorFactory(station__location__operator=other_operator)
    factories.energy_tariff(other_operator, price="0.50", vat="20", currency="GBP")
    _priced_session(foreign_connector, factories.IdTokenFactory(operator=other_operator), "c", T0, 99)


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


def _filters(**kwargs):
    return analytics.Filters(start=DAY, end=DAY + timedelta(days=6), **kwargs)


def test_usage_series_per_day_is_exact_and_scoped(data, staff):
    rows = analytics.usage_series(staff, _filters())
    assert [(r["bucket"], r["sessions"], r["energy_kwh"]) for r in rows] == [
        (DAY, 1, Decimal(10)), (DAY + timedelta(days=1), 1, Decimal(20)),
    ]
    assert rows[0]["revenue"] == {"EUR": (Decimal("7.00"), Decimal("8.33"))}


def test_weekly_bucket_sums_the_days(data, staff):
    rows = analytics.usage_series(staff, _filters(bucket="week"))
    assert [(r["sessions"], r["energy_kwh"]) for r in rows] == [(2, Decimal(30))]


def test_utilization_shares(data, staff):
    shares = analytics.utilization(staff, _filters())
    # one connector x 7 days = 168 h; charging 2 h, idle 1 h
    assert shares["capacity_hours"] == Decimal(168)
    assert shares["charging"] == Decimal("1.2") and shares["idle"] == Decimal("0.6")
    assert shares["free"] == Decimal("98.2")


def test_peak_hours_in_local_time(data, staff, connector):
    location = connector.station.location  # Europe/Berlin: 09:00 UTC is 10:00
    grid = analytics.peak_hours(staff, _filters(location=location))
    assert grid[0][10] == 1 and grid[1][10] == 1
    assert sum(map(sum, grid)) == 2


def test_top_idle_fee_stations(data, staff):
    rows = analytics.top_idle_fee_stations(staff, _filters())
    assert [(r["idle_fees"], r["sessions"]) for r in rows] == [(Decimal("6.00"), 2)]


def test_superuser_sees_both_currencies(data, admin_user):
    rows = analytics.usage_series(admin_user, _filters())
    assert rows[0]["revenue"].keys() == {"EUR", "GBP"}


def test_dashboard_renders_for_staff_with_own_figures_only(client, data, staff):
    client.force_login(staff)
    response = client.get(reverse("admin_analytics"), {"start": "2026-03-02", "end": "2026-03-08"})
    assert response.status_code == 200
    assert [r["sessions"] for r in response.context["series"]] == [1, 1]
    assert b"vendor/chartjs/chart.umd.min.js" in response.content
    assert b"GBP" not in response.content


def test_bad_filters_are_form_errors(client, staff):
    client.force_login(staff)
    response = client.get(reverse("admin_analytics"), {"start": "2026-03-08", "end": "2026-03-02"})
    assert response.status_code == 200
    assert "end" in response.context["form"].errors
    response = client.get(reverse("admin_analytics"), {"start": "yesterday", "end": "2026-03-02", "bucket": "year"})
    assert {"start", "bucket"} <= set(response.context["form"].errors)
    assert client.get(reverse("admin_analytics_sessions_csv"), {"start": "x"}).status_code == 400


def test_another_operators_location_cannot_be_chosen(client, staff, other_operator):
    client.force_login(staff)
    foreign = factories.LocationFactory(operator=other_operator)
    response = client.get(reverse("admin_analytics"), {"location": foreign.pk})
    assert "location" in response.context["form"].errors


def test_sessions_csv_is_scoped(client, data, staff):
    client.force_login(staff)
    response = client.get(reverse("admin_analytics_sessions_csv"), {"start": "2026-03-02", "end": "2026-03-08"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == accounting_exports.SESSION_COLUMNS
    assert [(r[10], r[11], r[14]) for r in rows[1:]] == [("10.000", "EUR", "8.33"), ("20.000", "EUR", "13.09")]


@pytest.mark.parametrize("who", ["anonymous", "driver"])
def test_strangers_and_drivers_get_no_analytics(client, driver, who):
    if who == "driver":
        client.force_login(driver)
    response = client.get(reverse("admin_analytics"))
    assert response.status_code in (302, 403)
    assert client.get(reverse("admin_analytics_sessions_csv")).status_code in (302, 403)


def test_figures_are_cached_per_scope_and_filters_never_across_operators(client, data, staff, other_operator):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    params = {"start": "2026-03-02", "end": "2026-03-08"}
    client.force_login(staff)
    first = client.get(reverse("admin_analytics"), params)
    with CaptureQueriesContext(connection) as again:
        second = client.get(reverse("admin_analytics"), params)
    assert first.context["series"] == second.context["series"]
    assert not any("SUM(" in q["sql"] for q in again.captured_queries)  # no aggregate ran the second time
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    foreign = client.get(reverse("admin_analytics"), params)
    assert foreign.context["currencies"] == ["GBP"]  # its own figures, not the cached EUR ones


def test_dashboard_axes_start_at_zero_and_dates_and_days_read_plainly(client, data, staff):
    import re

    client.force_login(staff)
    page = client.get(reverse("admin_analytics"), {"start": "2026-03-02", "end": "2026-03-08"}).content.decode()
    assert page.count("beginAtZero: true") == 3
    assert "All locations</option>" in page and "(UTC days)" not in page and "days in UTC" in page
    assert "2 Mar 2026" in page and "2026-03-02</td>" not in page
    assert not re.search(r"\d\.\d{5,}", page)
