"""step_size (OCPI 2.2.1 Tariffs module, PriceComponent.step_size, with the CDRs module text).

The spec: "step_size SHALL only be taken into account for the last TariffElement and when
switching to another TariffElement for the PriceComponents that is not in the new TariffElement."

step_size applies once per session per dimension to the total billed volume of that dimension,
with the step of the LAST component used for it; the volume added by rounding is billed at that
last component's price (spec example "switching Tariff Element #2"). TIME and PARKING_TIME
share one rounding: when PARKING_TIME is billed, only the total parking time is rounded (with
the last parking component's step) and charging time is not rounded at all; otherwise the total
charging time is rounded (2.2.1 CDR module text, as confirmed by the maintainers in ocpi/ocpi
#396/#546; the printed figures of the tariff-module examples "switching #1" and "complex tariff"
round the summed time and are wrong). Energy steps are in Wh, time steps in seconds.
Reservation time is rounded on its own.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

from .elements import Candidate
from .types import ENERGY, PARKING_TIME, RESERVATION_TIME, TIME, ZERO
from .volumes import ComponentVolume, add_volumes, exact, to_seconds

_WH_PER_KWH = Decimal(1000)


def apply_step_sizes(acc: dict[Candidate, ComponentVolume], last: dict[str, ComponentVolume]) -> None:
    """Set billed volumes (kWh, seconds) and apply step_size once per session per dimension:
    the total billed volume of a dimension is rounded up to the step of the last component used
    for it, the difference billed on that component's line. TIME and PARKING_TIME share one
    rounding: parking time when parking is billed, else charging time (module docstring)."""
    totals: dict[str, Decimal | Fraction] = {}
    for line in acc.values():
        dimension = line.cand.dimension
        if dimension == ENERGY:
            billed = line.billed = line.quantity
        else:
            billed = line.billed = to_seconds(line.quantity) - line.free
        total = totals.get(dimension, ZERO)
        totals[dimension] = total + billed if type(total) is type(billed) else add_volumes(total, billed)
    if ENERGY in last:
        _round_up(last[ENERGY], totals[ENERGY], _WH_PER_KWH)
    if PARKING_TIME in last:
        _round_up(last[PARKING_TIME], totals[PARKING_TIME], _ONE)
    elif TIME in last:
        _round_up(last[TIME], totals[TIME], _ONE)
    if RESERVATION_TIME in last:
        _round_up(last[RESERVATION_TIME], totals[RESERVATION_TIME], _ONE)


_ONE = Decimal(1)


def _round_up(line: ComponentVolume, total: Decimal | Fraction, unit: Decimal) -> None:
    """Round `total` (in kWh x unit = Wh, or seconds) up to a multiple of the line's step_size
    and bill the difference on that line."""
    if line.cand.step <= 0:
        return
    step = line.cand.step
    if type(total) is Fraction:
        scaled = total * Fraction(unit)
        extra = exact((math.ceil(scaled / step) * step - scaled) / Fraction(unit))
    else:
        scaled = total * unit
        steps, rest = divmod(scaled, step)
        extra = ((int(steps) + 1) * step - scaled) / unit if rest > 0 else ZERO
    if extra:
        line.billed = add_volumes(line.billed, extra)
