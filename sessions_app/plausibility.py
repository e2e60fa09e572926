"""Whether a session's meter readings are physically possible. Pure: no ORM, no I/O.

A connector cannot deliver more than its maximum power for the time it ran, and an energy register only
counts up. Three rules, each a finding of its own:

- `energy_above_max_power`: the session's energy (meter stop - meter start) is above what the connector
  can deliver in the session's duration.
- `register_decreasing`: a reading is below the one before it (start, samples in time order, stop).
- `register_jump`: between two consecutive readings the register rose by more than the connector can
  deliver in the time between them (only checked when there are samples between start and stop; without
  them the one step is the whole session, which the first rule covers).

"Can deliver in t hours" is `max_power_kw x 1000 x t x (1 + POWER_MARGIN) + ENERGY_ALLOWANCE_WH`: the
margin covers meter and clock tolerances and a connector slightly above its rating, the allowance covers
registers reported with a coarse resolution (0.1 kWh) and instants a few seconds apart. A session within
the connector's rating never breaks a rule (property-tested).
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

POWER_MARGIN = Decimal("0.10")
ENERGY_ALLOWANCE_WH = Decimal(200)

ENERGY_ABOVE_MAX_POWER = "energy_above_max_power"
REGISTER_DECREASING = "register_decreasing"
REGISTER_JUMP = "register_jump"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


def deliverable_wh(*, max_power_kw: Decimal, seconds: Decimal) -> Decimal:
    """The most energy (Wh) a connector of `max_power_kw` can plausibly deliver in `seconds`."""
    return max_power_kw * 1000 * max(seconds, Decimal(0)) / 3600 * (1 + POWER_MARGIN) + ENERGY_ALLOWANCE_WH


def _seconds(start: datetime, end: datetime) -> Decimal:
    return Decimal(str((end - start).total_seconds()))


def implausible_readings(
    *,
    max_power_kw: Decimal,
    started_at: datetime,
    stopped_at: datetime,
    meter_start_wh: Decimal,
    meter_stop_wh: Decimal,
    samples: Iterable[tuple[datetime, Decimal]],
) -> list[Finding]:
    """The rules a completed session's readings break (empty: plausible). `samples` are (instant, register
    in Wh); those outside [started_at, stopped_at] are not the session's and are ignored."""
    findings = []
    energy = meter_stop_wh - meter_start_wh
    duration = _seconds(started_at, stopped_at)
    limit = deliverable_wh(max_power_kw=max_power_kw, seconds=duration)
    if energy > limit:
        findings.append(Finding(ENERGY_ABOVE_MAX_POWER,
                                f"{energy} Wh in {duration} s is above the {limit:.0f} Wh a {max_power_kw} kW "
                                "connector can deliver"))
    inner = sorted((at, wh) for at, wh in samples if started_at <= at <= stopped_at)
    points = [(started_at, meter_start_wh), *inner, (stopped_at, meter_stop_wh)]
    drops = [(before, after) for before, after in itertools.pairwise(points) if after[1] < before[1]]
    if drops:
        (at, wh), (later, lower) = drops[0]
        findings.append(Finding(REGISTER_DECREASING,
                                f"the register went down {len(drops)} time(s), first from {wh} Wh at "
                                f"{at.isoformat()} to {lower} Wh at {later.isoformat()}"))
    if inner:
        jumps = [(before, after) for before, after in itertools.pairwise(points)
                 if after[1] - before[1] > deliverable_wh(max_power_kw=max_power_kw,
                                                          seconds=_seconds(before[0], after[0]))]
        if jumps:
            (at, wh), (later, higher) = jumps[0]
            findings.append(Finding(REGISTER_JUMP,
                                    f"the register jumped {len(jumps)} time(s), first by {higher - wh} Wh in "
                                    f"{_seconds(at, later)} s (from {at.isoformat()})"))
    return findings
