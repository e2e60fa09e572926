"""Pure pricing engine for OCPI 2.2.1 tariffs (no ORM, no I/O; stdlib and `billing_app.money`).

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

Speed (issue 16; `bench/pricing.py` prints it against the engine before): a tariff is compiled
once (`elements.compiled_tariff`); the components matched are cached per band of every
restriction, so a period costs a lookup; the time bands and the next time-of-day cut are found
once per boundary, not per period; a period is split only where a boundary falls inside it.
`tests/billing_app/test_pricing_corpus.py` checks every change against 6,000 recorded cases.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from .bounds import price_bound_lines
from .elements import MODES, Candidate, Match, Mode, compiled_tariff
from .lines import build_lines, cdr_totals
from .periods import ONE_US, divide_volume, next_cut, next_time_boundary, scan_periods, split_period
from .restrictions import MatchContext, local_clock, power_and_current
from .step_size import apply_step_sizes
from .types import (
    ENERGY,
    PARKING_TIME,
    RESERVATION_TIME,
    TIME,
    ZERO,
    CostBreakdown,
    CostLine,
    Session,
    Tariff,
    new_breakdown,
)
from .volumes import SECONDS_PER_HOUR, ComponentVolume, add_volumes, to_decimal, to_seconds

_QUANTITY_QUANTUM = Decimal("0.0001")
_LATEST = 1 << 62  # microseconds: later than any session


def _accumulate(acc: dict[Candidate, ComponentVolume], cand: Candidate, index: int, moment: datetime,
                part: Decimal | Fraction) -> ComponentVolume:  # fmt: skip
    """Add one period's (or piece's) volume to the component that prices it: a new line on its
    first period; the sum kept exact (a Fraction once a split piece is one)."""
    line = acc.get(cand)
    if line is None:
        line = acc[cand] = ComponentVolume(cand, index, moment, part)
        return line
    if line.periods[-1] != index:
        line.periods.append(index)
    try:
        line.quantity += part
    except TypeError:
        line.quantity = add_volumes(line.quantity, part)
    return line


def price_session(*, tariff: Tariff, session: Session) -> CostBreakdown:
    """Price one session with one tariff (OCPI 2.2.1 rules, see the module docstring)."""
    compiled = compiled_tariff(tariff)
    periods = session.charging_periods
    start = session.start_date_time
    offsets, last_charging = scan_periods(session)
    first = periods[0].start_date_time if periods and offsets[0] < 0 else start
    clock, fixed = local_clock(session, first)
    mode = MODES[session.reservation]
    grace_left = Decimal(tariff.parking_grace_minutes * 60)

    acc: dict[Candidate, ComponentVolume] = {}
    last: dict[str, ComponentVolume] = {}
    flat: tuple[Candidate, int, datetime] | None = None
    reservation_flat: tuple[Candidate, int, datetime] | None = None
    flat_seen = reservation_seen = False
    energy_so_far = ZERO
    total_parking = ZERO
    uses_clock, uses_dow = compiled.uses_clock, compiled.uses_dow
    uses_power, uses_current = compiled.uses_power, compiled.uses_current
    tod_bounds, date_bounds, cut_bounds = compiled.tod_bounds, compiled.date_bounds, compiled.cut_bounds
    dur_bounds, kwh_bounds = compiled.dur_bounds, compiled.kwh_bounds
    pmin_bounds, pmax_bounds = compiled.pmin_bounds, compiled.pmax_bounds
    cmin_bounds, cmax_bounds = compiled.cmin_bounds, compiled.cmax_bounds
    n_dur, n_kwh = len(dur_bounds), len(kwh_bounds)
    cache = compiled.cache
    ordinal = tod = tod_band = weekday = date_band = kwh_band = dur_band = 0
    pmin_band = pmax_band = cmin_band = cmax_band = 0
    p_min = p_max = c_min = c_max = None

    time_band_until = -_LATEST  # where the time bands may next change (fixed UTC offset: a bound)
    cut_at = -_LATEST  # the first cut (an element's time window opens or closes) after x0, when fixed

    for index, period in enumerate(periods):
        x0 = offsets[index]
        x1 = offsets[index + 1]
        energy = period.energy
        if x0 >= time_band_until:  # the time bands of x0 (kept while x0 is before the next boundary)
            if uses_clock:
                ordinal, tod = clock(x0)
                tod_band = bisect_right(tod_bounds, tod)
                if uses_dow:
                    weekday = (ordinal - 1) % 7
                if date_bounds:
                    date_band = bisect_right(date_bounds, ordinal)
            if n_dur:
                dur_band = bisect_right(dur_bounds, x0)
            if uses_clock and fixed is None:
                time_band_until = x0 + 1
            else:
                time_band_until = min(
                    x0 + tod_bounds[tod_band] - tod if uses_clock else _LATEST,
                    dur_bounds[dur_band] if dur_band < n_dur else _LATEST,
                )
        if uses_power:
            p_min, p_max = period.min_power, period.max_power
            if p_min is None or p_max is None:
                p_min, p_max, _, _ = power_and_current(period, x1 - x0)
            pmin_band = bisect_right(pmin_bounds, p_min) if pmin_bounds else 0
            pmax_band = bisect_right(pmax_bounds, p_max) if pmax_bounds else 0
        if uses_current:
            _, _, c_min, c_max = power_and_current(period, x1 - x0)
            cmin_band = (-1 if c_min is None else bisect_right(cmin_bounds, c_min)) if cmin_bounds else 0
            cmax_band = (-1 if c_max is None else bisect_right(cmax_bounds, c_max)) if cmax_bounds else 0
        if n_kwh:
            kwh_band = bisect_right(kwh_bounds, energy_so_far)
        matched = cache.get(
            (mode, tod_band, weekday, date_band, kwh_band, dur_band, pmin_band, pmax_band, cmin_band, cmax_band)
        )
        if matched is None:
            ordinal, tod = clock(x0) if uses_clock else (0, 0)
            ctx = MatchContext(ordinal, tod, x0, energy_so_far, p_min, p_max, c_min, c_max)
            matched = compiled.match(ctx, mode)

        time_h, park_h, res_h = period.time, period.parking_time, period.reservation_time
        if cut_at <= x0 and cut_bounds and fixed:
            _, tod = clock(x0)
            cut_at = x0 + next_cut(cut_bounds, tod) - tod
        if x1 > x0 and (
            (cut_bounds and fixed and cut_at < x1)
            or (uses_clock and not fixed and next_time_boundary(compiled, clock, x0) < x1)
            or (dur_band < n_dur and dur_bounds[dur_band] < x1)
            or (kwh_band < n_kwh and energy and kwh_bounds[kwh_band] < energy_so_far + energy)
        ):
            ordinal, tod = clock(x0) if uses_clock else (0, 0)
            ctx = MatchContext(ordinal, tod, x0, energy_so_far, p_min, p_max, c_min, c_max)
            pieces = split_period(compiled, clock, ctx, mode, matched, period, x0, x1, energy_so_far)
            if len(pieces) == 1:
                parts: Any = ((energy, time_h, park_h, res_h, pieces[0].match),)
            else:
                parts = zip(
                    divide_volume(energy, pieces), divide_volume(time_h, pieces), divide_volume(park_h, pieces),
                    divide_volume(res_h, pieces), [piece.match for piece in pieces], strict=True,
                )  # fmt: skip
        else:
            parts = ((energy, time_h, park_h, res_h, matched),)

        moment = period.start_date_time
        found: Match
        for e_part, t_part, p_part, r_part, found in parts:
            if e_part and found.energy is not None:
                last[ENERGY] = _accumulate(acc, found.energy, index, moment, e_part)
            if t_part and found.time is not None:
                last[TIME] = _accumulate(acc, found.time, index, moment, t_part)
            if p_part and found.parking is not None and not period.suspended_by_evse:
                line = _accumulate(acc, found.parking, index, moment, p_part)
                if index > last_charging and grace_left > 0:
                    seconds = to_seconds(p_part)
                    free = min(grace_left, seconds)
                    grace_left -= free
                    line.free += free
                    if free == seconds:
                        line = None
                if line is not None:
                    last[PARKING_TIME] = line
            if r_part and found.reservation_time is not None:
                last[RESERVATION_TIME] = _accumulate(acc, found.reservation_time, index, moment, r_part)
            if res_h:
                reservation_seen = True
                if reservation_flat is None and found.reservation_flat is not None:
                    reservation_flat = (found.reservation_flat, index, moment)
            if energy or time_h or park_h or not res_h:
                flat_seen = True
                if flat is None and found.flat is not None:
                    flat = (found.flat, index, moment)
        if park_h:
            total_parking += park_h
        if energy:
            energy_so_far += energy  # Decimal: periods' volumes are, only split pieces may be Fractions

    reserved = mode != Mode.CHARGING
    if not flat_seen or (reserved and not reservation_seen):
        ordinal, tod = clock(0)
        found = compiled.match(MatchContext(ordinal, tod, 0, ZERO, ZERO, ZERO, ZERO, ZERO), mode)
        if not flat_seen and found.flat is not None:
            flat = (found.flat, 0, start)
        if reserved and not reservation_seen and found.reservation_flat is not None:
            reservation_flat = (found.reservation_flat, 0, start)

    apply_step_sizes(acc, last)
    lines = build_lines(acc, flat, reservation_flat, tariff.currency)
    return _finish(tariff, session, lines, energy_so_far, total_parking)


def _finish(tariff: Tariff, session: Session, lines: list[CostLine], total_energy, total_parking) -> CostBreakdown:
    """The breakdown: the min/max price lines if a bound applies, then the CDR totals (VAT per rate)."""
    currency = tariff.currency
    lines += price_bound_lines(tariff, lines, currency)
    totals = cdr_totals(lines, currency)
    seconds = Decimal((session.end_date_time - session.start_date_time) // ONE_US) / 1_000_000
    return new_breakdown(
        currency,
        tuple(lines),
        totals["total_cost"],
        totals["total_fixed_cost"],
        to_decimal(total_energy).quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP),
        totals["total_energy_cost"],
        (seconds / SECONDS_PER_HOUR).quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP),
        totals["total_time_cost"],
        total_parking.quantize(_QUANTITY_QUANTUM, ROUND_HALF_UP),
        totals["total_parking_cost"],
        totals["total_reservation_cost"],
        totals["vat_breakdown"],
    )
