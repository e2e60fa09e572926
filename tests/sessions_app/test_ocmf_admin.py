"""Meter keys in the admin (issue 18): the operator enters or pastes a meter's key (PEM, base64 or hex) for a
station's connector, a new meter's key ends the old one's service, keys are never edited; a session shows what
its signatures prove and can be checked again. Everything scoped to the operator."""
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from sessions_app.models import MeterPublicKey, MeterSignatureCheck
from sessions_app.ocmf.signing import TestMeter
from sessions_app.services import SignedReadingIn, session_signed_values_record
from tests import factories

pytestmark = pytest.mark.django_db
OLD, NEW = TestMeter("admin old", serial="OLD-1"), TestMeter("admin new", serial="NEW-2")


def _pem(meter: TestMeter) -> str:
    return ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(bytes.fromhex(meter.public_key_hex)).decode()
            + "\n-----END PUBLIC KEY-----\n")


@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


@pytest.fixture
def station(connector):
    return connector.station


def _add(client, station, meter, *, valid_from: str, key: str | None = None):
    return client.post(reverse("admin:sessions_app_meterpublickey_add"), {
        "station": station.pk, "evse_number": 1, "meter_serial": meter.serial, "public_key": key or _pem(meter),
        "valid_from_0": valid_from, "valid_from_1": "00:00:00"})


def test_staff_enter_a_pem_key_and_a_replacement_ends_the_old_one(staff_client, station):
    assert _add(staff_client, station, OLD, valid_from="2025-01-01").status_code == 302
    assert _add(staff_client, station, NEW, valid_from="2026-01-01",
                key=base64.b64encode(bytes.fromhex(NEW.public_key_hex)).decode()).status_code == 302
    old, new = MeterPublicKey.objects.order_by("valid_from")
    assert (old.public_key, old.meter_serial, old.source) == (OLD.public_key_hex, "OLD-1", "operator")
    assert old.valid_until == new.valid_from and new.valid_until is None and new.curve == "secp256r1"
    # a registered key is never edited: the change form has no key field, the serial can be corrected
    response = staff_client.post(reverse("admin:sessions_app_meterpublickey_change", args=[old.pk]),
                                 {"meter_serial": "OLD-1b"})
    assert response.status_code == 302
    old.refresh_from_db()
    assert (old.meter_serial, old.public_key) == ("OLD-1b", OLD.public_key_hex)


def test_an_unreadable_key_or_a_start_before_the_current_meter_is_a_form_error(staff_client, station):
    response = _add(staff_client, station, OLD, valid_from="2025-01-01", key="not a key")
    assert response.status_code == 200 and "elliptic-curve public key" in response.content.decode()
    assert _add(staff_client, station, OLD, valid_from="2025-06-01").status_code == 302
    response = _add(staff_client, station, NEW, valid_from="2025-01-01")
    assert response.status_code == 200 and "started after" in response.content.decode()
    assert MeterPublicKey.objects.count() == 1


def test_another_operators_station_and_keys_are_out_of_reach(staff_client, other_operator):
    foreign = factories.ConnectorFactory(station__location__operator=other_operator).station
    response = _add(staff_client, foreign, OLD, valid_from="2025-01-01")
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    key = MeterPublicKey.objects.create(station=foreign, public_key=OLD.public_key_hex, meter_serial="FOREIGN-METER")
    assert staff_client.get(reverse("admin:sessions_app_meterpublickey_change", args=[key.pk])).status_code == 302
    listing = staff_client.get(reverse("admin:sessions_app_meterpublickey_changelist")).content.decode()
    assert "FOREIGN-METER" not in listing


def test_the_session_page_shows_its_signatures_and_the_action_checks_again(staff_client, station, id_token):
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    session = factories.ChargingSessionFactory(connector=station.connectors.first(), id_token=id_token,
                                               started_at=start, stopped_at=start + timedelta(hours=1),
                                               meter_start_wh=Decimal(1000), meter_stop_wh=Decimal(12000),
                                               state="completed")
    records = [OLD.reading(at=start, wh=1000, tx="B", id_tag=id_token.uid),
               OLD.reading(at=start + timedelta(hours=1), wh=12000, tx="E", id_tag=id_token.uid)]
    session_signed_values_record(session=session, readings=[
        SignedReadingIn(taken_at=start, signed_data=r, format="OCMF", encoding="plain", ocmf=r) for r in records])
    url = reverse("admin:sessions_app_chargingsession_changelist")
    staff_client.post(url, {"action": "signatures_verify", "_selected_action": [session.pk]})
    assert MeterSignatureCheck.objects.get(session=session).status == "invalid"  # no key entered yet
    _add(staff_client, station, OLD, valid_from="2025-01-01")
    staff_client.post(url, {"action": "signatures_verify", "_selected_action": [session.pk]})
    assert MeterSignatureCheck.objects.get(session=session).status == "verified"
    page = staff_client.get(reverse("admin:sessions_app_chargingsession_change", args=[session.pk])).content.decode()
    assert "Verified by meter OLD-1, 11000.000 Wh signed" in page
