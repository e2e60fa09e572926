"""TariffRestrictions: when a TariffElement applies (OCPI 2.2.1 Tariffs module, TariffRestrictions).

Restrictions are evaluated in the session's local time (IANA zone): `start_time`/`end_time` is
the window [start, end); `end_time` before `start_time` wraps past midnight, `end_time` "00:00"
means the end of the day and equal times mean the whole day. Dates: [start_date, end_date).
Lower bounds are inclusive, upper bounds exclusive (`max_kwh`, `max_power`, `max_current`,
`max_duration`). kWh and duration compare the session's cumulative energy and elapsed time at the
(sub)period start.

Power and current. The spec, TariffRestrictions `min_power`: "When the EV is charging with more
than, or equal to, the defined amount of power, this TariffElement is/becomes active. If the
charging power is or becomes lower, this TariffElement is not or no longer valid and becomes
inactive" (`max_power`, `min_current`, `max_current` alike, mirrored). So a minimum is compared
with the lowest power of the period and a maximum with the highest: the CdrDimensionTypes
MIN_POWER and MAX_POWER ("Minimum/Maximum power reached during this ChargingPeriod"), MIN_CURRENT
and MAX_CURRENT. When one is absent, the period's POWER ("Average power during this
ChargingPeriod") stands in for it: a period that reports only POWER ran at that power throughout,
so POWER is both its min and max power (and CURRENT both its min and max current). The average is
preferred over the other bound because it is closer to the missing one. Without either bound or
average: the other bound; without any power dimension, power is the period's energy / time
(its average power, zero for a period without energy), and current is unknown, so current
restrictions do not match while charging (zero current when the period has no energy and no time).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .types import DAYS_OF_WEEK, ZERO, ChargingPeriod, PricingError, Session, TariffRestrictions

DAY_US = 86_400_000_000
ONE_US = timedelta(microseconds=1)
_FAST_LOCAL_SPAN = timedelta(days=7)


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


class Restriction:
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

    def matches(self, ctx: MatchContext) -> bool:
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
        e = DAY_US
    if s == e or (s == 0 and e == DAY_US):
        return None
    if s < e:
        return ((s, e),)
    return ((s, DAY_US), (0, e))


class MatchContext:
    """What the restrictions compare at a moment: the local date (ordinal) and time of day (microseconds),
    the microseconds elapsed, the energy so far, the period's power and current ranges. (A plain class: its
    `__init__` is compiled with the walk's modules, where a dataclass's generated one would stay Python.)"""

    __slots__ = ("c_max", "c_min", "elapsed", "energy", "ordinal", "p_max", "p_min", "tod")

    def __init__(self, ordinal: int, tod: int, elapsed: int, energy: Decimal | Fraction, p_min: Decimal | None,
                 p_max: Decimal | None, c_min: Decimal | None, c_max: Decimal | None) -> None:  # fmt: skip
        self.ordinal, self.tod, self.elapsed, self.energy = ordinal, tod, elapsed, energy
        self.p_min, self.p_max, self.c_min, self.c_max = p_min, p_max, c_min, c_max


def power_range(period: ChargingPeriod, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
    """(min power, max power) the restrictions compare (module docstring); `start` and `end` bound the
    period (its average power when it reports energy but no time)."""
    p_min = period.min_power
    p_max = period.max_power
    if p_min is None:
        p_min = period.power if period.power is not None else p_max
    if p_max is None:
        p_max = period.power if period.power is not None else p_min
    if p_min is None:
        if period.time > 0:
            p_min = p_max = period.energy / period.time
        elif period.energy > 0 and end > start:
            p_min = p_max = period.energy * 3_600_000_000 / ((end - start) // ONE_US)
        else:
            p_min = p_max = ZERO
    return p_min, p_max


def current_range(period: ChargingPeriod) -> tuple[Decimal | None, Decimal | None]:
    """(min current, max current) the restrictions compare (module docstring): None when unknown."""
    c_min = period.min_current
    c_max = period.max_current
    if c_min is None:
        c_min = period.current if period.current is not None else c_max
    if c_max is None:
        c_max = period.current if period.current is not None else c_min
    if c_min is None and not (period.energy > 0 or period.time > 0):
        c_min = c_max = ZERO
    return c_min, c_max



def local_clock(session: Session, first: datetime) -> tuple[Callable[[int], tuple[int, int]], tuple[int, int] | None]:
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
    offset = local.utcoffset()
    base_ordinal = local.toordinal()
    base_tod = (local.hour * 3600 + local.minute * 60 + local.second) * 1_000_000 + local.microsecond
    if (session.end_date_time.astimezone(zone).utcoffset() == offset
            and (first is start or first.astimezone(zone).utcoffset() == offset)
            and session.end_date_time - first <= _FAST_LOCAL_SPAN):  # fmt: skip

        def fast(elapsed: int) -> tuple[int, int]:
            days, tod = divmod(base_tod + elapsed, DAY_US)
            return base_ordinal + days, tod

        return fast, (base_ordinal, base_tod)

    def slow(elapsed: int) -> tuple[int, int]:
        moment = (start + timedelta(microseconds=elapsed)).astimezone(zone)
        tod = (moment.hour * 3600 + moment.minute * 60 + moment.second) * 1_000_000 + moment.microsecond
        return moment.toordinal(), tod

    return slow, None
