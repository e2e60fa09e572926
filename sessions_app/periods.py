"""Charging and idle periods derived from a session's meter readings.

The one place that decides when a car was drawing power and when it sat connected without
charging (the idle tail that parking fees apply to). Pure: no ORM, no I/O.

A reading is an instant with the cumulative energy register; between two consecutive readings
the car was charging when the average power over the interval reached `idle_power_w`, idle
otherwise. Consecutive intervals of the same kind merge into one period. The session's start and
stop (with their meter values) bound the series, so a session with no samples is one period.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

CHARGING = "CHARGING"
IDLE = "IDLE"


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    energy_wh: Decimal
    power_w: Decimal | None = None
    current_a: Decimal | None = None


@dataclass(slots=True)
class Period:
    kind: str
    start: datetime
    end: datetime
    energy_wh: Decimal
    powers_w: list[Decimal] = field(default_factory=list)
    currents_a: list[Decimal] = field(default_factory=list)

    @property
    def hours(self) -> Decimal:
        return Decimal((self.end - self.start).total_seconds()) / 3600

    @property
    def max_power_w(self) -> Decimal | None:
        return max(self.powers_w, default=None)

    @property
    def min_power_w(self) -> Decimal | None:
        return min(self.powers_w, default=None)

    @property
    def max_current_a(self) -> Decimal | None:
        return max(self.currents_a, default=None)

    @property
    def min_current_a(self) -> Decimal | None:
        return min(self.currents_a, default=None)


def derive_periods(
    readings: Iterable[Reading],
    *,
    started_at: datetime,
    stopped_at: datetime,
    meter_start_wh: Decimal,
    meter_stop_wh: Decimal,
    idle_power_w: Decimal,
) -> list[Period]:
    """Split [started_at, stopped_at] into alternating CHARGING and IDLE periods.

    Readings outside the session window are ignored; readings whose register runs backwards are
    treated as no energy drawn (a meter never un-counts), so period energies are never negative
    and add up to meter_stop - meter_start whenever the readings are consistent with those bounds.
    """
    if stopped_at <= started_at:
        return []
    inner = sorted(
        (r for r in readings if started_at < r.at < stopped_at),
        key=lambda r: r.at,
    )
    points = [Reading(started_at, meter_start_wh), *inner, Reading(stopped_at, meter_stop_wh)]

    periods: list[Period] = []
    register = meter_start_wh
    for before, after in itertools.pairwise(points):
        seconds = Decimal((after.at - before.at).total_seconds())
        if seconds <= 0:
            continue
        reached = max(after.energy_wh, register)
        delta = reached - register
        register = reached
        average_power_w = delta * 3600 / seconds
        kind = CHARGING if average_power_w >= idle_power_w else IDLE
        if periods and periods[-1].kind == kind:
            current = periods[-1]
            current.end = after.at
            current.energy_wh += delta
        else:
            current = Period(kind=kind, start=before.at, end=after.at, energy_wh=delta)
            periods.append(current)
        if after.power_w is not None and after.at < stopped_at:
            current.powers_w.append(after.power_w)
        if after.current_a is not None and after.at < stopped_at:
            current.currents_a.append(after.current_a)
    return periods
