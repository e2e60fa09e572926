"""Pure pricing engine for OCPI 2.2.1 tariffs (no ORM, no I/O; stdlib, `billing_app.money`, `evbilling.records`).

`price_session(tariff=..., session=...)` prices one charging session (its OCPI charging periods)
with one tariff and returns a `CostBreakdown` whose totals mirror the OCPI CDR totals.

The OCPI 2.2.1 rules, with the errata of the spec's worked examples (ocpi/ocpi issues #289,
#334, #396, #434, #546, #579), one module each:

* `elements`: element choice, per dimension and per period (reservations included);
* `restrictions`: TariffRestrictions, evaluated in the session's local time;
* `periods`: periods split where a restriction boundary changes the elements used;
* `step_size`: step_size once per session per dimension, TIME and PARKING_TIME shared;
* `lines`: each line rounded once, totals the sum of lines, VAT per rate on the totals;
* `bounds`: min_price / max_price as adjustment lines (one per VAT rate).

This module walks the periods and applies the rules that span them:

* FLAT is charged once per session (TariffDimensionType FLAT: "Flat fee without unit for
  step_size"; min_price: "a FLAT fee is a fixed amount that has to be payed for any Charging
  Session"): the first (in time) period where a FLAT component matches. Reservation FLAT fees
  are charged once, separately, and go to the reservation total like reservation TIME.
* Reservations ("A reservation can only have: FLAT and TIME TariffDimensions, where TIME is for
  the duration of the reservation"): with `Session.reservation == "RESERVATION"`
  (`Mode.RESERVED`) the RESERVATION elements price the RESERVATION_TIME volumes (TIME) and a
  reservation fee (FLAT). With "RESERVATION_EXPIRES" (`Mode.EXPIRED`) no charging took place:
  only reservation costs are billed.
* Quantities in the totals (kWh, hours) are rounded to OCPI's 4 decimals.

Extensions (not OCPI): `Tariff.parking_grace_minutes` makes the first N minutes of
PARKING_TIME after the last charging period free; a period with `suspended_by_evse=True`
(the charger, not the car, stopped charging) has its PARKING_TIME billed neither as parking
nor as time. Both still count in `total_parking_time`.

Money: Decimal only, rounded by `billing_app.money` and nowhere else.

Speed (issue 16; `bench/pricing.py` prints it against the engine before; docs/tariffs.md "Engine speed"):
a tariff is compiled once (`elements.compiled_tariff`); the components matched are cached per segment (the
mode and time bands, `CompiledTariff.time_key`), keyed there by the period's power, current and kWh bands as
one number, so a period costs a lookup; one bisection finds the next boundary (where the time bands change
or a cut falls inside a period), and only the period holding a cut is split, its volumes shared out in
integers where a piece prices them; ENERGY and TIME are appended to lines kept at hand (the match before's
too) and each line's volume is summed once, with the same Decimal additions in the same order.
`tests/billing_app/test_pricing_corpus.py` checks every change against 6,000 recorded cases.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from operator import attrgetter
from typing import Any

from .bounds import price_bound_lines
from .elements import DURATION_BAND, MODES, TOD_BAND, Candidate, Match, Mode, compiled_tariff
from .lines import build_lines, cdr_totals
from .periods import divide_volume, next_cut, next_time_boundary, scan_periods, split_period
from .restrictions import ONE_US, MatchContext, current_range, local_clock, power_range
from .step_size import apply_step_sizes
from .types import (
    ENERGY,
    PARKING_TIME,
    RESERVATION_TIME,
    TIME,
    ZERO,
    ChargingPeriod,
    CostBreakdown,
    CostLine,
    Session,
    Tariff,
    new_breakdown,
)
from .volumes import ComponentVolume, sum_volumes, to_decimal, to_seconds

_QUANTITY_QUANTUM = Decimal("0.0001")
_US_PER_HOUR = Decimal(3_600_000_000)
_LATEST = 1 << 62  # microseconds: later than any session
_NEVER = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


class _Walk:
    """What the walk has gathered so far: a line per component (`acc`), the last line of each
    dimension (for step_size), the FLAT and reservation fees and the parking grace left."""

    __slots__ = ("acc", "flat", "flat_seen", "grace_left", "last", "last_charging", "reservation_flat",
                 "reservation_seen")  # fmt: skip

    def __init__(self, grace_seconds: Decimal, last_charging: int) -> None:
        self.acc: dict[Candidate, ComponentVolume] = {}
        self.last: dict[str, ComponentVolume] = {}
        self.flat: tuple[Candidate, int, datetime] | None = None
        self.reservation_flat: tuple[Candidate, int, datetime] | None = None
        self.flat_seen = self.reservation_seen = False
        self.grace_left = grace_seconds
        self.last_charging = last_charging

    def line(self, cand: Candidate, index: int, moment: datetime) -> ComponentVolume:
        """The line of a component, opened on its first period."""
        line = self.acc.get(cand)
        if line is None:
            line = self.acc[cand] = ComponentVolume(cand, index, moment)
        elif line.periods[-1] != index:
            line.periods.append(index)
        return line

    def add(self, index: int, period: ChargingPeriod, found: Match,
            energy: Decimal | Fraction, time_h: Decimal | Fraction, park_h: Decimal | Fraction,
            res_h: Decimal | Fraction) -> None:  # fmt: skip
        """A period's (or a split piece's) volumes to the components `found` prices them with."""
        moment = period.start_date_time
        if energy and found.energy is not None:
            line = self.line(found.energy, index, moment)
            line.parts.append(energy)
            self.last[ENERGY] = line
        if time_h and found.time is not None:
            line = self.line(found.time, index, moment)
            line.parts.append(time_h)
            self.last[TIME] = line
        if park_h and found.parking is not None and not period.suspended_by_evse:
            self.add_parking(index, period, found.parking, park_h)
        if res_h and found.reservation_time is not None:
            self.add_reservation(index, period, found.reservation_time, res_h)
        self.fees(index, period, found, energy or time_h or park_h or not res_h, res_h)

    def add_parking(self, index: int, period: ChargingPeriod, cand: Candidate, park_h: Decimal | Fraction) -> None:
        line = self.line(cand, index, period.start_date_time)
        line.parts.append(park_h)
        if not self.grace(index, line, park_h):
            self.last[PARKING_TIME] = line

    def add_reservation(self, index: int, period: ChargingPeriod, cand: Candidate, res_h: Decimal | Fraction) -> None:
        line = self.line(cand, index, period.start_date_time)
        line.parts.append(res_h)
        self.last[RESERVATION_TIME] = line

    def grace(self, index: int, line: ComponentVolume, park_h: Decimal | Fraction) -> bool:
        """Parking grace (evbilling extension): the first minutes of parking after the last
        charging period are free. True when this parking was free as a whole."""
        if index > self.last_charging and self.grace_left > 0:
            seconds = to_seconds(park_h)
            free = min(self.grace_left, seconds)
            self.grace_left -= free
            line.free += free
            return free == seconds
        return False

    def fees(self, index: int, period: ChargingPeriod, found: Match, charging: Any, res_h: Any) -> None:
        """FLAT once per session, at the first period a FLAT component matches; the reservation fee
        likewise among reservation periods."""
        if res_h:
            self.reservation_seen = True
            if self.reservation_flat is None and found.reservation_flat is not None:
                self.reservation_flat = (found.reservation_flat, index, period.start_date_time)
        if charging:
            self.flat_seen = True
            if self.flat is None and found.flat is not None:
                self.flat = (found.flat, index, period.start_date_time)


def price_session(*, tariff: Tariff, session: Session) -> CostBreakdown:
    """Price one session with one tariff (OCPI 2.2.1 rules, see the module docstring).

    The walk compares datetimes (`periods.scan_periods`): the time bands (time of day, day, date,
    duration) are found where they may change, and a period is split only when a cut falls inside
    it; in between, a period costs its power band's lookup and an append per priced volume."""
    compiled = compiled_tariff(tariff)
    periods = session.charging_periods
    start = session.start_date_time
    origin, starts, last_charging = scan_periods(session)
    first = periods[0].start_date_time if periods and starts[0] < origin else start
    clock, fixed = local_clock(session, first)
    mode = MODES[session.reservation]
    walk = _Walk(Decimal(tariff.parking_grace_minutes * 60), last_charging)
    acc, last = walk.acc, walk.last

    uses_clock = compiled.uses_clock
    uses_power, uses_current = compiled.uses_power, compiled.uses_current
    tod_bounds, cut_bounds = compiled.tod_bounds, compiled.cut_bounds
    dur_bounds, kwh_bounds = compiled.dur_bounds, compiled.kwh_bounds
    pmin_bounds, pmax_bounds = compiled.pmin_bounds, compiled.pmax_bounds
    cmin_bounds, cmax_bounds = compiled.cmin_bounds, compiled.cmax_bounds
    n_dur, n_kwh = len(dur_bounds), len(kwh_bounds)
    per_period = uses_power or uses_current or n_kwh > 0  # a band that can change from one period to the next
    ordinal = tod = tod_band = kwh_band = dur_band = 0
    pmax_radix, cmin_radix, cmax_radix = len(pmax_bounds) + 1, len(cmin_bounds) + 2, len(cmax_bounds) + 2
    pmin_one = pmin_bounds[0] if len(pmin_bounds) == 1 else None
    pmax_one = pmax_bounds[0] if len(pmax_bounds) == 1 else None
    p_min = p_max = c_min = c_max = None
    energy_so_far = total_parking = ZERO
    segment: dict[tuple, Match] = {}
    matched: Match | None = None
    bands_until = split_at = _EARLIEST
    last_match: Match | None = None
    e_cand = t_cand = e_line = t_line = None
    e_indices = e_parts = t_indices = t_parts = []  # (the periods and volumes of e_line and t_line)
    other_match = o_e_cand = o_t_cand = o_e_line = o_t_line = None  # the match before `last_match`, its lines

    n = len(periods)
    boundary = 0  # the next period where the time bands may change or a cut may fall inside a period
    e_last = t_last = None  # the last ENERGY and TIME lines of the usual periods, not yet in `last`
    flat_open = True  # no FLAT fee yet (`walk.flat`)
    for index in range(n):
        period = periods[index]
        energy = period.energy
        split = False
        if index == boundary:
            t0 = starts[index]
            if t0 >= bands_until:  # the time bands change here (once per band; every period if the offset may change)
                x0 = (t0 - origin) // ONE_US
                if uses_clock:
                    ordinal, tod = clock(x0)
                time_key = compiled.time_key(mode, ordinal, tod, x0)
                tod_band, dur_band = time_key[TOD_BAND], time_key[DURATION_BAND]
                dur_next = dur_bounds[dur_band] if dur_band < n_dur else _LATEST
                if uses_clock and fixed is None:
                    until = x0 + 1
                    cut = next_time_boundary(compiled, clock, x0)
                else:
                    until = min(x0 + tod_bounds[tod_band] - tod if uses_clock else _LATEST, dur_next)
                    cut = x0 + next_cut(cut_bounds, tod) - tod if cut_bounds else _LATEST
                bands_until = _instant(origin, until)
                split_at = _instant(origin, min(cut, dur_next))
                segment = compiled.segment(time_key)
                if not per_period:  # (one match up to the next boundary; a Match is a non-empty tuple)
                    matched = segment.get(None) or compiled.match_in(
                        segment, None, _context(clock, x0, energy_so_far, None, None, None, None), mode)
            # Up to the next boundary the bands stay and no period holds a cut: the first period that
            # ends after the cut (this one: split it) or starts when the bands change.
            cut_inside = bisect_right(starts, split_at, index + 1, n + 1) - 1
            split = cut_inside == index
            boundary = index + 1 if split else min(cut_inside, bisect_left(starts, bands_until, index + 1, n))
        if per_period:  # the bands of power, current and kWh, as one number (mixed radix)
            key = 0
            if uses_power:
                p_min, p_max = period.min_power, period.max_power
                if p_min is None or p_max is None:
                    if (p_min is p_max is period.power is None and energy is ZERO
                            and period.time is ZERO):  # fmt: skip
                        p_min = p_max = ZERO  # (no power and no volume, parking say: what power_range gives)
                    else:
                        p_min, p_max = power_range(period, starts[index], starts[index + 1])
                if pmin_bounds:  # (one bound, the usual case: a comparison, True being 1)
                    key = p_min >= pmin_one if pmin_one is not None else bisect_right(pmin_bounds, p_min)
                if pmax_bounds:
                    key = key * pmax_radix + (p_max >= pmax_one if pmax_one is not None else
                                              bisect_right(pmax_bounds, p_max))  # fmt: skip
            if uses_current:
                c_min, c_max = current_range(period)
                if cmin_bounds:
                    key = key * cmin_radix + (0 if c_min is None else bisect_right(cmin_bounds, c_min) + 1)
                if cmax_bounds:
                    key = key * cmax_radix + (0 if c_max is None else bisect_right(cmax_bounds, c_max) + 1)
            if n_kwh:
                kwh_band = bisect_right(kwh_bounds, energy_so_far)
                if kwh_band < n_kwh and energy and kwh_bounds[kwh_band] < energy_so_far + energy:
                    split = True  # a kWh threshold inside the period
                key = key * (n_kwh + 1) + kwh_band
            matched = segment.get(key)
            if matched is None:
                x0 = (starts[index] - origin) // ONE_US
                ctx = _context(clock, x0, energy_so_far, p_min, p_max, c_min, c_max)
                matched = segment[key] = compiled.match(ctx, mode)

        if split:
            # A cut inside the period: priced in pieces, the general way.
            if e_last is not None:
                last[ENERGY] = e_last
            if t_last is not None:
                last[TIME] = t_last
            e_last = t_last = last_match = other_match = None
            x0, x1 = (starts[index] - origin) // ONE_US, (starts[index + 1] - origin) // ONE_US
            ctx = _context(clock, x0, energy_so_far, p_min, p_max, c_min, c_max)
            pieces = split_period(compiled, clock, ctx, mode, matched, period, x0, x1, energy_so_far,
                                  key if per_period else None, fixed is not None)  # fmt: skip
            time_h, park_h, res_h = period.time, period.parking_time, period.reservation_time
            if len(pieces) == 1:
                walk.add(index, period, pieces[0].match, energy, time_h, park_h, res_h)
            else:
                for piece, e_part, t_part, p_part, r_part in zip(
                    pieces, _shares(energy, pieces, _ENERGY_OF), _shares(time_h, pieces, _TIME_OF),
                    _shares(park_h, pieces, _PARKING_OF), _shares(res_h, pieces, _RESERVATION_OF), strict=True,
                ):  # fmt: skip
                    walk.add(index, period, piece.match, e_part, t_part, p_part, r_part)
            flat_open = walk.flat is None
            if energy:
                energy_so_far += energy  # Decimal: periods' volumes are, only split pieces may be Fractions
            if park_h:
                total_parking += park_h
            continue
        # The usual period: ENERGY and TIME appended to their lines (kept at hand while the match
        # stays), then parking, reservation and the fees as `_Walk.add` does them.
        if matched is not last_match:  # (the lines of the match before are kept: bands often alternate)
            if matched is other_match:
                other_match, o_e_cand, o_t_cand, o_e_line, o_t_line, last_match, e_cand, t_cand, e_line, t_line = (
                    last_match, e_cand, t_cand, e_line, t_line, matched, o_e_cand, o_t_cand, o_e_line, o_t_line)
                if e_line is None:  # (opened since, under the other match)
                    e_line = acc.get(e_cand)
                if t_line is None:
                    t_line = acc.get(t_cand)
            else:
                other_match, o_e_cand, o_t_cand, o_e_line, o_t_line = last_match, e_cand, t_cand, e_line, t_line
                last_match = matched
                e_cand, t_cand = matched[_ENERGY], matched[_TIME]
                e_line, t_line = acc.get(e_cand), acc.get(t_cand)
            if e_line is not None:  # (the lines' lists at hand: no attribute read per period)
                e_indices, e_parts = e_line.periods, e_line.parts
            if t_line is not None:
                t_indices, t_parts = t_line.periods, t_line.parts
        if energy:
            if e_cand is not None:
                if e_line is None:
                    e_line = acc[e_cand] = ComponentVolume(e_cand, index, period.start_date_time)
                    e_indices, e_parts = e_line.periods, e_line.parts
                else:
                    e_indices.append(index)
                e_parts.append(energy)
                e_last = e_line
            energy_so_far += energy
        time_h = period.time
        if time_h and t_cand is not None:
            if t_line is None:
                t_line = acc[t_cand] = ComponentVolume(t_cand, index, period.start_date_time)
                t_indices, t_parts = t_line.periods, t_line.parts
            else:
                t_indices.append(index)
            t_parts.append(time_h)
            t_last = t_line
        park_h, res_h = period.parking_time, period.reservation_time
        if park_h is not ZERO or res_h is not ZERO:  # (absent dimensions are ZERO itself)
            if park_h:
                total_parking += park_h
                if matched.parking is not None and not period.suspended_by_evse:
                    walk.add_parking(index, period, matched.parking, park_h)
            if res_h and matched.reservation_time is not None:
                walk.add_reservation(index, period, matched.reservation_time, res_h)
        if (flat_open or res_h is not ZERO) and (walk.flat is None or (res_h and walk.reservation_flat is None)):
            walk.fees(index, period, matched, energy or time_h or park_h or not res_h, res_h)
            flat_open = walk.flat is None
    if e_last is not None:
        last[ENERGY] = e_last
    if t_last is not None:
        last[TIME] = t_last

    if not walk.flat_seen or (mode != Mode.CHARGING and not walk.reservation_seen):
        ordinal, tod = clock(0)
        found = compiled.match(MatchContext(ordinal, tod, 0, ZERO, ZERO, ZERO, ZERO, ZERO), mode)
        if not walk.flat_seen and found.flat is not None:
            walk.flat = (found.flat, 0, start)
        if mode != Mode.CHARGING and not walk.reservation_seen and found.reservation_flat is not None:
            walk.reservation_flat = (found.reservation_flat, 0, start)

    for line in acc.values():
        line.quantity = sum_volumes(line.parts)
    apply_step_sizes(acc, last)
    lines = build_lines(acc, walk.flat, walk.reservation_flat, tariff.currency)
    return _finish(tariff, session, lines, energy_so_far, total_parking)


def _instant(origin: datetime, offset: int) -> datetime:
    """The instant `offset` microseconds after `origin` (`_NEVER` past the datetime range)."""
    try:
        return origin + ONE_US * offset
    except OverflowError:
        return _NEVER


def _shares(volume: Decimal, pieces: list, priced: attrgetter) -> list:
    """A split period's volume shared out over its pieces (`periods.divide_volume`) when some piece prices
    it; otherwise the whole volume for each piece: no piece's share is used but for its truth, which is the
    volume's (every piece has some length)."""
    if volume and any(map(priced, map(_MATCH, pieces))):
        return divide_volume(volume, pieces)
    return [volume] * len(pieces)


_MATCH = attrgetter("match")
_ENERGY, _TIME = Match._fields.index("energy"), Match._fields.index("time")
_ENERGY_OF = attrgetter("energy")
_TIME_OF = attrgetter("time")
_PARKING_OF = attrgetter("parking")
_RESERVATION_OF = attrgetter("reservation_time")


def _context(clock, x0: int, energy, p_min, p_max, c_min, c_max) -> MatchContext:
    ordinal, tod = clock(x0)
    return MatchContext(ordinal, tod, x0, energy, p_min, p_max, c_min, c_max)


def _finish(tariff: Tariff, session: Session, lines: list[CostLine], total_energy, total_parking) -> CostBreakdown:
    """The breakdown: the min/max price lines if a bound applies, then the CDR totals (VAT per rate)."""
    currency = tariff.currency
    base, totals = cdr_totals(lines, currency, rounded=True)
    adjustments = price_bound_lines(tariff, lines, currency, base)
    if adjustments:
        lines += adjustments
        _, totals = cdr_totals(lines, currency, rounded=True)
    microseconds = Decimal((session.end_date_time - session.start_date_time) // ONE_US)
    return new_breakdown(
        currency,
        tuple(lines),
        totals["total_cost"],
        totals["total_fixed_cost"],
        (total_energy if type(total_energy) is Decimal else to_decimal(total_energy)).quantize(
            _QUANTITY_QUANTUM, ROUND_HALF_UP),
        totals["total_energy_cost"],
        (microseconds / _US_PER_HOUR).quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP),  # (one rounding, as before)
        totals["total_time_cost"],
        total_parking.quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP),
        totals["total_parking_cost"],
        totals["total_reservation_cost"],
        totals["vat_breakdown"],
    )
