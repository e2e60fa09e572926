"""Period splitting (OCPI 2.2.1 CDRs module, CdrChargingPeriod: periods split at tariff element changes).

The spec, TariffRestrictions: "These restrictions are not for the entire Charging Session. They
only describe if and when a TariffElement becomes active or inactive during a Charging Session."
So a period that a restriction boundary falls inside is priced in pieces.

Periods are split where a restriction boundary falls inside them (time of day, midnight for
day/date restrictions, duration and kWh thresholds), but only where the split changes the
elements used. Volumes are shared out in proportion to time (kWh thresholds: energy exactly,
time in proportion to the energy, i.e. constant power within the period). OCPI asks the CPO to
split periods at tariff changes; on periods already split this is a no-op.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import NamedTuple

from .elements import MODES, CompiledTariff, Match, Mode
from .restrictions import DAY_US, ONE_US, MatchContext
from .types import ZERO, ChargingPeriod, PricingError, Session
from .volumes import add_volumes, exact, exact_ratio


class Piece(NamedTuple):
    """A part of a split period: it ends at `end_numerator / end_denominator` of the period (a
    fraction, kept as two integers) and `match` prices it."""

    end_numerator: int
    end_denominator: int
    match: Match


def next_cut(cuts: list[int], tod: int) -> int:
    """The next time of day (possibly tomorrow) where some element's time window opens or closes."""
    i = bisect_right(cuts, tod)
    return cuts[i] if i < len(cuts) else cuts[0] + DAY_US


class PeriodStarts(NamedTuple):
    """The periods' starts and the session end (`starts`, one more than periods) as datetimes that
    compare as instants, `origin` the session start in the same terms (offsets in microseconds are
    `(starts[i] - origin) // ONE_US`), and the index of the last charging period (-1 if none)."""

    origin: datetime
    starts: list[datetime]
    last_charging: int


def scan_periods(session: Session) -> PeriodStarts:
    """Validate the session: aware times, periods in order, none after the session end.

    The engine walks the periods comparing datetimes (cheaper than an offset per period). When
    every time carries a fixed UTC offset (what OCPI JSON and the database give) the datetimes are
    used as they are; otherwise (zones with daylight saving time) each start becomes an instant at
    its offset since the session start, taken as before (`period start - session start`)."""
    start, end = session.start_date_time, session.end_date_time
    if start.tzinfo is None or end.tzinfo is None:
        raise PricingError("session start and end must be timezone-aware")
    if end < start:
        raise PricingError("session ends before it starts")
    if session.reservation not in MODES:
        raise PricingError(f"unknown reservation type {session.reservation!r}")
    periods = session.charging_periods
    origin = start
    zone = start.tzinfo
    starts = [period.start_date_time for period in periods]
    starts.append(end)
    try:
        fixed = type(zone) is timezone and [moment.tzinfo for moment in starts].count(zone) == len(starts)
    except AttributeError:  # not a datetime
        fixed = False
    if not fixed:  # several zones or offsets
        try:
            zones = set(map(_TZINFO, starts))  # (equal fixed offsets are one element)
        except AttributeError:  # not a datetime
            zones = {None}
        zones.add(zone)
        fixed = all(type(zone) is timezone for zone in zones)
    if not fixed:
        offsets = _offsets(periods, start, end)
        origin = _EPOCH
        starts = [_EPOCH + timedelta(microseconds=offset) for offset in offsets]
    elif sorted(starts) != starts:  # (sorting the sorted list: one comparison a period, in C)
        _offsets(periods, start, end)  # raises the error for the first period at fault
    last_charging = len(periods) - 1
    while last_charging >= 0 and not (periods[last_charging].time or periods[last_charging].energy):
        last_charging -= 1
    return PeriodStarts(origin, starts, last_charging)


_TZINFO = attrgetter("tzinfo")
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _offsets(periods: tuple[ChargingPeriod, ...], start: datetime, end: datetime) -> list[int]:
    """Period start offsets and the session end in microseconds since the session start; refuses a
    period that starts before the previous one or after the session end."""
    end_us = (end - start) // ONE_US
    offsets = []
    previous = None
    try:
        for index, period in enumerate(periods):
            offset = (period.start_date_time - start) // ONE_US
            if previous is not None and offset < previous:
                raise PricingError(f"charging period {index} starts before the previous one")
            if offset > end_us:
                raise PricingError(f"charging period {index} starts after the session end")
            offsets.append(offset)
            previous = offset
    except TypeError:
        raise PricingError("charging period starts must be timezone-aware") from None
    offsets.append(end_us)
    return offsets


def divide_volume(volume: Decimal, pieces: list[Piece]) -> list[Decimal | Fraction]:
    """Share a period's volume over its pieces in proportion to their extent; exact, and the
    last piece takes the rest so the parts add up to the volume. (Integer arithmetic on the
    volume's ratio: each part is the exact `volume x (end - before)`, a Decimal when it
    terminates, as `volumes.exact` gives it.)"""
    if not volume:
        return [ZERO] * len(pieces)
    parts: list[Decimal | Fraction] = []
    numerator, denominator = volume.as_integer_ratio()
    before_num, before_den = 0, 1
    done: Decimal | Fraction = ZERO
    for end_num, end_den, _ in pieces[:-1]:
        share_num = end_num * before_den - before_num * end_den  # end - before
        part_num, part_den = numerator * share_num, denominator * end_den * before_den
        part = exact_ratio(part_num, part_den)
        if part is None:
            part = Fraction(part_num, part_den)
        parts.append(part)
        done = add_volumes(done, part)
        before_num, before_den = end_num, end_den
    parts.append(volume - done if type(done) is Decimal else exact(Fraction(volume) - done))
    return parts


def split_period(compiled: CompiledTariff, clock, ctx: MatchContext, mode: Mode, matched: Match, period: ChargingPeriod,
           x0: int, x1: int, energy_before: Decimal | Fraction, key: int | None,
           linear: bool) -> list[Piece]:  # fmt: skip
    """Cut a period into pieces where the matched components change. Positions are exact; kWh
    thresholds assume constant power within the period. `key`: the period's bands of power, current and
    kWh as the engine keys them (`CompiledTariff.match_in`), which a time cut does not change; `linear`: see
    `next_time_boundary`."""
    energy = period.energy
    bounds = compiled.kwh_bounds
    if energy > 0 and bounds:
        i = bisect_right(bounds, energy_before)
        if i < len(bounds) and bounds[i] < energy_before + energy:
            return _split_by_energy(compiled, clock, ctx, mode, matched, energy, x0, x1, energy_before)
    span = x1 - x0
    cuts: list[Piece] = []
    current = matched
    x = x0
    while True:
        nxt = min(x1, next_time_boundary(compiled, clock, x, linear))
        if nxt >= x1:
            cuts.append(Piece(1, 1, current))
            return cuts
        ctx.elapsed = nxt
        if compiled.uses_clock:
            ctx.ordinal, ctx.tod = clock(nxt)
        segment = compiled.segment(compiled.time_key(mode, ctx.ordinal, ctx.tod, nxt))
        found = compiled.match_in(segment, key, ctx, mode)
        if found != current:
            cuts.append(Piece(nxt - x0, span, current))
            current = found
        x = nxt


def next_time_boundary(compiled: CompiledTariff, clock, x: int, linear: bool = False) -> int:
    """The first instant after `x` where a time-of-day, day or duration band changes. `linear`: one UTC
    offset holds for the session (`local_clock` found it), so local time moves with elapsed time."""
    nxt = 1 << 62
    if compiled.uses_clock:
        ordinal, tod = clock(x)
        target = compiled.tod_bounds[bisect_right(compiled.tod_bounds, tod)]
        boundary = x + target - tod
        if not linear:  # (the UTC offset may change on the way: where the local clock shows `target`)
            got_ordinal, got_tod = clock(boundary)
            boundary += (ordinal * DAY_US + target) - (got_ordinal * DAY_US + got_tod)
        if boundary > x:
            nxt = boundary
    i = bisect_right(compiled.dur_bounds, x)
    if i < len(compiled.dur_bounds):
        nxt = min(nxt, compiled.dur_bounds[i])
    return nxt


def _split_by_energy(compiled: CompiledTariff, clock, ctx: MatchContext, mode: Mode, matched: Match,
                     energy: Decimal, x0: int, x1: int, energy_before: Decimal | Fraction,
                     ) -> list[Piece]:  # fmt: skip
    span = x1 - x0
    whole = Fraction(energy)
    before = Fraction(energy_before)
    pieces: list[Piece] = []
    position = Fraction(0)
    current = matched
    while True:
        x = x0 + math.ceil(position * span)
        upcoming = [Fraction(next_time_boundary(compiled, clock, x) - x0, span)]
        i = bisect_right(compiled.kwh_bounds, before + whole * position)
        if i < len(compiled.kwh_bounds):
            upcoming.append((Fraction(compiled.kwh_bounds[i]) - before) / whole)
        nxt = min((c for c in upcoming if c > position), default=Fraction(1))
        if nxt >= 1:
            pieces.append(Piece(1, 1, current))
            return pieces
        ctx.elapsed = x0 + math.ceil(nxt * span)
        ctx.energy = exact(before + whole * nxt)
        if compiled.uses_clock:
            ctx.ordinal, ctx.tod = clock(ctx.elapsed)
        found = compiled.match(ctx, mode)
        if found != current:
            pieces.append(Piece(nxt.numerator, nxt.denominator, current))
            current = found
        position = nxt
