"""Turning OCPP payload fragments (timestamps, meter values) into service inputs.

Both protocol versions report meter values the same way apart from details: 1.6 sends the value as
a string with `unit`, 2.0.1 as a number with `unitOfMeasure: {unit, multiplier}`. A bad value is the
charger's fault and answers with a PropertyConstraintViolation. Signed readings (1.6: a sampled value
with `format: "SignedData"` whose value is the signed record; 2.0.1: `signedMeterValue` beside the
plain value) are picked out by `signed_readings_from_meter_values`.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from ocpp.exceptions import PropertyConstraintViolationError

from sessions_app.ocmf.decoding import KeyFormatError, decode_signed_data, public_key_hex
from sessions_app.services import SampleIn, SignedReadingIn

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
SOC = "SoC"

# measurand -> {unit: factor to our unit (Wh, W, A, %)}
_UNITS = {
    ENERGY: {"Wh": Decimal(1), "kWh": Decimal(1000)},
    POWER: {"W": Decimal(1), "kW": Decimal(1000)},
    CURRENT: {"A": Decimal(1)},
    SOC: {"Percent": Decimal(1)},
}
_DEFAULT_UNIT = {ENERGY: "Wh", POWER: "W", CURRENT: "A", SOC: "Percent"}
_IGNORED_LOCATIONS = {"Inlet", "Cable"}
_QUANTUM = {ENERGY: Decimal("0.001"), POWER: Decimal("0.1"), CURRENT: Decimal("0.01"), SOC: Decimal(1)}

#: The highest connector (1.6) or EVSE (2.0.1) number a station can have: what Connector.number and
#: ConnectorStatusEvent.connector_number store (PositiveSmallIntegerField). The schemas set no bound.
CONNECTOR_NUMBER_MAX = 32767
#: The highest meter reading a session stores, in Wh (DecimalField, 15 digits of which 3 decimals).
METER_WH_MAX = Decimal("999999999999.999")


def connector_number(value: int, *, field: str, station: bool = False) -> int:
    """A connector or EVSE number as the charger sent it; 0 (the station as a whole) only where `station`
    allows it. Any other value is a PropertyConstraintViolation, checked before anything is looked up."""
    low = 0 if station else 1
    if not low <= value <= CONNECTOR_NUMBER_MAX:
        cause = f"{field} {value} is outside {low}..{CONNECTOR_NUMBER_MAX}."
        raise PropertyConstraintViolationError(details={"cause": cause})
    return value


def meter_wh(value: int | float, *, field: str) -> Decimal:
    """A meter reading in Wh (meterStart, meterStop): not negative and storable, else a
    PropertyConstraintViolation."""
    reading = Decimal(str(value))
    if not reading.is_finite() or not 0 <= reading <= METER_WH_MAX:
        raise PropertyConstraintViolationError(details={"cause": f"{field} {value} is outside 0..{METER_WH_MAX}."})
    return reading


def parse_timestamp(value: str, *, field: str = "timestamp") -> datetime:
    """An OCPP dateTime; one without an offset is taken as UTC (the spec says UTC)."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        cause = f"{field} is not an ISO 8601 time: {value!r}"
        raise PropertyConstraintViolationError(details={"cause": cause}) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _value(sampled: dict) -> tuple[str, str | None, Decimal] | None:
    """(measurand, phase, value in our unit) of one sampled value, or None when we do not use it."""
    measurand = sampled.get("measurand", ENERGY)
    if measurand not in _UNITS or sampled.get("location") in _IGNORED_LOCATIONS:
        return None
    if sampled.get("format") == "SignedData":
        return None
    unit_of_measure = sampled.get("unit_of_measure") or {}
    unit = sampled.get("unit") or unit_of_measure.get("unit") or _DEFAULT_UNIT[measurand]
    factor = _UNITS[measurand].get(unit)
    if factor is None:
        raise PropertyConstraintViolationError(details={"cause": f"Unit {unit!r} is not supported for {measurand}."})
    try:
        number = Decimal(str(sampled["value"]))
    except (KeyError, InvalidOperation):
        raise PropertyConstraintViolationError(
            details={"cause": f"{measurand} value {sampled.get('value')!r} is not a number."}
        ) from None
    if not number.is_finite():
        raise PropertyConstraintViolationError(details={"cause": f"{measurand} value must be finite."})
    multiplier = int(unit_of_measure.get("multiplier", 0))
    number = (number * factor).scaleb(multiplier).quantize(_QUANTUM[measurand])
    return measurand, sampled.get("phase"), number


def _combine(by_phase: dict[str | None, Decimal], measurand: str) -> Decimal | None:
    """The total of a measurand: the unphased value when given, else the phases combined (sum for
    energy and power, highest phase for current and state of charge)."""
    if not by_phase:
        return None
    if None in by_phase:
        return by_phase[None]
    phases = [v for phase, v in by_phase.items() if phase != "N"]
    if not phases:
        return None
    return sum(phases) if measurand in (ENERGY, POWER) else max(phases)


def samples_from_meter_values(meter_values: list[dict]) -> list[SampleIn]:
    """One SampleIn per instant that reports the energy register (the other readings ride along).

    Readings of one instant spread over several MeterValue entries are merged; instants without
    an energy register are dropped, since a sample without it cannot be priced.
    """
    readings: dict[datetime, dict[str, dict[str | None, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for meter_value in meter_values or []:
        at = parse_timestamp(meter_value.get("timestamp"))
        for sampled in meter_value.get("sampled_value") or []:
            parsed = _value(sampled)
            if parsed is not None:
                measurand, phase, number = parsed
                readings[at][measurand][phase] = number
    samples = []
    for at, values in sorted(readings.items()):
        energy = _combine(values.get(ENERGY, {}), ENERGY)
        if energy is None:
            continue
        soc = _combine(values.get(SOC, {}), SOC)
        samples.append(SampleIn(
            taken_at=at,
            energy_wh=energy,
            power_w=_combine(values.get(POWER, {}), POWER),
            current_a=_combine(values.get(CURRENT, {}), CURRENT),
            soc_percent=int(soc) if soc is not None else None,
        ))
    return samples


def _public_key(text: str | None) -> str:
    """A key sent with a reading as hex DER; one that cannot be read is kept as sent (verification says so)."""
    if not text:
        return ""
    try:
        return public_key_hex(text)[0]
    except KeyFormatError:
        return text.strip()


def _signed(sampled: dict, taken_at: datetime) -> SignedReadingIn | None:
    signed = sampled.get("signed_meter_value")
    if isinstance(signed, dict):  # OCPP 2.0.1
        data = str(signed.get("signed_meter_data") or "")
        method = str(signed.get("encoding_method") or "")
        signing_method, key = str(signed.get("signing_method") or ""), signed.get("public_key")
    elif sampled.get("format") == "SignedData":  # OCPP 1.6
        data, method, signing_method, key = str(sampled.get("value") or ""), "", "", None
    else:
        return None
    if not data:
        raise PropertyConstraintViolationError(details={"cause": "A signed meter value without signed data."})
    encoding, ocmf = decode_signed_data(data)
    if ocmf and not key and ocmf.count("|") >= 3:  # public key appended as a fourth section
        key = ocmf.split("|", 3)[3]
    return SignedReadingIn(
        taken_at=taken_at, signed_data=data, format=(method or ("OCMF" if ocmf else "unknown")).upper()[:20],
        encoding=encoding, ocmf=ocmf, context=str(sampled.get("context") or ""), signing_method=signing_method,
        public_key=_public_key(key),
    )


def signed_readings_from_meter_values(meter_values: list[dict]) -> list[SignedReadingIn]:
    """The signed readings among the meter values, in the order sent."""
    readings = []
    for meter_value in meter_values or []:
        taken_at = parse_timestamp(meter_value.get("timestamp"))
        for sampled in meter_value.get("sampled_value") or []:
            reading = _signed(sampled, taken_at)
            if reading is not None:
                readings.append(reading)
    return readings
