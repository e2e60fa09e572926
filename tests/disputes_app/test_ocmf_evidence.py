"""Disputes see what the meter signed (issue 18): the evidence bundle holds the signed readings, the meter's
key and the verification, and says at a glance whether the billed energy is proven by the meter."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app.settlement import services as billing_services
from disputes_app import evidence, services
from sessions_app import services as session_services
from sessions_app.ocmf.decoding import public_key_base64
from sessions_app.ocmf.signing import TestMeter
from sessions_app.services import SampleIn, SignedReadingIn
from tests.disputes_app.conftest import OPENED, T0

METER = TestMeter("dispute evidence", serial="TM-EVID")


def _signed_session(connector, id_token, *, end_wh: int):
    session_services.meter_key_register(station=connector.station, evse_number=None,
                                        public_key=METER.public_key_hex, meter_serial=METER.serial,
                                        valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                             meter_start_wh=Decimal(1000), transaction_ref="tx-evidence")
    stop = T0 + timedelta(hours=1)
    session_services.session_record_samples(session=session, samples=[SampleIn(stop, Decimal(12000))])
    records = [(T0, METER.reading(at=T0, wh=1000, tx="B", id_tag=id_token.uid), "Transaction.Begin"),
               (stop, METER.reading(at=stop, wh=end_wh, tx="E", id_tag=id_token.uid), "Transaction.End")]
    session_services.session_signed_values_record(session=session, readings=[
        SignedReadingIn(taken_at=at, signed_data=text, format="OCMF", encoding="plain", ocmf=text, context=context)
        for at, text, context in records])
    session = session_services.session_stop(session=session, stopped_at=stop, meter_stop_wh=Decimal(12000))
    billing_services.session_settle(session_id=session.pk)
    return session


def test_the_bundle_says_the_billed_energy_is_proven_and_carries_the_readings(connector, id_token, tariff, driver):
    session = _signed_session(connector, id_token, end_wh=12000)
    ticket = services.ticket_open(by=driver, session=session, reason="wrong_amount", description="x", now=OPENED)
    part = ticket.evidence.data["signed_meter_values"]
    assert (part["status"], part["billed_energy_proven"], part["meter_serial"]) == ("verified", True, "TM-EVID")
    assert (part["signed_energy_wh"], part["billed_energy_kwh"]) == ("11000.000", "11.000")
    assert part["public_key"] == public_key_base64(METER.public_key_hex)
    assert [r["context"] for r in part["readings"]] == ["Transaction.Begin", "Transaction.End"]
    assert "signed_meter_values" in evidence.driver_parts(ticket.evidence.data)


def test_signatures_that_disagree_with_the_bill_are_not_proof(connector, id_token, tariff, driver):
    session = _signed_session(connector, id_token, end_wh=11000)  # the meter signed 10 kWh, 11 were billed
    ticket = services.ticket_open(by=driver, session=session, reason="wrong_amount", description="x", now=OPENED)
    part = ticket.evidence.data["signed_meter_values"]
    assert (part["status"], part["billed_energy_proven"]) == ("invalid", False)
    assert [r["code"] for r in part["reasons"]] == ["energy_mismatch"]


@pytest.mark.django_db
def test_a_session_without_signatures_says_so(session, driver):
    ticket = services.ticket_open(by=driver, session=session, reason="wrong_amount", description="x", now=OPENED)
    part = ticket.evidence.data["signed_meter_values"]
    assert (part["status"], part["billed_energy_proven"], part["readings"]) == ("unsigned", False, [])
