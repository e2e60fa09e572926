"""A public connector with an ad hoc tariff: the guest's starting point."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_app.models import PriceComponent, Tariff, TariffAssignment, TariffElement
from guests_app.models import GuestSession
from guests_app.services import key_hash
from sessions_app import services as session_services
from sessions_app.ocmf.signing import TestMeter
from tests import factories


def online(station, *, gateway: str = "test-gateway") -> None:
    station.connected_to = gateway
    station.last_seen_at = timezone.now()
    station.save(update_fields=["connected_to", "last_seen_at"])


def ad_hoc_tariff(operator, *, connector=None, max_incl="30.00") -> Tariff:
    """0.39/kWh excl. 19 % VAT all day, 0.10/min parking after 10 min grace, a 0.50 session fee, and a cheaper
    0.29/kWh at night (22:00-06:00): AD_HOC_PAYMENT, at the connector (or the operator's default)."""
    tariff = factories.TariffFactory(
        operator=operator, type=Tariff.Type.AD_HOC_PAYMENT, name="Ad hoc", parking_grace_minutes=10,
        max_price_excl_vat=(Decimal(max_incl) / Decimal("1.19")).quantize(Decimal("0.01")) if max_incl else None,
        max_price_incl_vat=Decimal(max_incl) if max_incl else None)
    night = TariffElement.objects.create(tariff=tariff, position=0, has_restrictions=True, start_time="22:00",
                                         end_time="06:00")
    PriceComponent.objects.create(element=night, type="ENERGY", price=Decimal("0.29"), vat=Decimal("19"))
    day = TariffElement.objects.create(tariff=tariff, position=1)
    PriceComponent.objects.create(element=day, position=0, type="ENERGY", price=Decimal("0.39"), vat=Decimal("19"))
    PriceComponent.objects.create(element=day, position=1, type="FLAT", price=Decimal("0.50"), vat=Decimal("19"))
    PriceComponent.objects.create(element=day, position=2, type="PARKING_TIME", price=Decimal("6.00"),
                                  vat=Decimal("19"), step_size=60)
    TariffAssignment.objects.create(tariff=tariff, connector=connector)
    return tariff


@pytest.fixture
def guest_connector(operator):
    connector = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="GUEST-AC-1",
                                           max_power_kw=Decimal("22"), status="Available")
    online(connector.station)
    return connector


@pytest.fixture
def guest_tariff(operator, guest_connector):
    return ad_hoc_tariff(operator, connector=guest_connector)


GUEST_METER = TestMeter("guest checks", serial="TM-GUEST")
GUEST_KEY = "a-guests-unguessable-link-key-0123456789"


@pytest.fixture
def signed_guest(operator, connector):
    """A guest's ended session whose meter signed its begin and end readings (verified)."""
    driver = factories.DriverFactory(operator=operator)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    stop = start + timedelta(hours=1)
    session = factories.ChargingSessionFactory(connector=connector, id_token=token, started_at=start,
                                               stopped_at=stop, meter_start_wh=Decimal(1000),
                                               meter_stop_wh=Decimal(9000), state="completed")
    session_services.meter_key_register(station=connector.station, evse_number=None,
                                        public_key=GUEST_METER.public_key_hex, meter_serial=GUEST_METER.serial,
                                        valid_from=start - timedelta(days=1))
    session_services.session_signed_values_record(session=session, readings=[session_services.SignedReadingIn(
        taken_at=at, signed_data=text, format="OCMF", encoding="plain", ocmf=text) for at, text in (
        (start, GUEST_METER.reading(at=start, wh=1000, tx="B", id_tag=token.uid)),
        (stop, GUEST_METER.reading(at=stop, wh=9000, tx="E", id_tag=token.uid)))])
    session_services.session_signatures_verify(session=session)
    return GuestSession.objects.create(operator=operator, connector=connector, driver=driver, id_token=token,
                                       session=session, access_key_hash=key_hash(GUEST_KEY), currency="EUR",
                                       hold_amount=Decimal(30), state=GuestSession.State.ENDED)
