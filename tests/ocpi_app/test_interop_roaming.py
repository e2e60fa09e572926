"""A roaming charge end to end with the extrawest-ocpi eMSP: the peer registers with us, pulls locations and
tariffs, pushes a token, starts a session by command; our simulated OCPP 1.6 charger charges; the session and
the CDR arrive at the peer with the right totals. Needs Redis (remote commands); PostgreSQL advised."""
from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ocpp.v16 import call as call16

from billing_app.models import PriceComponent, SessionCharge, TariffElement
from ocpi_app.credentials import partner_token_a_issue
from ocpi_app.models import CdrRecord, Partner, PartnerTariff
from tests import factories
from tests.sessions_app.ocpp_chargers import Charger16, charger, gateway

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.xdist_group("ocpi_peer")]  # one peer


@pytest.fixture
def redis_url(settings):
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis to carry remote commands")
    settings.REDIS_URL = url
    settings.OCPI_COMMAND_TIMEOUT = 10
    return url


def test_a_roaming_charge_from_command_to_cdr(ocpi_peer, live_ocpi, operator, cpo_party, redis_url):
    connector = factories.ConnectorFactory(station__location__operator=operator, station__location__name="Harbour")
    station, location_id = connector.station, str(connector.station.location_id)
    tariff = factories.TariffFactory(operator=operator, ocpi_id="ROAM", party_id="VOL")
    element = TariffElement.objects.create(tariff=tariff, position=0)
    PriceComponent.objects.create(element=element, position=0, type="ENERGY", price=Decimal("0.50"), vat=Decimal(19),
                                  step_size=1)

    _, token_a = partner_token_a_issue(operator=operator, name="Extrawest")
    assert ocpi_peer.control("register", {"url": f"{live_ocpi.url}/ocpi/versions", "token": token_a})[
        "reply"]["status_code"] == 1000
    partner = Partner.objects.get(name="Extrawest")
    PartnerTariff.objects.create(partner=partner, tariff=tariff)
    assert [loc["name"] for loc in ocpi_peer.control("pull/locations", {})["objects"]] == ["Harbour"]
    assert [t["id"].upper() for t in ocpi_peer.control("pull/tariffs", {})["objects"]] == ["ROAM"]

    token = {"country_code": "NL", "party_id": "EXW", "uid": "04EXW0001", "type": "RFID", "contract_id": "NL-EXW-1",
             "issuer": "Extrawest", "valid": True, "whitelist": "ALWAYS", "last_updated": "2026-03-01T00:00:00Z"}
    pushed = ocpi_peer.control("call", {"module": "tokens", "method": "PUT", "suffix": "/NL/EXW/04EXW0001",
                                        "json": token})
    assert (pushed["http_status"], pushed["reply"]["status_code"]) == (201, 1000)

    t0 = datetime.now(UTC).replace(microsecond=0)

    async def main():
        async with gateway(redis_url) as gw, charger(gw, station.ocpp_identity, cls=Charger16) as cp:
            answer = await asyncio.to_thread(ocpi_peer.control, "call", {
                "module": "commands", "url": f"{live_ocpi.url}/ocpi/2.2.1/commands/START_SESSION", "method": "POST",
                "json": {"response_url": f"{ocpi_peer.url}/ocpi/emsp/2.2.1/commands/cmd-1",
                         "token": token, "location_id": location_id, "evse_uid": f"{station.ocpp_identity}-1"}})
            assert answer["reply"]["data"]["result"] == "ACCEPTED", answer
            await asyncio.wait_for(cp.command_seen.wait(), 10)
            # the charger starts what it was asked to, charges 12 kWh in an hour, and stops
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag="04EXW0001", meter_start=1000,
                                                          timestamp=t0.isoformat()))
            assert start.id_tag_info["status"] == "Accepted"
            await cp.call(call16.MeterValues(connector_id=1, transaction_id=start.transaction_id, meter_value=[
                {"timestamp": (t0 + timedelta(minutes=30)).isoformat(),
                 "sampled_value": [{"value": "7000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
                                   {"value": "12000", "measurand": "Power.Active.Import", "unit": "W"}]}]))
            await cp.call(call16.StopTransaction(meter_stop=13000, timestamp=(t0 + timedelta(hours=1)).isoformat(),
                                                 transaction_id=start.transaction_id, reason="Remote"))
            for _ in range(100):  # settlement and the CDR push run after the stop's commit
                if await asyncio.to_thread(lambda: CdrRecord.objects.filter(state="acknowledged").exists()):
                    break
                await asyncio.sleep(0.1)
            return start.transaction_id

    session_id = asyncio.run(main())
    charge = SessionCharge.objects.get(session_id=session_id)
    assert (charge.total_excl_vat, charge.total_incl_vat) == (Decimal("6.00"), Decimal("7.14"))

    store = ocpi_peer.control("store")["objects"]
    assert store["commands"]["cmd-1"]["result"] == "ACCEPTED"
    session = store["sessions"][str(session_id)]
    assert (session["status"], Decimal(str(session["kwh"]))) == ("COMPLETED", Decimal(12))
    assert Decimal(str(session["total_cost"]["incl_vat"])) == Decimal("7.14")
    cdr = next(c for key, c in store["cdrs"].items() if key.upper() == f"VOLT-CDR-{session_id}")  # CiString
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("6.00")
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == Decimal("7.14")
    assert Decimal(str(cdr["total_energy"])) == Decimal(12)
    assert CdrRecord.objects.get().state == "acknowledged"
