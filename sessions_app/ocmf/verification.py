"""Whether a session's signed readings prove the energy billed. Pure: no ORM, no I/O.

The rules, each a finding of its own (a finding in `reasons` makes the session invalid; `notes` are shown
but do not):

- the records are OCMF and readable (`unreadable_record`); there is one signed begin reading (TX=B) and one
  signed end reading (TX in E, L, R, A, P) of a law-relevant energy register (`no_signed_begin`,
  `no_signed_end`, `several_signed_begins`, `several_signed_ends`);
- each of them carries a valid signature of the station's registered meter key (`no_public_key`,
  `signature_invalid`, `signature_unverifiable`), and a key sent with a reading is that key
  (`public_key_mismatch`);
- the meter that signed is the station's meter (`meter_serial_mismatch`);
- the Transparenzsoftware's rules as `pyocmf` applies them (`eichrecht_*`: meter status G, no energy error
  flag, same register and unit, no value or time going backwards, same serial, identification level);
  time not synchronized is a note, as there;
- begin and end belong to this one transaction (`different_transaction`): same identification data,
  pagination of one context counting up, and reading times inside the session (15 minutes' tolerance,
  unless the meter only keeps relative time);
- the signed energy (end - begin) equals the energy billed to the meter's resolution (`energy_mismatch`),
  the resolution being the last digit the meter signed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from pyocmf import OCMF, IssueCode, IssueSeverity, PyOCMFError, SignatureVerificationError
from pyocmf.enums.reading import MeterReadingReason, TimeStatus

from sessions_app.plausibility import Finding

from .decoding import KeyFormatError, public_key_hex

VERIFIED, INVALID, UNSIGNED = "verified", "invalid", "unsigned"
TIME_TOLERANCE = timedelta(minutes=15)
_UNIT_WH = {"Wh": Decimal(1), "kWh": Decimal(1000)}
_END_REASONS = {MeterReadingReason.END, MeterReadingReason.TERMINATION_LOCAL, MeterReadingReason.TERMINATION_REMOTE,
                MeterReadingReason.TERMINATION_ABORT, MeterReadingReason.TERMINATION_POWER_FAILURE}
#: pyocmf reports these as warnings (the Transparenzsoftware shows them), but a begin and an end that
#: disagree on them are not one transaction: here they fail the check.
_SAME_TRANSACTION = {IssueCode.PAGINATION_INCONSISTENT, IssueCode.ID_MISMATCH}
WH = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class SignedRecord:
    """One stored signed reading: the decoded OCMF record ("" when it is not OCMF) and the key sent with it."""

    ocmf: str
    public_key: str = ""
    label: str = ""


@dataclass(frozen=True, slots=True)
class MeterKey:
    public_key: str
    meter_serial: str = ""


@dataclass
class Verification:
    status: str
    reasons: list[Finding] = field(default_factory=list)
    notes: list[Finding] = field(default_factory=list)
    meter_serial: str = ""
    begin_wh: Decimal | None = None
    end_wh: Decimal | None = None
    resolution_wh: Decimal | None = None

    @property
    def signed_energy_wh(self) -> Decimal | None:
        return None if self.begin_wh is None or self.end_wh is None else self.end_wh - self.begin_wh


@dataclass(frozen=True, slots=True)
class _Point:
    """A signed energy reading inside a parsed record."""

    record: int
    ocmf: OCMF
    reading: object  # pyocmf Reading

    @property
    def wh(self) -> Decimal:
        return (self.reading.RV * _UNIT_WH[str(self.reading.RU)]).quantize(WH)

    @property
    def resolution_wh(self) -> Decimal:
        return Decimal(1).scaleb(self.reading.RV.as_tuple().exponent) * _UNIT_WH[str(self.reading.RU)]


def _parse(records: list[SignedRecord], reasons: list[Finding], notes: list[Finding]) -> list[OCMF | None]:
    parsed: list[OCMF | None] = []
    for record in records:
        if not record.ocmf:
            parsed.append(None)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                parsed.append(OCMF.from_string(record.ocmf))
            except PyOCMFError as error:
                reasons.append(Finding("unreadable_record", f"{record.label or 'a record'} is not OCMF: {error}"))
                parsed.append(None)
                continue
        notes.extend(Finding("spec_deviation", str(w.message)) for w in caught
                     if Finding("spec_deviation", str(w.message)) not in notes)
    return parsed


def _energy_points(parsed: list[OCMF | None], records: list[SignedRecord]) -> tuple[list[_Point], list[_Point]]:
    """(begin readings, end readings) of law-relevant energy registers; a record sent twice counts once."""
    begins, ends = [], []
    seen: set[str] = set()
    for index, ocmf in enumerate(parsed):
        if ocmf is None or records[index].ocmf in seen:
            continue
        seen.add(records[index].ocmf)
        for reading in ocmf.payload.RD:
            relevant = reading.RI is None or reading.RI.is_law_relevant
            if not relevant or reading.RV is None or str(reading.RU) not in _UNIT_WH:
                continue
            if reading.TX == MeterReadingReason.BEGIN:
                begins.append(_Point(index, ocmf, reading))
            elif reading.TX in _END_REASONS:
                ends.append(_Point(index, ocmf, reading))
    return begins, ends


def _signatures(points: list[_Point], records: list[SignedRecord], key: MeterKey | None,
                reasons: list[Finding]) -> None:
    registered = key.public_key if key else ""
    for point in {p.record: p for p in points}.values():
        record = records[point.record]
        name = record.label or f"record {point.record + 1}"
        sent = record.public_key or point.ocmf.embedded_public_key or ""
        if sent and registered:
            try:
                if public_key_hex(sent)[0] != registered:
                    reasons.append(Finding("public_key_mismatch",
                                           f"the key sent with the {name} is not the station's registered meter key"))
            except KeyFormatError:
                reasons.append(Finding("public_key_mismatch", f"the key sent with the {name} is unreadable"))
        use = registered or sent
        if not use:
            reasons.append(Finding("no_public_key", f"no public key of the meter to check the {name} with"))
            continue
        try:
            valid = point.ocmf.verify_signature(use)
        except (SignatureVerificationError, PyOCMFError) as error:
            reasons.append(Finding("signature_unverifiable", f"the {name}'s signature cannot be checked: {error}"))
            continue
        if not valid:
            reasons.append(Finding("signature_invalid", f"the {name}'s signature does not match its data"))


def _compliance(begin: _Point, end: _Point, reasons: list[Finding], notes: list[Finding]) -> None:
    issues = (begin.ocmf.check_eichrecht() if begin.record == end.record
              else begin.ocmf.check_eichrecht(end.ocmf))
    for issue in issues:
        if issue.code in _SAME_TRANSACTION:
            reasons.append(Finding("different_transaction", issue.message))
        elif issue.severity == IssueSeverity.ERROR:
            reasons.append(Finding(f"eichrecht_{issue.code.lower()}", issue.message))
        else:
            notes.append(Finding(f"eichrecht_{issue.code.lower()}", issue.message))


def _inside_session(begin: _Point, end: _Point, started_at: datetime, stopped_at: datetime,
                    reasons: list[Finding]) -> None:
    for point, name in ((begin, "begin"), (end, "end")):
        if point.reading.time_status == TimeStatus.RELATIVE:
            continue
        at = point.reading.timestamp
        if not started_at - TIME_TOLERANCE <= at <= stopped_at + TIME_TOLERANCE:
            reasons.append(Finding("different_transaction",
                                   f"the signed {name} reading was taken at {at.isoformat()}, outside the session "
                                   f"({started_at.isoformat()} to {stopped_at.isoformat()})"))


def _serial(ocmf: OCMF) -> str:
    return ocmf.payload.MS or ocmf.payload.GS or ""


def verify_session(*, records: list[SignedRecord], key: MeterKey | None, billed_energy_wh: Decimal,
                   started_at: datetime, stopped_at: datetime) -> Verification:
    """Check a completed session's signed readings against the meter key registered for its station."""
    if not records:
        return Verification(UNSIGNED)
    reasons: list[Finding] = []
    notes: list[Finding] = []
    parsed = _parse(records, reasons, notes)
    if not any(parsed):
        reasons.append(Finding("not_ocmf", "the charger's signed data is in no format this platform verifies"))
        return Verification(INVALID, reasons, notes)
    begins, ends = _energy_points(parsed, records)
    if not begins:
        reasons.append(Finding("no_signed_begin", "no signed begin reading (TX=B) of the energy register"))
    elif len({p.record for p in begins}) > 1:
        reasons.append(Finding("several_signed_begins", f"{len(begins)} different signed begin readings"))
    if not ends:
        reasons.append(Finding("no_signed_end", "no signed end reading of the energy register"))
    elif len({p.record for p in ends}) > 1:
        reasons.append(Finding("several_signed_ends", f"{len(ends)} different signed end readings"))
    result = Verification(INVALID, reasons, notes)
    points = [*begins[:1], *ends[-1:]]
    _signatures(points, records, key, reasons)
    if points:
        result.meter_serial = _serial(points[-1].ocmf)
        if key and key.meter_serial and any(_serial(p.ocmf) != key.meter_serial for p in points):
            reasons.append(Finding("meter_serial_mismatch",
                                   f"signed by meter {_serial(points[0].ocmf)!r}, the station's meter is "
                                   f"{key.meter_serial!r}"))
    if begins and ends:
        begin, end = begins[0], ends[-1]
        _compliance(begin, end, reasons, notes)
        _inside_session(begin, end, started_at, stopped_at, reasons)
        result.begin_wh, result.end_wh = begin.wh, end.wh
        result.resolution_wh = max(begin.resolution_wh, end.resolution_wh, WH)
        gap = abs(result.signed_energy_wh - billed_energy_wh)
        if gap > result.resolution_wh:
            reasons.append(Finding("energy_mismatch",
                                   f"the meter signed {result.signed_energy_wh} Wh, {billed_energy_wh} Wh were "
                                   f"measured for billing (resolution {result.resolution_wh} Wh)"))
    result.status = INVALID if reasons else VERIFIED
    return result
