"""Signed meter values through the OCPP gateway: the simulator's Eichrecht chargers (OCPP 1.6 and 2.0.1,
the `ocpp` library's ChargePoint) sign begin and end readings with a real ECDSA key; the gateway keeps
them once, with the key the charger sends, and the session verifies. Meter keys keep their history."""
import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from ocpp.v16 import call

from sessions_app import services
from sessions_app.models import ChargingSession, Connector, MeterPublicKey, MeterSignatureCheck, SignedMeterValue
from sessions_app.ocmf.signing import TestMeter
from sessions_app.ocpp.simulator import SimStation, SimulatedCharger, plan_sessions
from tests import factories
from tests.factories import STATION_PASSWORD
from tests.sessions_app.ocpp_chargers import answers, charger, codes, gateway

pytestmark = pytest.mark.django_db(transaction=True)


def _run(station_row, meter, *, dc: bool, tamper: str = "", sessions: int = 1, id_token=None):
    station = SimStation(station_row.ocpp_identity, STATION_PASSWORD, [1], dc=dc, max_kw=150 if dc else 22,
                         tokens=[id_token.uid], meter=meter, tamper=tamper)
    rng = random.Random(3)
    plan = plan_sessions(rng, station, sessions, end=timezone.now())

    async def main():
        async with gateway() as gw:
            return await SimulatedCharger(station, f"ws://127.0.0.1:{gw.port}", speed=1e9, rng=rng).run(plan)

    assert asyncio.run(main()) == sessions
    return list(ChargingSession.objects.filter(connector__station=station_row).order_by("started_at"))


def _station(operator, *, dc: bool):
    kind = Connector.PowerType.DC if dc else Connector.PowerType.AC_3_PHASE
    return factories.ConnectorFactory(station__location__operator=operator, power_type=kind, max_power_kw=150).station


@pytest.mark.parametrize("dc", [False, True], ids=["ocpp1.6", "ocpp2.0.1"])
def test_signed_begin_and_end_readings_are_kept_and_verify(operator, id_token, dc):
    station = _station(operator, dc=dc)
    meter = TestMeter(f"gateway {dc}", serial="TM-GW")
    services.meter_key_register(station=station, evse_number=None, public_key=meter.public_key_hex,
                                meter_serial="TM-GW", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    (session,) = _run(station, meter, dc=dc, id_token=id_token)
    values = list(session.signed_values.order_by("taken_at"))
    assert [v.context for v in values] == ["Transaction.Begin", "Transaction.End"]
    assert all(v.format == "OCMF" and v.ocmf.startswith("OCMF|") for v in values)
    assert {v.encoding for v in values} == ({"base64"} if dc else {"plain"})
    check = services.session_signatures_verify(session=session)
    assert check.status == MeterSignatureCheck.Status.VERIFIED, check.reasons
    assert check.signed_energy_wh == session.energy_wh and check.meter_serial == "TM-GW"


def test_a_key_the_201_charger_sends_is_registered_when_the_station_has_none(operator, id_token):
    station = _station(operator, dc=True)
    meter = TestMeter("first use", serial="TM-FU")
    (session,) = _run(station, meter, dc=True, id_token=id_token)
    key = MeterPublicKey.objects.get(station=station)
    assert (key.public_key, key.source, key.meter_serial) == (meter.public_key_hex, "charger", "TM-FU")
    assert services.session_signatures_verify(session=session).status == MeterSignatureCheck.Status.VERIFIED


@pytest.mark.parametrize("dc", [False, True], ids=["ocpp1.6", "ocpp2.0.1"])
def test_a_reading_tampered_after_signing_is_invalid(operator, id_token, dc):
    station = _station(operator, dc=dc)
    meter = TestMeter(f"tamper {dc}", serial="TM-T")
    services.meter_key_register(station=station, evse_number=None, public_key=meter.public_key_hex,
                                meter_serial="TM-T", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    (session,) = _run(station, meter, dc=dc, tamper="end_value", id_token=id_token)
    check = services.session_signatures_verify(session=session)
    assert check.status == MeterSignatureCheck.Status.INVALID
    assert {r["code"] for r in check.reasons} >= {"signature_invalid", "energy_mismatch"}


def test_a_session_without_signed_readings_is_unsigned(operator, id_token):
    station = _station(operator, dc=False)
    (session,) = _run(station, None, dc=False, id_token=id_token)
    assert services.session_signatures_verify(session=session).status == MeterSignatureCheck.Status.UNSIGNED


def test_a_resent_signed_meter_value_is_kept_once(operator, id_token):
    station = _station(operator, dc=False)
    meter = TestMeter("resend", serial="TM-R")
    started = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    record = meter.reading(at=started, wh=1000, tx="B", id_tag=id_token.uid)
    signed = {"timestamp": started.isoformat(), "sampled_value": [
        {"value": record, "format": "SignedData", "context": "Transaction.Begin"}]}

    async def scenario():
        async with gateway() as gw, charger(gw, station.ocpp_identity) as cp:
            start = await cp.call(call.StartTransaction(connector_id=1, id_tag=id_token.uid, meter_start=1000,
                                                        timestamp=started.isoformat()))
            for _ in range(2):
                await cp.call(call.MeterValues(connector_id=1, transaction_id=start.transaction_id,
                                               meter_value=[signed]))
            return start.transaction_id

    session_id = asyncio.run(scenario())
    assert SignedMeterValue.objects.filter(session_id=session_id).count() == 1


def test_a_replaced_meter_keeps_its_old_key_for_the_sessions_it_signed(operator):
    station = _station(operator, dc=False)
    old, new = TestMeter("old meter", serial="OLD"), TestMeter("new meter", serial="NEW")
    first = services.meter_key_register(station=station, evse_number=1, public_key=old.public_key_hex,
                                        meter_serial="OLD", valid_from=datetime(2025, 1, 1, tzinfo=UTC))
    replaced_at = datetime(2026, 1, 1, tzinfo=UTC)
    second = services.meter_key_register(station=station, evse_number=1, public_key=new.public_key_hex,
                                         meter_serial="NEW", valid_from=replaced_at)
    first.refresh_from_db()
    assert first.valid_until == replaced_at
    assert services.meter_key_for(station=station, evse_number=1, at=replaced_at - timedelta(days=1)) == first
    assert services.meter_key_for(station=station, evse_number=1, at=replaced_at + timedelta(days=1)) == second
    with pytest.raises(services.MeterKeyError):
        services.meter_key_register(station=station, evse_number=1, valid_from=datetime(2025, 6, 1, tzinfo=UTC),
                                    public_key=TestMeter("x", serial="X").public_key_hex)
    with pytest.raises(services.MeterKeyError):
        services.meter_key_register(station=station, evse_number=1, public_key="not a key")


def test_a_16_charger_at_a_calibration_law_site_reports_its_meter_key_at_boot(operator, id_token):
    station = _station(operator, dc=False)
    station.location.calibration_law = True
    station.location.save()
    meter = TestMeter("1.6 configuration key", serial="TM-CK")
    _run(station, meter, dc=False, id_token=id_token)
    key = MeterPublicKey.objects.get(station=station)
    assert (key.public_key, key.source, key.evse_number) == (meter.public_key_hex, "charger", 1)


def test_a_16_charger_elsewhere_is_not_asked_for_keys(operator, id_token):
    station = _station(operator, dc=False)
    _run(station, TestMeter("not asked", serial="TM-NA"), dc=False, id_token=id_token)
    assert not MeterPublicKey.objects.filter(station=station).exists()


def test_bad_signed_data_gets_a_clear_answer_and_foreign_formats_are_kept_unverified(operator, id_token):
    station = _station(operator, dc=False)
    at = "2026-03-02T08:00:00+00:00"
    empty = {"connectorId": 1, "transactionId": 1, "meterValue": [
        {"timestamp": at, "sampledValue": [{"value": "", "format": "SignedData"}]}]}
    got, alive = answers(station.ocpp_identity, "1.6", [[2, "empty", "MeterValues", empty]])
    assert codes(got) == [("empty", "PropertyConstraintViolation")] and alive[0] == 3

    session = factories.ChargingSessionFactory(connector=station.connectors.first(), id_token=id_token,
                                               started_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    foreign = {"connectorId": 1, "transactionId": session.pk, "meterValue": [
        {"timestamp": at, "sampledValue": [{"value": "<vendor-blob>", "format": "SignedData"}]}]}
    got, _ = answers(station.ocpp_identity, "1.6", [[2, "foreign", "MeterValues", foreign]])
    assert codes(got) == [("foreign", "accepted")]
    (value,) = SignedMeterValue.objects.filter(session=session)
    assert (value.format, value.encoding, value.ocmf, value.signed_data) == ("UNKNOWN", "unknown", "", "<vendor-blob>")
    session.stopped_at, session.meter_stop_wh = session.started_at + timedelta(hours=1), 2000
    session.state = "completed"
    session.save()
    check = services.session_signatures_verify(session=session)
    assert (check.status, [r["code"] for r in check.reasons]) == ("invalid", ["not_ocmf"])
