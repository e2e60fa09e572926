"""A charging session in OCPI terms: the charging periods the engine prices, and the CDR.

Periods come from `sessions_app.periods.derive_periods` (one place decides charging vs. idle):
a charging period carries ENERGY, TIME and the power/current it ran at, an idle period carries
PARKING_TIME (and the trickle energy it drew, if any). Idle time while the charger itself had
suspended charging (status SuspendedEVSE in the connector's status timeline) is marked
`evbilling_suspended_by_evse`, which the engine does not bill as parking. Volumes are exact
decimals: kWh and hours.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import pycountry
from django.conf import settings
from django.utils import timezone

from billing_app.models import SessionCharge
from billing_app.pricing import ocpi
from sessions_app.models import ChargingSession, ConnectorStatusEvent
from sessions_app.ocmf.roaming import ocpi_signed_data
from sessions_app.periods import CHARGING, Period, derive_periods
from sessions_app.selectors import session_readings, session_signed_data

KW = Decimal(1000)
SUSPENDED_EVSE = "SuspendedEVSE"


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal((end - start).total_seconds()) / 3600


@dataclass(frozen=True, slots=True)
class _Chunk:
    """A piece of a derived period, cut where the charger's suspension starts or ends."""

    period: Period
    start: datetime
    end: datetime
    suspended_by_evse: bool
    energy_wh: Decimal


def _charging_dimensions(period: Period) -> list[dict[str, Any]]:
    dimensions: list[dict[str, Any]] = [
        {"type": "ENERGY", "volume": period.energy_wh / KW},
        {"type": "TIME", "volume": period.hours},
    ]
    if period.max_power_w is not None:
        dimensions.append({"type": "MAX_POWER", "volume": period.max_power_w / KW})
        dimensions.append({"type": "MIN_POWER", "volume": period.min_power_w / KW})
    if period.max_current_a is not None:
        dimensions.append({"type": "MAX_CURRENT", "volume": period.max_current_a})
        dimensions.append({"type": "MIN_CURRENT", "volume": period.min_current_a})
    return dimensions


def _idle_dimensions(chunk: _Chunk) -> list[dict[str, Any]]:
    dimensions: list[dict[str, Any]] = []
    if chunk.energy_wh:
        dimensions.append({"type": "ENERGY", "volume": chunk.energy_wh / KW})
    dimensions.append({"type": "PARKING_TIME", "volume": _hours(chunk.start, chunk.end)})
    return dimensions


def suspension_windows(session: ChargingSession, *, until: datetime) -> list[tuple[datetime, datetime]]:
    """Intervals inside the session where the connector reported SuspendedEVSE."""
    events = list(
        ConnectorStatusEvent.objects.filter(
            station_id=session.connector.station_id,
            connector_number=session.connector.number,
            timestamp__lt=until,
        )
        .filter(timestamp__gte=session.started_at)
        .order_by("timestamp")
        .values_list("timestamp", "status")
    )
    before = (
        ConnectorStatusEvent.objects.filter(
            station_id=session.connector.station_id,
            connector_number=session.connector.number,
            timestamp__lt=session.started_at,
        )
        .order_by("-timestamp")
        .values_list("status", flat=True)
        .first()
    )
    windows, opened = [], session.started_at if before == SUSPENDED_EVSE else None
    for at, status in events:
        if status == SUSPENDED_EVSE and opened is None:
            opened = at
        elif status != SUSPENDED_EVSE and opened is not None:
            windows.append((opened, at))
            opened = None
    if opened is not None:
        windows.append((opened, until))
    return windows


def _chunks(period: Period, windows: list[tuple[datetime, datetime]]) -> list[_Chunk]:
    """An idle period cut at suspension boundaries; its (trickle) energy stays on the first piece."""
    cuts = sorted({period.start, period.end, *(t for w in windows for t in w if period.start < t < period.end)})
    chunks = []
    for start, end in itertools.pairwise(cuts):
        suspended = any(ws <= start and end <= we for ws, we in windows)
        energy = period.energy_wh if not chunks else Decimal(0)
        if chunks and chunks[-1].suspended_by_evse == suspended:
            last = chunks.pop()
            chunks.append(_Chunk(period, last.start, end, suspended, last.energy_wh))
        else:
            chunks.append(_Chunk(period, start, end, suspended, energy))
    return chunks


def session_periods(session: ChargingSession, *, until: datetime | None = None) -> list[Period]:
    """Derived periods of a completed session, or of an active one up to its last reading."""
    readings = session_readings(session)
    if session.stopped_at is not None:
        stopped_at, meter_stop = session.stopped_at, session.meter_stop_wh
    else:
        last = readings[-1] if readings else None
        stopped_at = until or (last.at if last else session.started_at)
        meter_stop = last.energy_wh if last else session.meter_start_wh
    return derive_periods(
        readings,
        started_at=session.started_at,
        stopped_at=stopped_at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=meter_stop,
        idle_power_w=idle_power_w(),
    )


def idle_power_w() -> Decimal:
    """Below this average power between two readings the car is idle (setting SESSION_IDLE_POWER_W)."""
    return Decimal(settings.SESSION_IDLE_POWER_W)


def session_charging_periods(session: ChargingSession, *, until: datetime | None = None,
                             periods: list[Period] | None = None) -> list[dict[str, Any]]:
    """OCPI CdrChargingPeriods of the session (with the evbilling suspension flag where it applies), from its
    derived `periods` when the caller has them (the running cost keeps them), else from `session_periods`."""
    if periods is None:
        periods = session_periods(session, until=until)
    if not periods:
        return []
    # only idle time is cut where the charger suspended: a session that has only charged needs no status look-up
    idle = any(period.kind != CHARGING for period in periods)
    windows = suspension_windows(session, until=periods[-1].end) if idle else []
    result = []
    for period in periods:
        if period.kind == CHARGING:
            result.append({"start_date_time": ocpi.format_datetime_seconds(period.start),
                           "dimensions": _charging_dimensions(period)})
            continue
        for chunk in _chunks(period, windows):
            entry = {"start_date_time": ocpi.format_datetime_seconds(chunk.start),
                     "dimensions": _idle_dimensions(chunk)}
            if chunk.suspended_by_evse:
                entry[ocpi.SUSPENDED_KEY] = True
            result.append(entry)
    return result


def session_pricing_input(session: ChargingSession, *, until: datetime | None = None,
                          periods: list[Period] | None = None) -> dict[str, Any]:
    """The session in the pricing engine's input shape (the `price` command's SESSION.json); `periods` as in
    `session_charging_periods`."""
    periods = session_charging_periods(session, until=until, periods=periods)
    end = session.stopped_at or until or timezone.now()
    return {
        "start_date_time": ocpi.format_datetime_seconds(session.started_at),
        "end_date_time": ocpi.format_datetime_seconds(end),
        "time_zone": session.connector.station.location.time_zone,
        "charging_periods": periods,
    }


def country_alpha3(country: str) -> str:
    """ISO 3166 alpha-3 (OCPI locations and CDRs) of an alpha-2 code."""
    found = pycountry.countries.get(alpha_2=country)
    return found.alpha_3 if found else country


def cdr_for_charge(charge: SessionCharge) -> dict[str, Any]:
    """The priced session as an OCPI 2.2.1 CDR (numbers as Decimal: write it with `ocpi.dumps`).

    Re-pricing this CDR with the tariff in `tariffs` gives back its totals: the `price` command
    accepts it as SESSION.json. A session whose meter signed its readings carries them as `signed_data`
    (OCMF records and the meter's public key), for the roaming partner to verify.
    """
    session = charge.session
    connector = session.connector
    station = connector.station
    location = station.location
    tariff = charge.tariff_snapshot
    breakdown = charge.breakdown
    token = session.id_token

    def price(key: str) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in breakdown[key].items()}

    periods = [{**period, "tariff_id": tariff["id"]} for period in session_charging_periods(session)]
    records, meter_key = session_signed_data(session)
    signed = ocpi_signed_data(records=records, public_key_hex=meter_key.public_key if meter_key else "")
    return {
        "country_code": tariff["country_code"],
        "party_id": tariff["party_id"],
        "id": f"{session.operator.invoice_prefix}-CDR-{session.pk}",
        "start_date_time": ocpi.format_datetime_seconds(session.started_at),
        "end_date_time": ocpi.format_datetime_seconds(session.stopped_at),
        "session_id": str(session.pk),
        "cdr_token": {
            "country_code": tariff["country_code"],
            "party_id": tariff["party_id"],
            "uid": token.uid if token else "UNKNOWN",
            "type": token.type if token else "OTHER",
            "contract_id": token.uid if token else "UNKNOWN",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": str(location.pk),
            "name": location.name,
            "address": location.address,
            "city": location.city,
            "postal_code": location.postal_code,
            "country": country_alpha3(location.country),
            "coordinates": {"latitude": f"{location.latitude:.6f}", "longitude": f"{location.longitude:.6f}"},
            "evse_uid": f"{station.ocpp_identity}-{connector.number}",
            "evse_id": f"{location.country}*{tariff['party_id']}*E{station.ocpp_identity}*{connector.number}",
            "connector_id": str(connector.number),
            "connector_standard": connector.standard,
            "connector_format": "CABLE" if connector.power_type == connector.PowerType.DC else "SOCKET",
            "connector_power_type": connector.power_type,
        },
        "currency": charge.currency,
        "tariffs": [tariff],
        "charging_periods": periods,
        "total_cost": price("total_cost"),
        "total_fixed_cost": price("total_fixed_cost"),
        "total_energy": Decimal(breakdown["total_energy"]),
        "total_energy_cost": price("total_energy_cost"),
        "total_time": Decimal(breakdown["total_time"]),
        "total_time_cost": price("total_time_cost"),
        "total_parking_time": Decimal(breakdown["total_parking_time"]),
        "total_parking_cost": price("total_parking_cost"),
        "total_reservation_cost": price("total_reservation_cost"),
        **({"signed_data": signed} if signed else {}),
        "last_updated": ocpi.format_datetime_seconds(charge.priced_at),
    }
