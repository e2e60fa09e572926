"""The OCPI 2.2.1 pricing engine: `price_session` and the objects it reads and writes.

Pure (no ORM, no I/O). One module per rule of the spec: `restrictions`, `elements` (element
choice), `periods` (period splitting), `step_size`, `lines` (lines and totals), `bounds`
(min/max price); `engine` walks the periods; `types` holds the OCPI objects. Money is rounded
by `billing_app.money`.
"""

from __future__ import annotations

from billing_app.money import MINOR_UNITS

from .engine import price_session
from .types import (
    DAYS_OF_WEEK,
    ENERGY,
    FLAT,
    MAX_PRICE,
    MIN_PRICE,
    PARKING_TIME,
    RESERVATION,
    RESERVATION_EXPIRES,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    RESERVATION_TYPES,
    TARIFF_DIMENSIONS,
    TARIFF_TYPES,
    TIME,
    ZERO,
    ChargingPeriod,
    CostBreakdown,
    CostLine,
    DisplayText,
    Price,
    PriceComponent,
    PricingError,
    Session,
    Tariff,
    TariffElement,
    TariffRestrictions,
)

__all__ = [
    "DAYS_OF_WEEK",
    "ENERGY",
    "FLAT",
    "MAX_PRICE",
    "MINOR_UNITS",
    "MIN_PRICE",
    "PARKING_TIME",
    "RESERVATION",
    "RESERVATION_EXPIRES",
    "RESERVATION_FLAT",
    "RESERVATION_TIME",
    "RESERVATION_TYPES",
    "TARIFF_DIMENSIONS",
    "TARIFF_TYPES",
    "TIME",
    "ZERO",
    "ChargingPeriod",
    "CostBreakdown",
    "CostLine",
    "DisplayText",
    "Price",
    "PriceComponent",
    "PricingError",
    "Session",
    "Tariff",
    "TariffElement",
    "TariffRestrictions",
    "price_session",
]
