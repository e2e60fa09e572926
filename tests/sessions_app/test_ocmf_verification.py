"""Signed meter values: decoding what chargers send and verifying a session's readings (pure rules), on
real OCMF records (tests/sessions_app/ocmf_samples.py names their source) and on records the TEST meter
signs with a real ECDSA key."""
import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pyocmf import OcmfContainer

from sessions_app.ocmf.decoding import KeyFormatError, decode_signed_data, public_key_hex
from sessions_app.ocmf.signing import TestMeter
from sessions_app.ocmf.transparency import transparency_xml
from sessions_app.ocmf.verification import INVALID, UNSIGNED, VERIFIED, MeterKey, SignedRecord, verify_session
from tests.sessions_app.ocmf_samples import ISKRA_KEY, ISKRA_OCMF, KEBA_KEY, KEBA_OCMF

KEBA_START = datetime(2019, 8, 13, 10, 3, 15, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
METER = TestMeter("verification tests", serial="TM-0001")
KEY = MeterKey(METER.public_key_hex, "TM-0001")


def codes(result) -> list[str]:
    return [f.code for f in result.reasons]


def signed_session(*, begin_wh=1000, end_wh=12345, tag="04AA0001", begin_page=10, end_page=11, start=T0):
    return [SignedRecord(METER.reading(at=start, wh=begin_wh, tx="B", id_tag=tag, page=begin_page)),
            SignedRecord(METER.reading(at=start + timedelta(hours=1), wh=end_wh, tx="E", id_tag=tag, page=end_page))]


def verify(records, *, key=KEY, billed=Decimal(11345), start=T0, stop=None):
    return verify_session(records=records, key=key, billed_energy_wh=billed, started_at=start,
                          stopped_at=stop or start + timedelta(hours=1))


# --- decoding ---------------------------------------------------------------------------------------------
def test_plain_hex_and_base64_signed_data_decode_to_the_same_record():
    assert decode_signed_data(KEBA_OCMF) == ("plain", KEBA_OCMF)
    assert decode_signed_data(KEBA_OCMF.encode().hex()) == ("hex", KEBA_OCMF)
    assert decode_signed_data(base64.b64encode(KEBA_OCMF.encode()).decode()) == ("base64", KEBA_OCMF)
    assert decode_signed_data("not signed data at all!") == ("unknown", "")


def test_public_keys_in_hex_base64_and_pem_normalise_to_hex_der():
    pem = ("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(bytes.fromhex(KEBA_KEY)).decode()
           + "\n-----END PUBLIC KEY-----")
    assert public_key_hex(KEBA_KEY) == public_key_hex(pem) == (KEBA_KEY.lower(), "secp256r1")
    with pytest.raises(KeyFormatError):
        public_key_hex("abcdef")


# --- real records -----------------------------------------------------------------------------------------
def test_a_real_keba_record_with_its_key_is_verified_and_its_unsynchronised_clock_is_a_note():
    result = verify([SignedRecord(KEBA_OCMF)], key=MeterKey(KEBA_KEY, "17619300"), billed=Decimal("0.1"),
                    start=KEBA_START, stop=KEBA_START + timedelta(seconds=21))
    assert result.status == VERIFIED, result.reasons
    assert (result.begin_wh, result.end_wh, result.resolution_wh) == (Decimal("259.6"), Decimal("259.7"),
                                                                      Decimal("0.1"))
    assert result.meter_serial == "17619300"
    assert "eichrecht_time_sync" in [n.code for n in result.notes]


def test_a_real_record_checked_with_another_meters_key_is_invalid():
    result = verify([SignedRecord(ISKRA_OCMF)], key=MeterKey(KEBA_KEY), billed=Decimal(200),
                    start=datetime(2023, 4, 14, 11, 51, tzinfo=UTC), stop=datetime(2023, 4, 14, 11, 55, tzinfo=UTC))
    assert result.status == INVALID and "signature_invalid" in codes(result)
    good = verify([SignedRecord(ISKRA_OCMF)], key=MeterKey(ISKRA_KEY, "W4155775"), billed=Decimal(200),
                  start=datetime(2023, 4, 14, 11, 51, tzinfo=UTC), stop=datetime(2023, 4, 14, 11, 55, tzinfo=UTC))
    assert good.status == VERIFIED, good.reasons


def test_a_tampered_real_record_fails_its_signature():
    tampered = KEBA_OCMF.replace('"RV":0.2597', '"RV":0.2697')
    result = verify([SignedRecord(tampered)], key=MeterKey(KEBA_KEY), billed=Decimal("10.1"),
                    start=KEBA_START, stop=KEBA_START + timedelta(seconds=21))
    assert codes(result) == ["signature_invalid"]


# --- the rules on the TEST meter's records -----------------------------------------------------------------
def test_begin_and_end_signed_by_the_stations_meter_are_verified():
    result = verify(signed_session())
    assert result.status == VERIFIED, result.reasons
    assert result.signed_energy_wh == Decimal(11345)


def test_no_signed_readings_is_unsigned():
    assert verify([]).status == UNSIGNED


def test_a_missing_end_reading_is_invalid():
    assert codes(verify(signed_session()[:1])) == ["no_signed_end"]


def test_a_begin_and_end_of_different_transactions_are_invalid():
    other = signed_session(begin_wh=500, end_wh=900, tag="04BB0002", begin_page=3, end_page=4,
                           start=T0 - timedelta(days=1))
    swapped = [signed_session()[0], other[1]]
    result = verify(swapped, billed=Decimal(11345))
    assert result.status == INVALID
    assert "different_transaction" in codes(result)


def test_a_wrong_key_is_invalid():
    other = TestMeter("someone else", serial="TM-0001")
    assert "signature_invalid" in codes(verify(signed_session(), key=MeterKey(other.public_key_hex, "TM-0001")))


def test_a_key_sent_with_a_reading_that_is_not_the_registered_one_is_invalid():
    other = TestMeter("someone else", serial="TM-0001")
    records = [SignedRecord(r.ocmf, public_key=other.public_key_hex) for r in signed_session()]
    assert "public_key_mismatch" in codes(verify(records))


def test_another_meters_serial_is_invalid():
    assert codes(verify(signed_session(), key=MeterKey(METER.public_key_hex, "TM-9999"))) == ["meter_serial_mismatch"]


def test_a_gap_between_signed_and_billed_energy_is_caught_beyond_the_meters_resolution():
    assert verify(signed_session(), billed=Decimal(11346)).status == VERIFIED  # 1 Wh: the meter's last digit
    assert codes(verify(signed_session(), billed=Decimal(11400))) == ["energy_mismatch"]


def test_a_meter_status_other_than_ok_is_invalid():
    payload = METER.payload(at=T0 + timedelta(hours=1), wh=12345, tx="E", id_tag="04AA0001", page=11)
    bad_end = SignedRecord(METER.sign(payload.replace('"ST":"G"', '"ST":"M"')))
    assert "eichrecht_meter_status" in codes(verify([signed_session()[0], bad_end]))


def test_no_key_at_all_is_invalid():
    assert "no_public_key" in codes(verify(signed_session(), key=None))


# --- the transparency software's container ----------------------------------------------------------------
def test_the_container_pairs_begin_and_end_and_verifies_with_pyocmf(tmp_path):
    records = [r.ocmf for r in signed_session()]
    path = tmp_path / "session.xml"
    path.write_bytes(transparency_xml(records=records, public_key_hex=METER.public_key_hex, transaction_id=7))
    container = OcmfContainer.from_xml(path)
    assert [e.context for e in container] == ["Transaction.Begin", "Transaction.End"]
    assert all(e.verify_signature() for e in container)
    (result,) = container.check_eichrecht(errors_only=True)
    assert result.transaction_id == 7 and result.is_compliant
