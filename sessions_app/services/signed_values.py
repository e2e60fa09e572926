"""Signed meter values (OCMF, German calibration law) and the meter keys that check them.

- `session_signed_values_record` keeps what a charger signed with its session, once per content (a
  re-sent message adds nothing), and takes a public key the charger sends for a station that has none
  registered yet (source "charger"; an operator's key is never replaced by one a charger sends).
- `meter_key_register` registers a meter's key for a station's connector (EVSE); a new key closes the
  one in service before it, which stays for the sessions it signed (meter replaced).
- `meter_key_for` is the key in service for a connector at an instant.
- `session_signatures_verify` checks a completed session's signed readings (`sessions_app.ocmf.verification`)
  and stores the result, replacing an earlier one (after a key was entered, say).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from pyocmf import OCMF, PyOCMFError

from evbilling.errors import ApplicationError

from ..models import ChargingSession, ChargingStation, MeterPublicKey, MeterSignatureCheck, SignedMeterValue
from ..ocmf.decoding import KeyFormatError, public_key_hex
from ..ocmf.verification import MeterKey, SignedRecord, verify_session

logger = logging.getLogger(__name__)


class MeterKeyError(ApplicationError):
    """A meter key that cannot be registered (unreadable, in service before the current one ended)."""


@dataclass(frozen=True, slots=True)
class SignedReadingIn:
    taken_at: datetime
    signed_data: str
    format: str
    encoding: str
    ocmf: str = ""
    context: str = ""
    signing_method: str = ""
    public_key: str = ""


def _digest(data: str) -> str:
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _serial_of(ocmf: str) -> str:
    """The meter serial (MS, else GS) named in an OCMF record's payload, "" when unreadable."""
    try:
        payload = OCMF.from_string(ocmf).payload
    except PyOCMFError:
        return ""
    return payload.MS or payload.GS or ""


@transaction.atomic
def session_signed_values_record(*, session: ChargingSession, readings: list[SignedReadingIn]) -> int:
    """Store the session's signed readings; returns how many were new."""
    if not readings:
        return 0
    rows = [SignedMeterValue(session=session, taken_at=r.taken_at, context=r.context[:30], format=r.format[:20],
                             encoding=r.encoding, signing_method=r.signing_method[:50], signed_data=r.signed_data,
                             ocmf=r.ocmf, public_key=r.public_key[:400], digest=_digest(r.signed_data))
             for r in readings]
    before = SignedMeterValue.objects.filter(session=session).count()
    SignedMeterValue.objects.bulk_create(rows, ignore_conflicts=True)
    added = SignedMeterValue.objects.filter(session=session).count() - before
    sent = next((r for r in readings if r.public_key), None)
    if sent is not None:
        _key_from_charger(session=session, reading=sent)
    return added


def _key_from_charger(*, session: ChargingSession, reading: SignedReadingIn) -> None:
    """Register the key a charger sent with a reading when its connector has no key in service (first use)."""
    meter_key_from_charger(station=session.connector.station, evse_number=session.connector.number,
                           public_key=reading.public_key, at=session.started_at,
                           meter_serial=_serial_of(reading.ocmf) if reading.ocmf else "")


def meter_key_from_charger(*, station: ChargingStation, evse_number: int, public_key: str, at: datetime,
                           meter_serial: str = "") -> MeterPublicKey | None:
    """A key the charger reports (with a 2.0.1 reading, or 1.6's `MeterPublicKey<n>` configuration key),
    registered from `at` only when the connector has no key in service then (first use): a charger never
    replaces a key. Returns the key registered, else None."""
    if meter_key_for(station=station, evse_number=evse_number, at=at) is not None:
        return None
    try:
        return meter_key_register(station=station, evse_number=evse_number, public_key=public_key,
                                  meter_serial=meter_serial, source=MeterPublicKey.Source.CHARGER, valid_from=at)
    except MeterKeyError as error:
        logger.warning("%s: key reported by the charger not registered: %s", station, error)
        return None


_NOT_EC = "Not an elliptic-curve public key (DER as hex, base64 or PEM): "


def _key_format_text(message: str) -> str:
    """`ocmf.decoding`'s refusal of a key (English: it also goes to the log) in the reader's language."""
    if message == "The public key is empty.":
        return gettext("The public key is empty.")
    if message.startswith(_NOT_EC):
        return gettext("Not an elliptic-curve public key (DER as hex, base64 or PEM): %(error)s") % {
            "error": message[len(_NOT_EC):]}
    return message


def meter_key_check(*, station: ChargingStation, evse_number: int | None, public_key: str,
                    valid_from: datetime) -> tuple[str, str]:
    """(hex DER, curve) of a key that can be registered from `valid_from`, else MeterKeyError: the key is
    unreadable, or the key in service on that connector started later."""
    try:
        hex_key, curve = public_key_hex(public_key)
    except KeyFormatError as error:
        raise MeterKeyError(_key_format_text(str(error))) from None
    current = MeterPublicKey.objects.filter(station=station, evse_number=evse_number, valid_until__isnull=True).first()
    if current is not None and current.public_key != hex_key and current.valid_from > valid_from:
        raise MeterKeyError(gettext("The key in service since %(since)s started after %(from)s: give the new "
                                    "meter's first day of service.") % {
            "since": f"{current.valid_from:%Y-%m-%d %H:%M}", "from": f"{valid_from:%Y-%m-%d %H:%M}"})
    return hex_key, curve


def meter_key_register(*, station: ChargingStation, evse_number: int | None, public_key: str, meter_serial: str = "",
                       source: str = MeterPublicKey.Source.OPERATOR, valid_from: datetime | None = None
                       ) -> MeterPublicKey:
    """Register a meter's key (hex, base64 or PEM) from `valid_from` on. The key in service for the same
    connector until then ends at `valid_from`. Registering a key the station has already returns its row."""
    valid_from = valid_from or timezone.now()
    with transaction.atomic():
        list(MeterPublicKey.objects.select_for_update().filter(station=station, evse_number=evse_number,
                                                               valid_until__isnull=True))
        hex_key, curve = meter_key_check(station=station, evse_number=evse_number, public_key=public_key,
                                         valid_from=valid_from)
        existing = MeterPublicKey.objects.filter(station=station, public_key=hex_key).first()
        if existing is not None:
            return existing
        current = MeterPublicKey.objects.filter(station=station, evse_number=evse_number,
                                                valid_until__isnull=True).first()
        if current is not None:
            current.valid_until = valid_from
            current.save(update_fields=["valid_until"])
        try:
            with transaction.atomic():
                return MeterPublicKey.objects.create(
                    station=station, evse_number=evse_number, meter_serial=meter_serial[:64], public_key=hex_key,
                    curve=curve, source=source, valid_from=valid_from)
        except IntegrityError:  # registered at the same moment by another process
            return MeterPublicKey.objects.get(station=station, public_key=hex_key)


def meter_key_for(*, station: ChargingStation, evse_number: int | None, at: datetime) -> MeterPublicKey | None:
    """The key in service at `at` for the connector, else the station-wide one (no connector given)."""
    in_service = MeterPublicKey.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=at), station=station, valid_from__lte=at)
    return (in_service.filter(evse_number=evse_number).order_by("-valid_from").first()
            or in_service.filter(evse_number__isnull=True).order_by("-valid_from").first())


def session_signatures_verify(*, session: ChargingSession) -> MeterSignatureCheck:
    """Check the completed session's signed readings with the key in service at its start; store the result
    (one per session, replaced by a later check)."""
    values = list(SignedMeterValue.objects.filter(session=session).order_by("taken_at", "pk"))
    key = meter_key_for(station=session.connector.station, evse_number=session.connector.number,
                        at=session.started_at)
    records = [SignedRecord(ocmf=v.ocmf, public_key=v.public_key,
                            label=f"{v.context or 'signed'} reading of {v.taken_at:%H:%M:%S}".replace(
                                "Transaction.", "").lower())
               for v in values]
    result = verify_session(
        records=records, key=MeterKey(key.public_key, key.meter_serial) if key else None,
        billed_energy_wh=(session.meter_stop_wh or session.meter_start_wh) - session.meter_start_wh,
        started_at=session.started_at, stopped_at=session.stopped_at or timezone.now())
    check, _ = MeterSignatureCheck.objects.update_or_create(session=session, defaults={
        "status": result.status, "reasons": [f.as_dict() for f in result.reasons],
        "notes": [f.as_dict() for f in result.notes], "meter_serial": result.meter_serial[:64],
        "meter_key": key, "begin_wh": result.begin_wh, "end_wh": result.end_wh,
        "resolution_wh": result.resolution_wh, "checked_at": timezone.now()})
    return check
