"""A guest checks the meter's signatures too (issue 18): their session page says what the signatures prove and
offers the Transparenzsoftware's XML container and the meter's key, by their unguessable link only."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from pyocmf import PublicKey

from guests_app.models import GuestSession
from guests_app.services import key_hash
from sessions_app import services as session_services
from sessions_app.ocmf.signing import TestMeter
from tests import factories

pytestmark = pytest.mark.django_db
METER = TestMeter("guest checks", serial="TM-GUEST")
KEY = "a-guests-unguessable-link-key-0123456789"


@pytest.fixture
def guest(operator, connector):
    driver = factories.DriverFactory(operator=operator)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    stop = start + timedelta(hours=1)
    session = factories.ChargingSessionFactory(connector=connector, id_token=token, started_at=start,
                                               stopped_at=stop, meter_start_wh=Decimal(1000),
                                               meter_stop_wh=Decimal(9000), state="completed")
    session_services.meter_key_register(station=connector.station, evse_number=None, public_key=METER.public_key_hex,
                                        meter_serial=METER.serial, valid_from=start - timedelta(days=1))
    session_services.session_signed_values_record(session=session, readings=[session_services.SignedReadingIn(
        taken_at=at, signed_data=text, format="OCMF", encoding="plain", ocmf=text) for at, text in (
        (start, METER.reading(at=start, wh=1000, tx="B", id_tag=token.uid)),
        (stop, METER.reading(at=stop, wh=9000, tx="E", id_tag=token.uid)))])
    session_services.session_signatures_verify(session=session)
    return GuestSession.objects.create(operator=operator, connector=connector, driver=driver, id_token=token,
                                       session=session, access_key_hash=key_hash(KEY), currency="EUR",
                                       hold_amount=Decimal(30), state=GuestSession.State.ENDED)


def test_the_guest_page_says_verified_and_the_downloads_verify(client, guest):
    page = client.get(reverse("guests:live", args=[KEY])).content.decode()
    assert "Signed by meter TM-GUEST, verified." in page
    xml = client.get(reverse("guests:signed_data", args=[KEY]))
    assert xml.status_code == 200 and b'context="Transaction.End"' in xml.content
    pem = client.get(reverse("guests:meter_key", args=[KEY]))
    assert PublicKey.from_string("".join(pem.content.decode().splitlines()[1:-1])).key.lower() == METER.public_key_hex


def test_another_key_finds_nothing(client, guest):
    for name in ("guests:signed_data", "guests:meter_key"):
        assert client.get(reverse(name, args=["not-the-key"])).status_code == 404
