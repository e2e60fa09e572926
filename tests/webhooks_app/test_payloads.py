"""Payload shapes: amounts as strings in the currency's minor unit with the currency, instants in UTC
with a Z, watt-hours to the Wh thousandth; nothing but ids for people of another operator."""
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests import factories
from webhooks_app import payloads

pytestmark = pytest.mark.django_db


def test_money_is_a_string_in_minor_units_with_its_currency():
    assert payloads.money(Decimal("5.1"), "EUR") == {"amount": "5.10", "currency": "EUR"}
    assert payloads.money(Decimal("12"), "gbp") == {"amount": "12.00", "currency": "GBP"}
    assert payloads.money(Decimal("3.5"), "XTS") == {"amount": "3.5", "currency": "XTS"}  # unknown: as it is
    assert payloads.money(None, "EUR") is None


def test_instants_are_utc_with_z():
    berlin = timezone(timedelta(hours=1))
    assert payloads.instant(datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=berlin)) == "2026-03-02T09:00:00Z"
    assert payloads.instant(None) is None


def test_session_payload_names_a_roaming_driver_by_id_only(operator, other_operator, connector):
    roaming = factories.DriverFactory(operator=other_operator, email="roamer@other.example")
    token = factories.IdTokenFactory(operator=other_operator, driver=roaming)
    session = factories.ChargingSessionFactory(
        connector=connector, id_token=token, driver=roaming, state="completed",
        started_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC), stopped_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        meter_start_wh=Decimal("1000"), meter_stop_wh=Decimal("12000"), energy_wh=Decimal("11000"))
    data = payloads.session_data(session)["session"]
    assert (data["energy_wh"], data["meter_start_wh"], data["meter_stop_wh"]) == ("11000.000", "1000.000",
                                                                                  "12000.000")
    assert data["driver_id"] == roaming.pk and "roamer@other.example" not in str(data)
    assert data["station_identity"] == connector.station.ocpp_identity
