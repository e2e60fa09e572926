"""Transactions as an OCPP 2.0.1 station reports them: one TransactionEvent (Started, Updated, Ended) under
the station's own transactionId, which is the session's `transaction_ref`; the EVSE id is our connector
number."""
from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from ..models import ChargingSession, ChargingStation, Connector, IdToken, MeterSample
from .samples_batch import session_charging_state_record
from .sessions import SampleIn, session_attach_token, session_record_samples, session_start_reported, session_stop
from .signed_values import SignedReadingIn, session_signed_values_record
from .stations import connector_for_number

logger = logging.getLogger(__name__)

ENDED = "Ended"


def _connector_number(station: ChargingStation, evse_number: int | None) -> int | None:
    """The EVSE the event names, else the station's only connector; None when that is ambiguous."""
    if evse_number:
        return evse_number
    numbers = list(Connector.objects.filter(station=station).values_list("number", flat=True)[:2])
    return numbers[0] if len(numbers) == 1 else None


def transaction_event_record(
    *,
    station: ChargingStation,
    event_type: str,
    at: datetime,
    transaction_ref: str,
    evse_number: int | None,
    id_token: IdToken | None,
    samples: list[SampleIn],
    charging_state: str | None = None,
    seq_no: int | None = None,
    stopped_reason: str | None = None,
    received_at: datetime | None = None,
    signed: list[SignedReadingIn] = (),
) -> ChargingSession | None:
    """Apply one TransactionEvent to the session it belongs to; returns the session (None when the event
    names no EVSE and the station has several: it is logged and ignored).

    Any event of a transaction not seen yet opens its session, whatever its type: a Started that went
    missing or arrives late must not lose the charge (the meter start is the lowest register reported,
    the start the earliest instant). The token (already authorized by the caller) names the driver of a
    session that started without one (2.0.1 starts at plug-in). Meter values are stored, the charging
    state joins the connector's timeline, signed readings (OCMF) are kept, and Ended stops the session with
    the highest register seen.

    Idempotent: a re-sent or late event changes nothing twice, since each step is: the session is keyed
    by (station, transaction_ref), a sample by (session, instant), a charging state by its instant, a signed
    reading by its content, a token is attached only to a session without one, and a stopped session stays
    stopped.
    """
    session = ChargingSession.objects.filter(connector__station=station, transaction_ref=transaction_ref).first()
    if session is None:
        number = _connector_number(station, evse_number)
        if number is None:
            logger.warning("%s: transaction %s on an unknown EVSE ignored", station, transaction_ref)
            return None
        energies = [s.energy_wh for s in samples]
        session = session_start_reported(
            connector=connector_for_number(station=station, number=number),
            started_at=min([at, *(s.taken_at for s in samples)]),
            meter_start_wh=min(energies) if energies else Decimal(0),
            transaction_ref=transaction_ref,
            id_token=id_token,
        )
    elif id_token is not None and session.id_token_id is None:
        session = session_attach_token(session=session, id_token=id_token)
    if samples:
        session_record_samples(session=session, samples=samples)
    if signed:
        session_signed_values_record(session=session, readings=list(signed))
    if charging_state:
        session_charging_state_record(
            session=session, state=charging_state, at=at, received_at=received_at or at, seq_no=seq_no
        )
    if event_type == ENDED:
        last = MeterSample.objects.filter(session=session, taken_at__lte=at).order_by("-taken_at").first()
        meter_stop = max([session.meter_start_wh, *(s.energy_wh for s in samples), *([last.energy_wh] if last else [])])
        session = session_stop(
            session=session, stopped_at=at, meter_stop_wh=meter_stop, reason=stopped_reason or "Local"
        )
    return session
