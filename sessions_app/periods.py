"""Charging and idle periods derived from a session's meter readings.

The one place that decides when a car was drawing power and when it sat connected without
charging (the idle tail that parking fees apply to). Pure: no ORM, no I/O.

A reading is an instant with the cumulative energy register; between two consecutive readings
the car was charging when the average power over the interval reached `idle_power_w`, idle
otherwise. Consecutive intervals of the same kind merge into one period. The session's start and
stop (with their meter values) bound the series, so a session with no samples is one period.
"""
from __future__ import annotations

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
    deriver = PeriodDeriver(started_at=started_at, meter_start_wh=meter_start_wh, idle_power_w=idle_power_w)
    for reading in sorted((r for r in readings if started_at < r.at < stopped_at), key=lambda r: r.at):
        deriver.add(reading)
    return deriver.periods_until(stopped_at, meter_stop_wh)


class PeriodDeriver:
    """`derive_periods` one reading at a time, for a session that is still running: readings go in in time
    order (`add`, each inside the window: after the start, before the end asked for later), and
    `periods_until` gives, at any point, what `derive_periods` gives for those readings and that end, leaving
    the deriver as it was. The running cost keeps one per active session, so a meter reading costs the new
    readings, not the whole series."""

    __slots__ = ("idle_power_w", "last", "periods", "register")

    def __init__(self, *, started_at: datetime, meter_start_wh: Decimal, idle_power_w: Decimal) -> None:
        self.idle_power_w = idle_power_w
        self.periods: list[Period] = []
        self.register = meter_start_wh
        self.last = Reading(started_at, meter_start_wh)

    def add(self, reading: Reading) -> None:
        self._step(reading, inner=True)

    def periods_until(self, stopped_at: datetime, meter_stop_wh: Decimal) -> list[Period]:
        """The periods up to the session's end (`stopped_at`, after the last reading added) with the meter
        there at `meter_stop_wh`."""
        kept = self.periods, self.register, self.last
        self.periods = list(self.periods)
        if self.periods:  # the only period a step changes is the last one: it works on a copy of it
            last = self.periods[-1]
            self.periods[-1] = Period(last.kind, last.start, last.end, last.energy_wh, list(last.powers_w),
                                      list(last.currents_a))
        try:
            self._step(Reading(stopped_at, meter_stop_wh), inner=False)
            return self.periods
        finally:
            self.periods, self.register, self.last = kept

    def _step(self, after: Reading, *, inner: bool) -> None:
        before, self.last = self.last, after
        seconds = Decimal((after.at - before.at).total_seconds())
        if seconds <= 0:
            return
        reached = max(after.energy_wh, self.register)
        delta = reached - self.register
        self.register = reached
        average_power_w = delta * 3600 / seconds
        kind = CHARGING if average_power_w >= self.idle_power_w else IDLE
        periods = self.periods
        if periods and periods[-1].kind == kind:
            current = periods[-1]
            current.end = after.at
            current.energy_wh += delta
        else:
            current = Period(kind=kind, start=before.at, end=after.at, energy_wh=delta)
            periods.append(current)
        if after.power_w is not None and inner:
            current.powers_w.append(after.power_w)
        if after.current_a is not None and inner:
            current.currents_a.append(after.current_a)
