"""The OCPI 2.2.1 objects the engine reads and writes, and its error.

Input: the Tariffs module's Tariff, TariffElement, PriceComponent (TariffDimensionType ENERGY,
FLAT, PARKING_TIME, TIME), TariffRestrictions (DayOfWeek, ReservationRestrictionType) and Price,
and the session as the CDRs module's CdrChargingPeriods. Output: one `CostLine` per rounded
amount and a `CostBreakdown` whose totals mirror the CDR's total_cost, total_fixed_cost,
total_energy(_cost), total_time(_cost), total_parking_time/_cost and total_reservation_cost, with the
document's VAT per rate (`vat_breakdown`, EN 16931 BR-CO-17) beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from billing_app.money import VatSubtotal
from evbilling.records import positional_constructor

ENERGY = "ENERGY"
FLAT = "FLAT"
PARKING_TIME = "PARKING_TIME"
TIME = "TIME"
TARIFF_DIMENSIONS = (ENERGY, FLAT, PARKING_TIME, TIME)
RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"
RESERVATION_TYPES = (RESERVATION, RESERVATION_EXPIRES)
RESERVATION_FLAT = "RESERVATION_FLAT"
RESERVATION_TIME = "RESERVATION_TIME"
MIN_PRICE = "MIN_PRICE"
MAX_PRICE = "MAX_PRICE"
DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
TARIFF_TYPES = ("AD_HOC_PAYMENT", "PROFILE_CHEAP", "PROFILE_FAST", "PROFILE_GREEN", "REGULAR")

ZERO = Decimal(0)
_Record = TypeVar("_Record")


class PricingError(ValueError):
    """A tariff or session the engine cannot price (inconsistent input)."""


# Input: the tariff mirrors the OCPI 2.2.1 Tariff object.


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI Price: an amount excl. VAT and, optionally, incl. VAT."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit excl. VAT (kWh, hour, or once for FLAT); `vat` in percent, None = no VAT."""

    type: str
    price: Decimal
    step_size: int
    vat: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TariffRestrictions:
    start_time: str | None = None
    end_time: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    day_of_week: tuple[str, ...] | None = None
    reservation: str | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Tariff:
    """An OCPI 2.2.1 Tariff plus `parking_grace_minutes` (evbilling extension) and `extra`
    (unknown top-level keys, kept so an OCPI import exports unchanged)."""

    currency: str
    elements: tuple[TariffElement, ...]
    country_code: str = ""
    party_id: str = ""
    id: str = ""
    type: str | None = None
    tariff_alt_text: tuple[DisplayText, ...] | None = None
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: Mapping[str, Any] | None = None
    last_updated: datetime | None = None
    parking_grace_minutes: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChargingPeriod:
    """An OCPI CdrChargingPeriod: energy in kWh, times in hours, power in kW, current in A.

    The period ends where the next one starts (the last one at the session end). `power` and
    `current` are the CdrDimensionTypes POWER and CURRENT (averages over the period), which stand
    in for absent MIN_/MAX_ values (see `restrictions`). `dimensions` holds every CdrDimension as
    read, (type, volume) in order, including those that price nothing (ENERGY_EXPORT,
    ENERGY_IMPORT, STATE_OF_CHARGE), so a loaded session is written back unchanged.
    """

    start_date_time: datetime
    energy: Decimal = ZERO
    time: Decimal = ZERO
    parking_time: Decimal = ZERO
    reservation_time: Decimal = ZERO
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    power: Decimal | None = None
    current: Decimal | None = None
    suspended_by_evse: bool = False
    dimensions: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A session to price; restrictions are evaluated in `time_zone` (IANA name)."""

    start_date_time: datetime
    end_date_time: datetime
    charging_periods: tuple[ChargingPeriod, ...]
    time_zone: str = "UTC"
    reservation: str | None = None


# Output: a CostBreakdown whose totals mirror the OCPI CDR fields.


@dataclass(frozen=True, slots=True, kw_only=True)
class CostLine:
    """One rounded line: a dimension priced by one price component over some periods.

    `quantity` is the volume (kWh, hours, 1 for a fee) priced by this component,
    `billed_quantity` what is billed after grace minutes and step_size rounding;
    `amount_excl_vat` = billed_quantity x unit_price, rounded once. `vat_amount` and
    `amount_incl_vat` are the line's own VAT and gross, information only: the VAT billed is computed
    per rate on the sum of the lines (`CostBreakdown.vat_breakdown`). `period_indices` point into
    `Session.charging_periods`. Price-bound adjustments have no element or periods.
    """

    dimension: str
    element_index: int | None
    component_index: int | None
    period_indices: tuple[int, ...]
    period_start: datetime | None
    quantity: Decimal
    billed_quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal | None
    amount_excl_vat: Decimal
    vat_amount: Decimal
    amount_incl_vat: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "dimension": self.dimension,
            "element_index": self.element_index,
            "component_index": self.component_index,
            "period_indices": list(self.period_indices),
            "period_start": _iso(self.period_start) if self.period_start else None,
            "quantity": str(self.quantity),
            "billed_quantity": str(self.billed_quantity),
            "unit_price": str(self.unit_price),
            "vat_rate": None if self.vat_rate is None else str(self.vat_rate),
            "amount_excl_vat": str(self.amount_excl_vat),
            "vat_amount": str(self.vat_amount),
            "amount_incl_vat": str(self.amount_incl_vat),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class CostBreakdown:
    """Priced session. Cost totals mirror the OCPI CDR fields: excl. VAT the sum of the rounded lines,
    incl. VAT that plus the VAT computed per rate on those lines (`billing_app.money.vat_breakdown`).
    `vat_breakdown` holds the per-rate VAT of `total_cost` (rate, taxable amount, VAT), what a
    document shows; the per-dimension totals' incl. VAT is computed the same way over the
    dimension's own lines (information: they need not add up to `total_cost.incl_vat`).
    Quantities (kWh, hours) are rounded to OCPI's 4 decimals."""

    currency: str
    lines: tuple[CostLine, ...]
    total_cost: Price
    total_fixed_cost: Price
    total_energy: Decimal
    total_energy_cost: Price
    total_time: Decimal
    total_time_cost: Price
    total_parking_time: Decimal
    total_parking_cost: Price
    total_reservation_cost: Price
    vat_breakdown: tuple[VatSubtotal, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: Decimals as strings, cost totals as OCPI Price objects."""

        def price(p: Price) -> dict[str, str]:
            return {"excl_vat": str(p.excl_vat), "incl_vat": str(p.incl_vat)}

        return {
            "currency": self.currency,
            "total_cost": price(self.total_cost),
            "total_fixed_cost": price(self.total_fixed_cost),
            "total_energy": str(self.total_energy),
            "total_energy_cost": price(self.total_energy_cost),
            "total_time": str(self.total_time),
            "total_time_cost": price(self.total_time_cost),
            "total_parking_time": str(self.total_parking_time),
            "total_parking_cost": price(self.total_parking_cost),
            "total_reservation_cost": price(self.total_reservation_cost),
            "vat_breakdown": [vat_subtotal_to_dict(subtotal) for subtotal in self.vat_breakdown],
            "lines": [line.to_dict() for line in self.lines],
        }


new_line = positional_constructor(CostLine)
new_price = positional_constructor(Price)
new_breakdown = positional_constructor(CostBreakdown)


def vat_subtotal_to_dict(subtotal: VatSubtotal) -> dict[str, str | None]:
    """A per-rate VAT row as JSON: rate (percent, None: no VAT), taxable amount and VAT as strings."""
    return {
        "rate": None if subtotal.rate is None else format(subtotal.rate, "f"),
        "taxable_amount": str(subtotal.taxable_amount),
        "vat_amount": str(subtotal.vat_amount),
    }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
