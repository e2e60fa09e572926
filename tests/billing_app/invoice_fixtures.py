"""Helpers and fixtures for the invoice tests: priced sessions without meter samples (the pricing
engine run on given volumes), billing accounts, PDFs read back with pdftotext.

Loaded for the whole suite by `pytest_plugins` in tests/conftest.py.
"""
import subprocess
from datetime import timedelta
from decimal import Decimal

import pytest

from billing_app import pricing
from billing_app.invoicing import delivery_suppressed
from billing_app.models import BillingAccount, SessionCharge
from sessions_app.models import ChargingSession
from tests import factories

__all__ = ["account", "charged_session", "media", "no_delivery", "pdf_text"]

D = Decimal


@pytest.fixture
def media(settings, tmp_path):
    """PDFs go to a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def no_delivery():
    """Issue without rendering PDFs or sending email (fast tests of amounts and numbers)."""
    with delivery_suppressed():
        yield


def account(driver, mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO) -> BillingAccount:
    return BillingAccount.objects.create(driver=driver, operator=driver.operator, payment_mode=mode)


def charged_session(*, connector, driver, started_at, energy_kwh="10", hours="1", parking_hours="0",
                    components=(("ENERGY", "0.39", "19", 1),), currency="EUR", min_price=None, max_price=None,
                    time_zone=None, id_token=None) -> SessionCharge:
    """A completed session of `driver` on `connector`, priced by the real engine with a one-element
    tariff of `components` (type, price, VAT % or None, step), stored as its SessionCharge. With `id_token`
    (the driver's card) the session records who pays as a real start would (a business card's company)."""
    start = started_at
    charging_end = start + timedelta(hours=float(hours))
    end = charging_end + timedelta(hours=float(parking_hours))
    periods = [pricing.ChargingPeriod(start_date_time=start, energy=D(energy_kwh), time=D(hours))]
    if D(parking_hours):
        periods.append(pricing.ChargingPeriod(start_date_time=charging_end, parking_time=D(parking_hours)))
    tariff = pricing.Tariff(
        currency=currency,
        elements=(pricing.TariffElement(price_components=tuple(
            pricing.PriceComponent(type=kind, price=D(price), step_size=step, vat=None if vat is None else D(vat))
            for kind, price, vat, step in components)),),
        min_price=None if min_price is None else pricing.Price(D(min_price)),
        max_price=None if max_price is None else pricing.Price(D(max_price)),
    )
    location = connector.station.location
    breakdown = pricing.price_session(tariff=tariff, session=pricing.Session(
        start_date_time=start, end_date_time=end, charging_periods=tuple(periods),
        time_zone=time_zone or location.time_zone))
    session = factories.ChargingSessionFactory(
        connector=connector, operator=location.operator, id_token=id_token, driver=driver,
        **(id_token.session_billing() if id_token else {}),
        state=ChargingSession.State.COMPLETED, started_at=start, stopped_at=end,
        meter_start_wh=D(1000), meter_stop_wh=D(1000) + D(energy_kwh) * 1000, energy_wh=D(energy_kwh) * 1000)
    total = breakdown.total_cost
    return SessionCharge.objects.create(
        session=session, tariff=None, tariff_snapshot_json="{}", currency=currency,
        total_excl_vat=total.excl_vat, total_vat=total.incl_vat - total.excl_vat, total_incl_vat=total.incl_vat,
        total_energy_kwh=breakdown.total_energy, total_time_hours=breakdown.total_time,
        total_parking_hours=breakdown.total_parking_time, breakdown=breakdown.to_dict())


def pdf_text(data: bytes) -> str:
    """The PDF's text as pdftotext (poppler-utils) reads it, layout kept."""
    result = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True,
                            timeout=30)
    return result.stdout.decode()
