"""Element choice (OCPI 2.2.1 Tariffs module: which TariffElement prices a dimension at a given moment).

The spec, Tariff object: "When the list of Tariff Elements contains more than one Element with the
same Tariff Dimension (ENERGY/FLAT/TIME etc.), than the first Tariff Element with that Dimension in
the list with matching Tariff Restrictions will be used." And ReservationRestrictionType: "When a
Tariff has both, RESERVATION and RESERVATION_EXPIRES TariffElements, where both TariffElements have a
TIME PriceComponent, then the time based cost of an expired reservation will be calculated based on
the RESERVATION_EXPIRES TariffElement."

Per dimension (ENERGY, TIME, PARKING_TIME, FLAT) and per period, the first element in tariff
order whose restrictions all match and which has a component of that dimension is used (the
first such component of the element, should it list two). Elements with a `reservation`
restriction only price reservations: with "RESERVATION" the RESERVATION elements price the
RESERVATION_TIME volumes (TIME) and a reservation fee (FLAT); with "RESERVATION_EXPIRES" the
RESERVATION_EXPIRES elements come first and the RESERVATION elements are the fallback. The
tariff's own validity (`start_date_time`/`end_date_time`) is the caller's concern: it chooses
the tariff.

A tariff is compiled once: its restrictions become integer/Decimal bounds, and its thresholds
sorted "band" boundaries, so that the elements chosen are cached per band.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal
from enum import IntEnum
from typing import NamedTuple

from billing_app.money import MINOR_UNITS

from .restrictions import DAY_US, MatchContext, Restriction
from .types import (
    ENERGY,
    FLAT,
    PARKING_TIME,
    RESERVATION,
    RESERVATION_EXPIRES,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    TARIFF_DIMENSIONS,
    TIME,
    PriceComponent,
    PricingError,
    Tariff,
)


class Mode(IntEnum):
    """Which elements price a session, from `Session.reservation`."""

    CHARGING = 0  # None: no reservation
    RESERVED = 1  # "RESERVATION": reserved, then charging
    EXPIRED = 2  # "RESERVATION_EXPIRES": reserved, never charged (reservation costs only)


MODES = {None: Mode.CHARGING, RESERVATION: Mode.RESERVED, RESERVATION_EXPIRES: Mode.EXPIRED}


class Candidate:
    __slots__ = ("component_index", "dimension", "element_index", "price", "restriction", "step", "vat")

    def __init__(self, dimension: str, element_index: int, component_index: int, component: PriceComponent,
                 restriction: Restriction) -> None:  # fmt: skip
        self.dimension = dimension
        self.element_index = element_index
        self.component_index = component_index
        self.price = component.price
        self.vat = component.vat
        self.step = component.step_size
        self.restriction = restriction


class Match(NamedTuple):
    """The component pricing each dimension at one moment (None: nothing prices it)."""

    energy: Candidate | None
    time: Candidate | None
    parking: Candidate | None
    flat: Candidate | None
    reservation_time: Candidate | None
    reservation_flat: Candidate | None


class _Reservation(NamedTuple):
    """The candidates for reservation time and for the reservation fee, in tariff order."""

    time: tuple[Candidate, ...]
    flat: tuple[Candidate, ...]


_NORMAL = (ENERGY, TIME, PARKING_TIME, FLAT)
TOD_BAND, DURATION_BAND = 1, 4  # positions in `CompiledTariff.time_key`
_NO_NORMAL = (None, None, None, None)


class CompiledTariff:
    """Per-tariff precomputation: candidates per dimension and band boundaries."""

    def __init__(self, tariff: Tariff) -> None:
        if tariff.currency not in MINOR_UNITS:
            raise PricingError(f"unknown currency {tariff.currency!r}")
        self.elements = tariff.elements
        self.currency = tariff.currency
        normal: dict[str, list[Candidate]] = {d: [] for d in _NORMAL}
        booked: dict[str, list[Candidate]] = {TIME: [], FLAT: []}
        expired: dict[str, list[Candidate]] = {TIME: [], FLAT: []}
        restrictions = []
        for e_idx, element in enumerate(tariff.elements):
            restriction = Restriction(element.restrictions)
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
                    target[component.type].append(Candidate(kind, e_idx, c_idx, component, restriction))
        self.normal = tuple(_first_per_element(normal[d]) for d in _NORMAL)
        self.booked = _Reservation(_first_per_element(booked[TIME]), _first_per_element(booked[FLAT]))
        self.expired = _Reservation(
            _first_per_element(expired[TIME] + booked[TIME]),
            _first_per_element(expired[FLAT] + booked[FLAT]),
        )
        tod = {0, DAY_US}
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
                if not (wraps and end == DAY_US):
                    cuts.add(end % DAY_US)
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
        self.cache: dict[tuple, Match] = {}
        self.segments: dict[tuple, dict] = {}

    def segment(self, time_key: tuple) -> dict:
        """The matches already found for one band of every time restriction (the mode, time of
        day, weekday, date and duration bands), keyed by the other bands (power, current, kWh):
        the engine's cache while it walks a stretch of periods whose time bands do not change."""
        found = self.segments.get(time_key)
        if found is None:
            if len(self.segments) > 4096:
                self.segments.clear()
            found = self.segments[time_key] = {}
        return found

    def time_key(self, mode: Mode, ordinal: int, tod: int, elapsed: int) -> tuple[int, int, int, int, int]:
        """The mode and the bands of the time restrictions (time of day, weekday, date, duration) at a
        moment: the key of `segment` (`TOD_BAND` and `DURATION_BAND` are its positions of those bands)."""
        return (
            mode,
            bisect_right(self.tod_bounds, tod) if self.uses_clock else 0,
            (ordinal - 1) % 7 if self.uses_dow else 0,
            bisect_right(self.date_bounds, ordinal) if self.date_bounds else 0,
            bisect_right(self.dur_bounds, elapsed) if self.dur_bounds else 0,
        )

    def match_in(self, segment: dict, key: int | None, ctx: MatchContext, mode: Mode) -> Match:
        """The match in a segment (`segment(time_key)`) for the other bands' key, found and kept there when
        missing (the engine's lookup: `key` is None when the tariff restricts no power, current or kWh,
        else the period's bands of those as one number)."""
        found = segment.get(key)
        if found is None:
            found = segment[key] = self.match(ctx, mode)
        return found

    def match(self, ctx: MatchContext, mode: Mode) -> Match:
        """The components pricing each dimension in the context, cached per band: the key is the
        mode and the band of each restriction (the engine builds the same key itself)."""
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

    def _match_exact(self, ctx: MatchContext, mode: Mode) -> Match:
        def first(cands: tuple[Candidate, ...]) -> Candidate | None:
            return next((c for c in cands if c.restriction.matches(ctx)), None)

        normal = _NO_NORMAL if mode == Mode.EXPIRED else tuple(first(c) for c in self.normal)
        if mode == Mode.CHARGING:
            return Match(*normal, None, None)
        reserved = self.booked if mode == Mode.RESERVED else self.expired
        return Match(*normal, first(reserved.time), first(reserved.flat))


def _first_per_element(cands: list[Candidate]) -> tuple[Candidate, ...]:
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


_COMPILED: dict[int, CompiledTariff] = {}


def compiled_tariff(tariff: Tariff) -> CompiledTariff:
    """The tariff compiled, once per tuple of elements: a copy of a tariff that keeps its elements
    (`dataclasses.replace`, as a plan's parking grace makes one) reuses the compilation."""
    elements = tariff.elements
    found = _COMPILED.get(id(elements))
    if found is None or found.elements is not elements or found.currency != tariff.currency:
        if len(_COMPILED) > 256:
            _COMPILED.clear()
        found = _COMPILED[id(elements)] = CompiledTariff(tariff)
    return found
