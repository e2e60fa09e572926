"""Pure pricing engine for OCPI 2.2.1 tariffs (no ORM, no I/O, stdlib only).

`price_session(tariff=..., session=...)` prices one charging session (its OCPI charging periods)
with one tariff and returns a `CostBreakdown` whose totals mirror the OCPI CDR totals.

The OCPI 2.2.1 rules implemented, with the errata of the spec's worked examples
(ocpi/ocpi issues #289, #334, #396, #434, #546, #579):

* Element choice: per dimension (ENERGY, TIME, PARKING_TIME, FLAT) and per period, the first
  element in tariff order whose restrictions all match and which has a component of that
  dimension is used (the first such component of the element, should it list two). Elements
  with a `reservation` restriction only price reservations. The tariff's own validity
  (`start_date_time`/`end_date_time`) is the caller's concern: it chooses the tariff.
* Restrictions are evaluated in the session's local time (IANA zone): `start_time`/`end_time`
  is the window [start, end); `end_time` before `start_time` wraps past midnight, `end_time`
  "00:00" means the end of the day and equal times mean the whole day. Dates: [start_date,
  end_date). Lower bounds are inclusive, upper bounds exclusive (`max_kwh`, `max_power`,
  `max_current`, `max_duration`). kWh and duration compare the session's cumulative energy
  and elapsed time at the (sub)period start; power/current compare the period's MIN_*
  dimension against a minimum and its MAX_* dimension against a maximum (one of them stands in
  for the other when only one is given; without either, power is the period's average
  power and current is unknown, so current restrictions do not match while charging).
* Periods are split where a restriction boundary falls inside them (time of day, midnight for
  day/date restrictions, duration and kWh thresholds), but only where the split changes the
  elements used. Volumes are shared out in proportion to time (kWh thresholds: energy exactly,
  time in proportion to the energy, i.e. constant power within the period). OCPI asks the CPO
  to split periods at tariff changes; on periods already split this is a no-op.
* step_size applies once per session per dimension to the total billed volume of that
  dimension, with the step of the LAST component used for it; the volume added by rounding
  is billed at that last component's price (spec example "switching Tariff Element #2").
  TIME and PARKING_TIME share one rounding: when PARKING_TIME is billed, only the total
  parking time is rounded (with the last parking component's step) and charging time is not
  rounded at all; otherwise the total charging time is rounded (2.2.1 CDR module text, as
  confirmed by the maintainers in #396/#546; the printed figures of the tariff-module
  examples "switching #1" and "complex tariff" round the summed time and are wrong).
  Energy steps are in Wh, time steps in seconds. Reservation time is rounded on its own.
* FLAT is charged once per session: the first (in time) period where a FLAT component
  matches. Reservation FLAT fees are charged once, separately, and go to the reservation
  total like reservation TIME.
* Reservations: with `Session.reservation == "RESERVATION"` the RESERVATION elements price
  the RESERVATION_TIME volumes (TIME) and a reservation fee (FLAT). With
  "RESERVATION_EXPIRES" no charging took place: only reservation costs are billed, from the
  RESERVATION_EXPIRES elements first and the RESERVATION elements as fallback.
* `min_price`/`max_price` bound the total excl. VAT and, when given, the total incl. VAT;
  when the incl. VAT bound is absent, the incl. VAT total moves in proportion to the excl.
  VAT one. The difference is one explicit line (dimension MIN_PRICE or MAX_PRICE) that
  only counts towards `total_cost`.

Extensions (not OCPI): `Tariff.parking_grace_minutes` makes the first N minutes of
PARKING_TIME after the last charging period free; a period with `suspended_by_evse=True`
(the charger, not the car, stopped charging) has its PARKING_TIME billed neither as parking
nor as time. Both still count in `total_parking_time`.

Time volumes are taken to the microsecond (hours x 3600, quantized), so an hour value such as
Decimal(7) / 60 bills 420 s, while a CDR's 0.1667 h is 600.12 s and rounds up to the next step.

Money: Decimal only. Each line is computed at full precision (exact rational arithmetic when a
split produces a non-terminating fraction) and rounded once by `quantize_money`; VAT is
computed on the rounded line amount; every total is the sum of rounded lines.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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

# ISO 4217 active codes -> minor unit digits.
MINOR_UNITS: Mapping[str, int] = {
    **dict.fromkeys(
        (
            "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
            "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
            "CHW", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN",
            "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG",
            "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK", "LBP",
            "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
            "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP",
            "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
            "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD",
            "TWD", "TZS", "UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR",
            "ZMW", "ZWG", "ZWL"
        ),
        2,
    ),
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV",
            "XAF", "XOF", "XPF"
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
_QUANTA = {code: Decimal(1).scaleb(-digits) for code, digits in MINOR_UNITS.items()}

ZERO = Decimal(0)
_HUNDRED = Decimal(100)
_SECONDS_PER_HOUR = Decimal(3600)
_WH_PER_KWH = Decimal(1000)
_QUANTITY_QUANTUM = Decimal("0.0001")
_MICROSECOND = Decimal("0.000001")
_US = timedelta(microseconds=1)
_DAY_US = 86_400_000_000
_FAST_LOCAL_SPAN = timedelta(days=7)


class PricingError(ValueError):
    """A tariff or session the engine cannot price (inconsistent input)."""


def quantize_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit, ROUND_HALF_UP (ties away from zero).

    The only money rounding in the project. A `Fraction` (exact intermediate from a period
    split) is rounded exactly, without an intermediate decimal approximation.
    """
    try:
        quantum = _QUANTA[currency]
    except KeyError:
        raise PricingError(f"unknown currency {currency!r}") from None
    if type(amount) is Fraction:
        digits = MINOR_UNITS[currency]
        scaled = abs(amount) * 10**digits
        units, remainder = divmod(scaled.numerator, scaled.denominator)
        if 2 * remainder >= scaled.denominator:
            units += 1
        return Decimal(-units if amount < 0 else units).scaleb(-digits).quantize(quantum)
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------------------------
# Input dataclasses: the tariff mirrors the OCPI 2.2.1 Tariff object.


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

    The period ends where the next one starts (the last one at the session end).
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
    suspended_by_evse: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A session to price; restrictions are evaluated in `time_zone` (IANA name)."""

    start_date_time: datetime
    end_date_time: datetime
    charging_periods: tuple[ChargingPeriod, ...]
    time_zone: str = "UTC"
    reservation: str | None = None


# ---------------------------------------------------------------------------------------------
# Output dataclasses.


@dataclass(frozen=True, slots=True, kw_only=True)
class CostLine:
    """One rounded line: a dimension priced by one price component over some periods.

    `quantity` is the volume (kWh, hours, 1 for a fee) priced by this component,
    `billed_quantity` what is billed after grace minutes and step_size rounding;
    `amount_excl_vat` = billed_quantity x unit_price, rounded once; `vat_amount` is computed on
    the rounded amount, `amount_incl_vat` = amount_excl_vat + vat_amount. `period_indices` point
    into `Session.charging_periods`. Price-bound adjustments have no element or periods.
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
    """Priced session. Cost totals are sums of rounded lines and mirror the OCPI CDR fields;
    quantities (kWh, hours) are rounded to OCPI's 4 decimals."""

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
            "lines": [line.to_dict() for line in self.lines],
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# ---------------------------------------------------------------------------------------------
# Tariff compilation: restrictions become integer/Decimal bounds, and the tariff's thresholds
# become sorted "band" boundaries so that a period's matching elements are cached per band.


def _minutes(value: str, name: str) -> int:
    if len(value) != 5 or value[2] != ":" or not (value[:2] + value[3:]).isdigit():
        raise PricingError(f"{name} {value!r} is not HH:MM")
    hours, minutes = int(value[:2]), int(value[3:])
    if hours > 23 or minutes > 59:
        raise PricingError(f"{name} {value!r} is not a time of day")
    return hours * 60 + minutes


def _ordinal(value: str, name: str) -> int:
    try:
        return date.fromisoformat(value).toordinal()
    except ValueError:
        raise PricingError(f"{name} {value!r} is not YYYY-MM-DD") from None


class _Restriction:
    __slots__ = (
        "c_max", "c_min", "d_max", "d_min", "date_from", "date_to", "dow",
        "kwh_max", "kwh_min", "p_max", "p_min", "reservation", "tod",
    )  # fmt: skip

    def __init__(self, r: TariffRestrictions | None) -> None:
        r = r or TariffRestrictions()
        self.tod = _windows(r.start_time, r.end_time)
        self.dow = None
        if r.day_of_week:
            self.dow = 0
            for day in r.day_of_week:
                if day not in DAYS_OF_WEEK:
                    raise PricingError(f"unknown day_of_week {day!r}")
                self.dow |= 1 << DAYS_OF_WEEK.index(day)
        self.date_from = _ordinal(r.start_date, "start_date") if r.start_date else None
        self.date_to = _ordinal(r.end_date, "end_date") if r.end_date else None
        self.kwh_min, self.kwh_max = r.min_kwh, r.max_kwh
        self.p_min, self.p_max = r.min_power, r.max_power
        self.c_min, self.c_max = r.min_current, r.max_current
        self.d_min = None if r.min_duration is None else r.min_duration * 1_000_000
        self.d_max = None if r.max_duration is None else r.max_duration * 1_000_000
        self.reservation = r.reservation

    def matches(self, ctx: _Context) -> bool:
        if self.tod is not None and not any(a <= ctx.tod < b for a, b in self.tod):
            return False
        if self.dow is not None and not (self.dow >> ((ctx.ordinal - 1) % 7)) & 1:
            return False
        if self.date_from is not None and ctx.ordinal < self.date_from:
            return False
        if self.date_to is not None and ctx.ordinal >= self.date_to:
            return False
        if self.kwh_min is not None and ctx.energy < self.kwh_min:
            return False
        if self.kwh_max is not None and ctx.energy >= self.kwh_max:
            return False
        if self.d_min is not None and ctx.elapsed < self.d_min:
            return False
        if self.d_max is not None and ctx.elapsed >= self.d_max:
            return False
        if self.p_min is not None and (ctx.p_min is None or ctx.p_min < self.p_min):
            return False
        if self.p_max is not None and (ctx.p_max is None or ctx.p_max >= self.p_max):
            return False
        if self.c_min is not None and (ctx.c_min is None or ctx.c_min < self.c_min):
            return False
        return not (self.c_max is not None and (ctx.c_max is None or ctx.c_max >= self.c_max))


def _windows(start: str | None, end: str | None) -> tuple[tuple[int, int], ...] | None:
    """Time-of-day windows in microseconds of the local day, or None for "all day"."""
    if start is None and end is None:
        return None
    s = _minutes(start, "start_time") * 60_000_000 if start is not None else 0
    e = _minutes(end, "end_time") * 60_000_000 if end is not None else 0
    if e == 0:
        e = _DAY_US
    if s == e or (s == 0 and e == _DAY_US):
        return None
    if s < e:
        return ((s, e),)
    return ((s, _DAY_US), (0, e))


@dataclass(slots=True)
class _Context:
    ordinal: int
    tod: int
    elapsed: int
    energy: Decimal | Fraction
    p_min: Decimal | None
    p_max: Decimal | None
    c_min: Decimal | None
    c_max: Decimal | None


class _Candidate:
    __slots__ = ("component_index", "dimension", "element_index", "price", "restriction", "step", "vat")

    def __init__(self, dimension: str, element_index: int, component_index: int, component: PriceComponent,
                 restriction: _Restriction) -> None:  # fmt: skip
        self.dimension = dimension
        self.element_index = element_index
        self.component_index = component_index
        self.price = component.price
        self.vat = component.vat
        self.step = component.step_size
        self.restriction = restriction


_NORMAL = (ENERGY, TIME, PARKING_TIME, FLAT)


class _CompiledTariff:
    """Per-tariff precomputation: candidates per dimension and band boundaries."""

    def __init__(self, tariff: Tariff) -> None:
        if tariff.currency not in _QUANTA:
            raise PricingError(f"unknown currency {tariff.currency!r}")
        self.tariff = tariff
        normal: dict[str, list[_Candidate]] = {d: [] for d in _NORMAL}
        booked: dict[str, list[_Candidate]] = {TIME: [], FLAT: []}
        expired: dict[str, list[_Candidate]] = {TIME: [], FLAT: []}
        restrictions = []
        for e_idx, element in enumerate(tariff.elements):
            restriction = _Restriction(element.restrictions)
            restrictions.append(restriction)
            for c_idx, component in enumerate(element.price_components):
                if component.type not in TARIFF_DIMENSIONS:
                    raise PricingError(f"unknown price component type {component.type!r}")
                if restriction.reservation is None:
                    target = normal
                elif restriction.reservation == RESERVATION:
                    target = booked
                elif restriction.reservation == RESERVATION_EXPIRES:
                    target = expired
                else:
                    raise PricingError(f"unknown reservation restriction {restriction.reservation!r}")
                if component.type in target:
                    kind = component.type
                    if target is not normal:
                        kind = RESERVATION_TIME if kind == TIME else RESERVATION_FLAT
                    target[component.type].append(_Candidate(kind, e_idx, c_idx, component, restriction))
        self.normal = tuple(_first_per_element(normal[d]) for d in _NORMAL)
        self.booked = (_first_per_element(booked[TIME]), _first_per_element(booked[FLAT]))
        self.expired = (
            _first_per_element(expired[TIME] + booked[TIME]),
            _first_per_element(expired[FLAT] + booked[FLAT]),
        )
        tod = {0, _DAY_US}
        for r in restrictions:
            for window in r.tod or ():
                tod.update(window)
        self.uses_day = any(r.dow is not None or r.date_from or r.date_to for r in restrictions)
        self.uses_clock = self.uses_day or any(r.tod is not None for r in restrictions)
        self.tod_bounds = sorted(tod)
        cuts = {0} if self.uses_day else set()
        for r in restrictions:
            wraps = r.tod is not None and len(r.tod) == 2
            for start, end in r.tod or ():
                if not (wraps and start == 0):
                    cuts.add(start)
                if not (wraps and end == _DAY_US):
                    cuts.add(end % _DAY_US)
        self.cut_bounds = sorted(cuts)
        self.date_bounds = sorted({v for r in restrictions for v in (r.date_from, r.date_to) if v})
        self.uses_dow = any(r.dow is not None for r in restrictions)
        self.kwh_bounds = sorted({v for r in restrictions for v in (r.kwh_min, r.kwh_max) if v is not None})
        self.dur_bounds = sorted({v for r in restrictions for v in (r.d_min, r.d_max) if v is not None})
        self.pmin_bounds = sorted({r.p_min for r in restrictions if r.p_min is not None})
        self.pmax_bounds = sorted({r.p_max for r in restrictions if r.p_max is not None})
        self.cmin_bounds = sorted({r.c_min for r in restrictions if r.c_min is not None})
        self.cmax_bounds = sorted({r.c_max for r in restrictions if r.c_max is not None})
        self.uses_power = bool(self.pmin_bounds or self.pmax_bounds)
        self.uses_current = bool(self.cmin_bounds or self.cmax_bounds)
        self.cache: dict[tuple, tuple] = {}

    def match(self, ctx: _Context, mode: int) -> tuple:
        """(energy, time, parking, flat, reservation time, reservation flat) candidates."""
        key = (
            mode,
            bisect_right(self.tod_bounds, ctx.tod) if self.uses_clock else 0,
            (ctx.ordinal - 1) % 7 if self.uses_dow else 0,
            bisect_right(self.date_bounds, ctx.ordinal) if self.date_bounds else 0,
            bisect_right(self.kwh_bounds, ctx.energy) if self.kwh_bounds else 0,
            bisect_right(self.dur_bounds, ctx.elapsed) if self.dur_bounds else 0,
            _band(self.pmin_bounds, ctx.p_min),
            _band(self.pmax_bounds, ctx.p_max),
            _band(self.cmin_bounds, ctx.c_min),
            _band(self.cmax_bounds, ctx.c_max),
        )
        found = self.cache.get(key)
        if found is None:
            if len(self.cache) > 4096:
                self.cache.clear()
            found = self.cache[key] = self._match_exact(ctx, mode)
        return found

    def _match_exact(self, ctx: _Context, mode: int) -> tuple:
        def first(cands: tuple[_Candidate, ...]) -> _Candidate | None:
            return next((c for c in cands if c.restriction.matches(ctx)), None)

        normal = tuple(first(c) for c in self.normal) if mode != 2 else (None, None, None, None)
        if mode == 0:
            return (*normal, None, None)
        reserved = self.booked if mode == 1 else self.expired
        return (*normal, first(reserved[0]), first(reserved[1]))


def _first_per_element(cands: list[_Candidate]) -> tuple[_Candidate, ...]:
    """Only the first component of a dimension in an element counts (OCPI: one per element)."""
    seen: set[int] = set()
    kept = []
    for cand in cands:
        if cand.element_index not in seen:
            seen.add(cand.element_index)
            kept.append(cand)
    return tuple(kept)


def _band(bounds: list[Decimal], value: Decimal | None) -> int:
    if not bounds:
        return 0
    return -1 if value is None else bisect_right(bounds, value)


_COMPILED: dict[int, _CompiledTariff] = {}


def _compiled(tariff: Tariff) -> _CompiledTariff:
    found = _COMPILED.get(id(tariff))
    if found is None or found.tariff is not tariff:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        found = _COMPILED[id(tariff)] = _CompiledTariff(tariff)
    return found


# ---------------------------------------------------------------------------------------------
# Pricing.


def _exact(value: Fraction) -> Decimal | Fraction:
    """A Fraction as an exact Decimal when its decimal expansion terminates."""
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        return value
    return Decimal(value.numerator) / Decimal(value.denominator)


def _add(a: Decimal | Fraction, b: Decimal | Fraction) -> Decimal | Fraction:
    if type(a) is type(b):
        return a + b
    return Fraction(a) + Fraction(b)


def _to_decimal(value: Decimal | Fraction) -> Decimal:
    if type(value) is Fraction:
        return Decimal(value.numerator) / Decimal(value.denominator)
    return value


def _seconds(hours: Decimal | Fraction) -> Decimal:
    """Hours to seconds, to the microsecond (the engine's time resolution): a volume such as
    Decimal(7) / 60, inexact in its 28th digit, must not spill into the next step_size block."""
    if type(hours) is Fraction:
        micro = hours * 3_600_000_000
        return Decimal(round(micro)).scaleb(-6)
    return (hours * _SECONDS_PER_HOUR).quantize(_MICROSECOND)


class _Acc:
    """Volume priced by one component: `quantity` in kWh or hours; `free` grace seconds;
    `billed` (kWh or seconds) is set after the loop and raised by step_size rounding."""

    __slots__ = ("billed", "cand", "free", "periods", "quantity", "start")

    def __init__(self, cand: _Candidate, index: int, start: datetime, quantity: Decimal | Fraction) -> None:
        self.cand = cand
        self.quantity = quantity
        self.free = ZERO
        self.billed: Decimal | Fraction = ZERO
        self.periods = [index]
        self.start = start

    def add(self, index: int, quantity: Decimal | Fraction) -> None:
        if self.periods[-1] != index:
            self.periods.append(index)
        try:
            self.quantity += quantity
        except TypeError:
            self.quantity = _add(self.quantity, quantity)


_Electric = tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]


def _electric(period: ChargingPeriod, span_us: int) -> _Electric:
    """(min power, max power, min current, max current) the restrictions compare."""
    p_min = period.min_power if period.min_power is not None else period.max_power
    p_max = period.max_power if period.max_power is not None else p_min
    if p_min is None:
        if period.time > 0:
            p_min = p_max = period.energy / period.time
        elif period.energy > 0 and span_us > 0:
            p_min = p_max = period.energy * 3_600_000_000 / span_us
        else:
            p_min = p_max = ZERO
    c_min = period.min_current if period.min_current is not None else period.max_current
    c_max = period.max_current if period.max_current is not None else c_min
    if c_min is None and not (period.energy > 0 or period.time > 0):
        c_min = c_max = ZERO
    return p_min, p_max, c_min, c_max


def _local_clock(session: Session, first: datetime) -> tuple[Callable[[int], tuple[int, int]], tuple[int, int] | None]:
    """Map microseconds since session start to (local date ordinal, microseconds of local day).

    Also returns (ordinal, microseconds of day) of the session start when one UTC offset holds
    for the whole session: same offset at both ends of a span shorter than a week (no zone
    changes offset twice within a week). Otherwise every instant is converted.
    """
    try:
        zone = ZoneInfo(session.time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise PricingError(f"unknown time zone {session.time_zone!r}") from None
    start = session.start_date_time
    local = start.astimezone(zone)
    tail = session.end_date_time.astimezone(zone)
    head = first.astimezone(zone)
    base_ordinal = local.toordinal()
    base_tod = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000 + local.microsecond
    if (local.utcoffset() == tail.utcoffset() == head.utcoffset()
            and session.end_date_time - first <= _FAST_LOCAL_SPAN):  # fmt: skip

        def fast(elapsed: int) -> tuple[int, int]:
            days, tod = divmod(base_tod + elapsed, _DAY_US)
            return base_ordinal + days, tod

        return fast, (base_ordinal, base_tod)

    def slow(elapsed: int) -> tuple[int, int]:
        moment = (start + timedelta(microseconds=elapsed)).astimezone(zone)
        tod = (moment.hour * 3600 + moment.minute * 60 + moment.second) * 1_000_000 + moment.microsecond
        return moment.toordinal(), tod

    return slow, None


_MODES = {None: 0, RESERVATION: 1, RESERVATION_EXPIRES: 2}


def price_session(*, tariff: Tariff, session: Session) -> CostBreakdown:
    """Price one session with one tariff (OCPI 2.2.1 rules, see the module docstring)."""
    compiled = _compiled(tariff)
    periods = session.charging_periods
    start = session.start_date_time
    offsets, last_charging = _scan(session)
    first = periods[0].start_date_time if periods and offsets[0] < 0 else start
    clock, fixed = _local_clock(session, first)
    mode = _MODES[session.reservation]
    grace_left = Decimal(tariff.parking_grace_minutes * 60)

    acc: dict[_Candidate, _Acc] = {}
    last: dict[str, _Acc] = {}
    flat: tuple[_Candidate, int, datetime] | None = None
    reservation_flat: tuple[_Candidate, int, datetime] | None = None
    flat_seen = reservation_seen = False
    energy_so_far: Decimal | Fraction = ZERO
    total_parking = ZERO
    uses_clock, uses_dow = compiled.uses_clock, compiled.uses_dow
    uses_power, uses_current = compiled.uses_power, compiled.uses_current
    tod_bounds, date_bounds, cut_bounds = compiled.tod_bounds, compiled.date_bounds, compiled.cut_bounds
    dur_bounds, kwh_bounds = compiled.dur_bounds, compiled.kwh_bounds
    pmin_bounds, pmax_bounds = compiled.pmin_bounds, compiled.pmax_bounds
    cmin_bounds, cmax_bounds = compiled.cmin_bounds, compiled.cmax_bounds
    n_dur, n_kwh = len(dur_bounds), len(kwh_bounds)
    cache = compiled.cache
    base_ordinal, base_tod = fixed or (0, 0)
    ordinal = tod = tod_band = weekday = date_band = kwh_band = dur_band = 0
    pmin_band = pmax_band = cmin_band = cmax_band = 0
    p_min = p_max = c_min = c_max = None

    for index, period in enumerate(periods):
        x0 = offsets[index]
        x1 = offsets[index + 1]
        energy = period.energy
        if uses_clock:
            if fixed is not None:
                days, tod = divmod(base_tod + x0, _DAY_US)
                ordinal = base_ordinal + days
            else:
                ordinal, tod = clock(x0)
            tod_band = bisect_right(tod_bounds, tod)
            if uses_dow:
                weekday = (ordinal - 1) % 7
            if date_bounds:
                date_band = bisect_right(date_bounds, ordinal)
        if uses_power:
            p_min, p_max = period.min_power, period.max_power
            if p_min is None or p_max is None:
                p_min, p_max, _, _ = _electric(period, x1 - x0)
            pmin_band = bisect_right(pmin_bounds, p_min) if pmin_bounds else 0
            pmax_band = bisect_right(pmax_bounds, p_max) if pmax_bounds else 0
        if uses_current:
            _, _, c_min, c_max = _electric(period, x1 - x0)
            cmin_band = (-1 if c_min is None else bisect_right(cmin_bounds, c_min)) if cmin_bounds else 0
            cmax_band = (-1 if c_max is None else bisect_right(cmax_bounds, c_max)) if cmax_bounds else 0
        if n_kwh:
            kwh_band = bisect_right(kwh_bounds, energy_so_far)
        if n_dur:
            dur_band = bisect_right(dur_bounds, x0)
        matched = cache.get(
            (mode, tod_band, weekday, date_band, kwh_band, dur_band, pmin_band, pmax_band, cmin_band, cmax_band)
        )
        if matched is None:
            ctx = _Context(ordinal, tod, x0, energy_so_far, p_min, p_max, c_min, c_max)
            matched = compiled.match(ctx, mode)

        time_h, park_h, res_h = period.time, period.parking_time, period.reservation_time
        if x1 > x0 and (
            (cut_bounds and fixed and x0 + _next_cut(cut_bounds, tod) - tod < x1)
            or (uses_clock and not fixed and _next_time_boundary(compiled, clock, x0) < x1)
            or (dur_band < n_dur and dur_bounds[dur_band] < x1)
            or (kwh_band < n_kwh and energy and kwh_bounds[kwh_band] < energy_so_far + energy)
        ):
            ctx = _Context(ordinal, tod, x0, energy_so_far, p_min, p_max, c_min, c_max)
            pieces = _split(compiled, clock, ctx, mode, matched, period, x0, x1, energy_so_far)
            if len(pieces) == 1:
                parts: Any = ((energy, time_h, park_h, res_h, pieces[0][1]),)
            else:
                parts = zip(
                    _divide(energy, pieces), _divide(time_h, pieces), _divide(park_h, pieces),
                    _divide(res_h, pieces), [found for _, found in pieces], strict=True,
                )  # fmt: skip
        else:
            parts = ((energy, time_h, park_h, res_h, matched),)

        moment = period.start_date_time
        for e_part, t_part, p_part, r_part, found in parts:
            c_energy, c_time, c_park, c_flat, c_rtime, c_rflat = found
            if e_part and c_energy is not None:
                line = acc.get(c_energy)
                if line is None:
                    line = acc[c_energy] = _Acc(c_energy, index, moment, e_part)
                else:
                    if line.periods[-1] != index:
                        line.periods.append(index)
                    try:
                        line.quantity += e_part
                    except TypeError:
                        line.quantity = _add(line.quantity, e_part)
                last[ENERGY] = line
            if t_part and c_time is not None:
                line = acc.get(c_time)
                if line is None:
                    line = acc[c_time] = _Acc(c_time, index, moment, t_part)
                else:
                    if line.periods[-1] != index:
                        line.periods.append(index)
                    try:
                        line.quantity += t_part
                    except TypeError:
                        line.quantity = _add(line.quantity, t_part)
                last[TIME] = line
            if p_part and c_park is not None and not period.suspended_by_evse:
                line = acc.get(c_park)
                if line is None:
                    line = acc[c_park] = _Acc(c_park, index, moment, p_part)
                else:
                    line.add(index, p_part)
                if index > last_charging and grace_left > 0:
                    seconds = _seconds(p_part)
                    free = min(grace_left, seconds)
                    grace_left -= free
                    line.free += free
                    if free == seconds:
                        line = None
                if line is not None:
                    last[PARKING_TIME] = line
            if r_part and c_rtime is not None:
                line = acc.get(c_rtime)
                if line is None:
                    line = acc[c_rtime] = _Acc(c_rtime, index, moment, r_part)
                else:
                    if line.periods[-1] != index:
                        line.periods.append(index)
                    try:
                        line.quantity += r_part
                    except TypeError:
                        line.quantity = _add(line.quantity, r_part)
                last[RESERVATION_TIME] = line
            if res_h:
                reservation_seen = True
                if reservation_flat is None and c_rflat is not None:
                    reservation_flat = (c_rflat, index, moment)
            if energy or time_h or park_h or not res_h:
                flat_seen = True
                if flat is None and c_flat is not None:
                    flat = (c_flat, index, moment)
        if park_h:
            total_parking += park_h
        if energy:
            try:
                energy_so_far += energy
            except TypeError:
                energy_so_far = _add(energy_so_far, energy)

    if not flat_seen or (mode and not reservation_seen):
        ordinal, tod = clock(0)
        found = compiled.match(_Context(ordinal, tod, 0, ZERO, ZERO, ZERO, ZERO, ZERO), mode)
        if not flat_seen and found[3] is not None:
            flat = (found[3], 0, start)
        if mode and not reservation_seen and found[5] is not None:
            reservation_flat = (found[5], 0, start)

    _apply_step_sizes(acc, last)
    lines = _build_lines(acc, flat, reservation_flat, tariff.currency)
    return _finish(tariff, session, lines, energy_so_far, total_parking)


def _next_cut(cuts: list[int], tod: int) -> int:
    """The next time of day (possibly tomorrow) where some element's time window opens or closes."""
    i = bisect_right(cuts, tod)
    return cuts[i] if i < len(cuts) else cuts[0] + _DAY_US


def _scan(session: Session) -> tuple[list[int], int]:
    """Validate the session; return period start offsets (microseconds since the session
    start, plus the session end) and the index of the last charging period (-1 if none)."""
    start, end = session.start_date_time, session.end_date_time
    if start.tzinfo is None or end.tzinfo is None:
        raise PricingError("session start and end must be timezone-aware")
    if end < start:
        raise PricingError("session ends before it starts")
    if session.reservation not in _MODES:
        raise PricingError(f"unknown reservation type {session.reservation!r}")
    end_us = (end - start) // _US
    offsets = []
    previous = None
    last_charging = -1
    try:
        for index, period in enumerate(session.charging_periods):
            offset = (period.start_date_time - start) // _US
            if previous is not None and offset < previous:
                raise PricingError(f"charging period {index} starts before the previous one")
            if offset > end_us:
                raise PricingError(f"charging period {index} starts after the session end")
            if period.time or period.energy:
                last_charging = index
            offsets.append(offset)
            previous = offset
    except TypeError:
        raise PricingError("charging period starts must be timezone-aware") from None
    offsets.append(end_us)
    return offsets, last_charging


def _divide(volume: Decimal, pieces: list[tuple[Fraction, tuple]]) -> list[Decimal | Fraction]:
    """Share a period's volume over its pieces in proportion to their extent; exact, and the
    last piece takes the rest so the parts add up to the volume."""
    if not volume:
        return [ZERO] * len(pieces)
    parts: list[Decimal | Fraction] = []
    whole = Fraction(volume)
    before = Fraction(0)
    done: Decimal | Fraction = ZERO
    for end, _ in pieces[:-1]:
        part = _exact(whole * (end - before))
        parts.append(part)
        done = _add(done, part)
        before = end
    parts.append(volume - done if type(done) is Decimal else _exact(whole - done))
    return parts


def _split(compiled: _CompiledTariff, clock, ctx: _Context, mode: int, matched: tuple, period: ChargingPeriod,
           x0: int, x1: int, energy_before: Decimal | Fraction) -> list[tuple[Fraction, tuple]]:  # fmt: skip
    """Cut a period where the matched components change: (end as fraction of the period, match)
    pieces. Positions are exact; kWh thresholds assume constant power within the period."""
    energy = period.energy
    bounds = compiled.kwh_bounds
    if energy > 0 and bounds:
        i = bisect_right(bounds, energy_before)
        if i < len(bounds) and bounds[i] < energy_before + energy:
            return _split_by_energy(compiled, clock, ctx, mode, matched, energy, x0, x1, energy_before)
    span = x1 - x0
    cuts: list[tuple[Fraction, tuple]] = []
    current = matched
    x = x0
    while True:
        nxt = min(x1, _next_time_boundary(compiled, clock, x))
        if nxt >= x1:
            cuts.append((Fraction(1), current))
            return cuts
        ctx.elapsed = nxt
        if compiled.uses_clock:
            ctx.ordinal, ctx.tod = clock(nxt)
        found = compiled.match(ctx, mode)
        if found != current:
            cuts.append((Fraction(nxt - x0, span), current))
            current = found
        x = nxt


def _next_time_boundary(compiled: _CompiledTariff, clock, x: int) -> int:
    """The first instant after `x` where a time-of-day, day or duration band changes."""
    nxt = 1 << 62
    if compiled.uses_clock:
        ordinal, tod = clock(x)
        target = compiled.tod_bounds[bisect_right(compiled.tod_bounds, tod)]
        boundary = x + target - tod
        got_ordinal, got_tod = clock(boundary)
        boundary += (ordinal * _DAY_US + target) - (got_ordinal * _DAY_US + got_tod)
        if boundary > x:
            nxt = boundary
    i = bisect_right(compiled.dur_bounds, x)
    if i < len(compiled.dur_bounds):
        nxt = min(nxt, compiled.dur_bounds[i])
    return nxt


def _split_by_energy(compiled: _CompiledTariff, clock, ctx: _Context, mode: int, matched: tuple,
                     energy: Decimal, x0: int, x1: int, energy_before: Decimal | Fraction,
                     ) -> list[tuple[Fraction, tuple]]:  # fmt: skip
    span = x1 - x0
    whole = Fraction(energy)
    before = Fraction(energy_before)
    pieces: list[tuple[Fraction, tuple]] = []
    position = Fraction(0)
    current = matched
    while True:
        x = x0 + math.ceil(position * span)
        upcoming = [Fraction(_next_time_boundary(compiled, clock, x) - x0, span)]
        i = bisect_right(compiled.kwh_bounds, before + whole * position)
        if i < len(compiled.kwh_bounds):
            upcoming.append((Fraction(compiled.kwh_bounds[i]) - before) / whole)
        nxt = min((c for c in upcoming if c > position), default=Fraction(1))
        if nxt >= 1:
            pieces.append((Fraction(1), current))
            return pieces
        ctx.elapsed = x0 + math.ceil(nxt * span)
        ctx.energy = _exact(before + whole * nxt)
        if compiled.uses_clock:
            ctx.ordinal, ctx.tod = clock(ctx.elapsed)
        found = compiled.match(ctx, mode)
        if found != current:
            pieces.append((nxt, current))
            current = found
        position = nxt


def _apply_step_sizes(acc: dict[_Candidate, _Acc], last: dict[str, _Acc]) -> None:
    """Set billed volumes (kWh, seconds) and apply step_size once per session per dimension:
    the total billed volume of a dimension is rounded up to the step of the last component used
    for it, the difference billed on that component's line. TIME and PARKING_TIME share one
    rounding: parking time when parking is billed, else charging time (module docstring)."""
    totals: dict[str, Decimal | Fraction] = {}
    for line in acc.values():
        dimension = line.cand.dimension
        if dimension == ENERGY:
            line.billed = line.quantity
        else:
            line.billed = _seconds(line.quantity) - line.free
        totals[dimension] = _add(totals.get(dimension, ZERO), line.billed)
    _round_up(last.get(ENERGY), totals.get(ENERGY), _WH_PER_KWH)
    if PARKING_TIME in last:
        _round_up(last[PARKING_TIME], totals[PARKING_TIME], Decimal(1))
    else:
        _round_up(last.get(TIME), totals.get(TIME), Decimal(1))
    _round_up(last.get(RESERVATION_TIME), totals.get(RESERVATION_TIME), Decimal(1))


def _round_up(line: _Acc | None, total: Decimal | Fraction | None, unit: Decimal) -> None:
    """Round `total` (in kWh x unit = Wh, or seconds) up to a multiple of the line's step_size
    and bill the difference on that line."""
    if line is None or total is None or line.cand.step <= 0:
        return
    step = line.cand.step
    if type(total) is Fraction:
        scaled = total * Fraction(unit)
        extra = _exact((math.ceil(scaled / step) * step - scaled) / Fraction(unit))
    else:
        scaled = total * unit
        steps, rest = divmod(scaled, step)
        extra = ((int(steps) + 1) * step - scaled) / unit if rest > 0 else ZERO
    if extra:
        line.billed = _add(line.billed, extra)


_LINE_ORDER = {FLAT: 0, ENERGY: 1, TIME: 2, PARKING_TIME: 3, RESERVATION_FLAT: 4, RESERVATION_TIME: 5}


def _build_lines(acc: dict[_Candidate, _Acc], flat, reservation_flat, currency: str) -> list[CostLine]:
    lines = []
    for fee in (flat, reservation_flat):
        if fee is not None:
            cand, period, moment = fee
            lines.append(_line(cand, (period,), moment, Decimal(1), Decimal(1), cand.price, currency))
    for raw in acc.values():
        cand = raw.cand
        billed = raw.billed
        if cand.dimension == ENERGY:
            quantity, shown = _to_decimal(raw.quantity), _to_decimal(billed)
            amount = billed * cand.price if type(billed) is Decimal else billed * Fraction(cand.price)
        else:
            quantity = _to_decimal(raw.quantity)
            shown = _to_decimal(billed) / _SECONDS_PER_HOUR
            if type(billed) is Decimal:
                amount = billed * cand.price / _SECONDS_PER_HOUR
            else:
                amount = billed * Fraction(cand.price) / 3600
        lines.append(_line(cand, tuple(raw.periods), raw.start, quantity, shown, amount, currency))
    lines.sort(key=lambda line: (_LINE_ORDER[line.dimension], line.period_indices[0]))
    return lines


def _line(cand: _Candidate, periods: tuple[int, ...], start: datetime, quantity: Decimal, billed: Decimal,
          amount: Decimal | Fraction, currency: str) -> CostLine:  # fmt: skip
    """One line: the amount rounded once, VAT computed on the rounded amount."""
    excl = quantize_money(amount, currency)
    vat = ZERO if cand.vat is None else quantize_money(excl * cand.vat / _HUNDRED, currency)
    return CostLine(
        dimension=cand.dimension,
        element_index=cand.element_index,
        component_index=cand.component_index,
        period_indices=periods,
        period_start=start,
        quantity=quantity,
        billed_quantity=billed,
        unit_price=cand.price,
        vat_rate=cand.vat,
        amount_excl_vat=excl,
        vat_amount=vat,
        amount_incl_vat=excl + vat,
    )


def _totals(lines: list[CostLine], currency: str) -> dict[str, Price]:
    """Sum of rounded lines per CDR total."""
    zero = quantize_money(ZERO, currency)
    sums = {name: [zero, zero] for name in _TOTAL_OF.values()}
    for line in lines:
        for name in {_TOTAL_OF[line.dimension], "total_cost"}:
            sums[name][0] += line.amount_excl_vat
            sums[name][1] += line.amount_incl_vat
    return {name: Price(excl, incl) for name, (excl, incl) in sums.items()}


_TOTAL_OF = {
    FLAT: "total_fixed_cost",
    ENERGY: "total_energy_cost",
    TIME: "total_time_cost",
    PARKING_TIME: "total_parking_cost",
    RESERVATION_FLAT: "total_reservation_cost",
    RESERVATION_TIME: "total_reservation_cost",
    MIN_PRICE: "total_cost",
    MAX_PRICE: "total_cost",
}


def _bound_line(tariff: Tariff, total: Price, currency: str) -> CostLine | None:
    """The min_price/max_price adjustment as one line (see module docstring)."""
    excl, incl = total.excl_vat, total.incl_vat
    target_excl, target_incl = excl, incl
    for bound, kind in ((tariff.min_price, MIN_PRICE), (tariff.max_price, MAX_PRICE)):
        if bound is None:
            continue
        pick = max if kind == MIN_PRICE else min
        new_excl = pick(target_excl, bound.excl_vat)
        if bound.incl_vat is not None:
            new_incl = pick(target_incl, bound.incl_vat)
        elif new_excl != target_excl:
            new_incl = (
                quantize_money(target_incl * new_excl / target_excl, currency) if target_excl else new_excl
            )
        else:
            new_incl = target_incl
        target_excl, target_incl = quantize_money(new_excl, currency), quantize_money(new_incl, currency)
    if (target_excl, target_incl) == (excl, incl):
        return None
    kind = MIN_PRICE if (target_excl, target_incl) > (excl, incl) else MAX_PRICE
    delta_excl, delta_incl = target_excl - excl, target_incl - incl
    return CostLine(
        dimension=kind,
        element_index=None,
        component_index=None,
        period_indices=(),
        period_start=None,
        quantity=Decimal(1),
        billed_quantity=Decimal(1),
        unit_price=delta_excl,
        vat_rate=None,
        amount_excl_vat=delta_excl,
        vat_amount=delta_incl - delta_excl,
        amount_incl_vat=delta_incl,
    )


def _finish(tariff: Tariff, session: Session, lines: list[CostLine], total_energy, total_parking) -> CostBreakdown:
    currency = tariff.currency
    bound = _bound_line(tariff, _totals(lines, currency)["total_cost"], currency)
    if bound is not None:
        lines.append(bound)
    totals = _totals(lines, currency)
    seconds = Decimal((session.end_date_time - session.start_date_time) // _US) / 1_000_000
    return CostBreakdown(
        currency=currency,
        lines=tuple(lines),
        total_energy=_to_decimal(total_energy).quantize(_QUANTITY_QUANTUM, rounding=ROUND_HALF_UP),
        total_time=(seconds / _SECONDS_PER_HOUR).quantize(_QUANTITY_QUANTUM, rounding=ROUND_HALF_UP),
        total_parking_time=total_parking.quantize(_QUANTITY_QUANTUM, rounding=ROUND_HALF_UP),
        **totals,
    )
