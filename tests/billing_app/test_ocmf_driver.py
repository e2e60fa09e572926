"""The driver checks the meter's signatures (issue 18): a simulated Eichrecht charger (OCPP 1.6, real ECDSA
TEST key) charges through the gateway at a calibration-law site; the session is priced on the signed energy,
the portal and the receipt PDF (read back with pdftotext) say "signed by meter <serial>, verified", and the
downloads (the Transparenzsoftware's XML container, the meter's key) verify again with pyocmf. Another
driver gets 404s."""
import asyncio
import base64
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pyocmf import OCMF, OcmfContainer, PublicKey

from billing_app import invoicing
from billing_app.models import ChargeReview, Invoice, SessionCharge
from billing_app.tariffs.cdr import cdr_for_charge
from sessions_app import services
from sessions_app.models import ChargingSession
from sessions_app.ocmf.signing import TestMeter
from sessions_app.ocpp.simulator import SimStation, SimulatedCharger, plan_sessions
from tests import factories
from tests.billing_app.invoice_fixtures import account, pdf_text
from tests.factories import STATION_PASSWORD
from tests.sessions_app.ocpp_chargers import gateway

pytestmark = pytest.mark.django_db(transaction=True)
METER = TestMeter("driver checks", serial="TM-DRV-7")


@pytest.fixture
def signed_session(operator, id_token, driver, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    account(driver)
    factories.energy_tariff(operator, price="0.39", vat="19")
    station = factories.ConnectorFactory(station__location__operator=operator,
                                         station__location__calibration_law=True).station
    services.meter_key_register(station=station, evse_number=None, public_key=METER.public_key_hex,
                                meter_serial=METER.serial, valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    sim = SimStation(station.ocpp_identity, STATION_PASSWORD, [1], dc=False, max_kw=22, tokens=[id_token.uid],
                     meter=METER)
    rng = random.Random(11)
    plan = plan_sessions(rng, sim, 1, end=timezone.now())

    async def main():
        async with gateway() as gw:
            return await SimulatedCharger(sim, f"ws://127.0.0.1:{gw.port}", speed=1e9, rng=rng).run(plan)

    assert asyncio.run(main()) == 1
    return ChargingSession.objects.get(connector__station=station)


def test_portal_receipt_and_downloads_show_and_prove_the_signed_energy(client, driver, signed_session, tmp_path):
    charge = SessionCharge.objects.get(session=signed_session)  # settled on completion, not held
    assert not ChargeReview.objects.filter(charge=charge).exists()
    assert charge.total_energy_kwh == signed_session.energy_wh / 1000
    client.force_login(driver)
    page = client.get(reverse("portal:session", args=[signed_session.pk])).content.decode()
    assert "Signed by meter TM-DRV-7, verified" in page
    api = client.get(f"/api/v1/sessions/{signed_session.pk}/").json()["meter_signature"]
    assert (api["status"], api["meter_serial"], api["reasons"]) == ("verified", "TM-DRV-7", [])
    assert Decimal(api["signed_energy_wh"]) == signed_session.energy_wh

    receipt = Invoice.objects.get(session=signed_session)
    text = " ".join(pdf_text(invoicing.document_pdf_bytes(receipt)).split())
    assert "signed by meter TM-DRV-7, verified" in text
    assert "S.A.F.E. transparency software" in text

    xml = client.get(reverse("portal:session_signed_data", args=[signed_session.pk]))
    assert xml.status_code == 200 and xml["Content-Type"] == "application/xml"
    (tmp_path / "signed.xml").write_bytes(xml.content)
    container = OcmfContainer.from_xml(tmp_path / "signed.xml")
    assert [e.context for e in container] == ["Transaction.Begin", "Transaction.End"]
    assert all(e.verify_signature() for e in container)
    assert all(result.is_compliant for result in container.check_eichrecht())

    pem = client.get(reverse("portal:session_meter_key", args=[signed_session.pk]))
    assert pem.status_code == 200
    key = "".join(pem.content.decode().splitlines()[1:-1])
    assert PublicKey.from_string(key).key.lower() == METER.public_key_hex


def test_the_cdr_carries_the_signed_values_and_the_meters_key(signed_session):
    cdr = cdr_for_charge(SessionCharge.objects.get(session=signed_session))
    signed = cdr["signed_data"]
    assert signed["encoding_method"] == "OCMF"
    assert PublicKey.from_string(signed["public_key"]).key.lower() == METER.public_key_hex
    assert [v["nature"] for v in signed["signed_values"]] == ["Start", "End"]
    for value in signed["signed_values"]:
        record = OCMF.from_string(base64.b64decode(value["signed_data"]).decode())
        assert record.verify_signature(signed["public_key"])
        assert len(value["plain_data"]) <= 512 and "1-b:1.8.0" in value["plain_data"]


def test_another_driver_gets_404_for_the_downloads(client, operator, signed_session):
    client.force_login(factories.DriverFactory(operator=operator))
    for name in ("portal:session", "portal:session_signed_data", "portal:session_meter_key"):
        assert client.get(reverse(name, args=[signed_session.pk])).status_code == 404, name


def test_a_german_driver_reads_the_signed_readings_in_german(client, driver, signed_session):
    driver.language = "de"
    driver.save(update_fields=["language"])
    client.force_login(driver)
    page = client.get(reverse("portal:session", args=[signed_session.pk])).content.decode()
    assert '<html lang="de">' in page
    wh = f"{signed_session.energy_wh:.0f}"
    assert f"Vom Zähler TM-DRV-7 signiert, geprüft: {wh} Wh zwischen dem signierten Anfangs- und Endzählerstand." \
        in " ".join(page.split())
    assert "Prüfen Sie sie selbst mit der S.A.F.E.-Transparenzsoftware:" in page
    assert "signierte Messwerte (XML)" in page and "öffentlicher Schlüssel des Zählers" in page
    for english in ("Signed by meter", ", verified", "signed meter values", "public key", "transparency software"):
        assert english not in page, english
