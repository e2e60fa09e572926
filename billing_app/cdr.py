"""A charging session in OCPI terms: the charging periods the engine prices, and the CDR.

Periods come from `sessions_app.periods.derive_periods` (one place decides charging vs. idle):
a charging period carries ENERGY, TIME and the power/current it ran at, an idle period carries
PARKING_TIME (and the trickle energy it drew, if any). Volumes are exact decimals: kWh and hours.
"""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from sessions_app.models import ChargingSession
from sessions_app.periods import CHARGING, Period, Reading, derive_periods
from sessions_app.selectors import session_samples

KW = Decimal(1000)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period_dimensions(period: Period) -> list[dict[str, Any]]:
    dimensions: list[dict[str, Any]] = []
    energy_kwh = period.energy_wh / KW
    if period.kind == CHARGING:
        dimensions.append({"type": "ENERGY", "volume": energy_kwh})
        dimensions.append({"type": "TIME", "volume": period.hours})
        if period.max_power_w is not None:
            dimensions.append({"type": "MAX_POWER", "volume": period.max_power_w / KW})
            dimensions.append({"type": "MIN_POWER", "volume": period.min_power_w / KW})
        if period.max_current_a is not None:
            dimensions.append({"type": "MAX_CURRENT", "volume": period.max_current_a})
            dimensions.append({"type": "MIN_CURRENT", "volume": period.min_current_a})
    else:
        if energy_kwh:
            dimensions.append({"type": "ENERGY", "volume": energy_kwh})
        dimensions.append({"type": "PARKING_TIME", "volume": period.hours})
    return dimensions


def session_periods(session: ChargingSession) -> list[Period]:
    readings = [
        Reading(at=s.taken_at, energy_wh=s.energy_wh, power_w=s.power_w, current_a=s.current_a)
        for s in session_samples(session)
    ]
    return derive_periods(
        readings,
        started_at=session.started_at,
        stopped_at=session.stopped_at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=session.meter_stop_wh,
        idle_power_w=Decimal(settings.SESSION_IDLE_POWER_W),
    )


def session_pricing_input(session: ChargingSession) -> dict[str, Any]:
    """The session in the pricing engine's input shape (the `price` command's SESSION.json)."""
    return {
        "start_date_time": _iso(session.started_at),
        "end_date_time": _iso(session.stopped_at),
        "time_zone": session.connector.station.location.time_zone,
        "charging_periods": [
            {"start_date_time": _iso(p.start), "dimensions": _period_dimensions(p)} for p in session_periods(session)
        ],
    }
