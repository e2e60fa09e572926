"""The demo's guest charging: Voltara's ad hoc tariff and the connector `make run` prints."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from guests_app import prices
from guests_app.demo import demo_connector, load_guest_tariff
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_demo_ad_hoc_tariff_prices_the_demo_connector(guest_connector):
    operator = factories.OperatorFactory(name="Voltara Charging", invoice_prefix="VOLTD")
    factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOLT-01-01",
                               station__location__calibration_law=True)  # Berlin: signed readings needed
    connector = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOLT-02-01")
    assert load_guest_tariff() is True and load_guest_tariff() is False  # once
    assert demo_connector() == connector
    price = prices.connector_price(connector)
    assert price.tariff_id == "VOLTARA-AD-HOC" and price.hold == "50.00"
    out = StringIO()
    call_command("guest_demo", "--setup", stdout=out)
    assert "http://127.0.0.1:8000/charge/VOLT-02-01/1/" in out.getvalue()


def test_the_setup_goes_on_without_the_demo_operator():
    out = StringIO()
    call_command("guest_demo", "--setup", stdout=out)
    assert "no demo charger" in out.getvalue()
