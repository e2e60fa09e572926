"""Volumes (CdrDimension kWh and hours) kept exact while a period is shared out.

A split period's share of a volume is exact: a Decimal when its decimal expansion terminates,
a Fraction otherwise, so that nothing is lost before the one rounding of each line's amount.
Time volumes are taken to the microsecond (hours x 3600, quantized), so an hour value such as
Decimal(7) / 60 bills 420 s, while a CDR's 0.1667 h is 600.12 s.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from itertools import islice
from math import gcd

from .elements import Candidate
from .types import ZERO

SECONDS_PER_HOUR = Decimal(3600)
_MICROSECOND = Decimal("0.000001")


def exact(value: Fraction) -> Decimal | Fraction:
    """A Fraction as an exact Decimal when its decimal expansion terminates."""
    return exact_ratio(value.numerator, value.denominator) or value


def exact_ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator (denominator > 0) as a Decimal when its decimal expansion
    terminates (the reduced denominator has no prime factor but 2 and 5), else None. The Decimal
    is `Decimal(numerator) / Decimal(denominator)` in the current context, as it always was."""
    common = gcd(numerator, denominator)
    reduced = denominator // common
    odd = reduced >> ((reduced & -reduced).bit_length() - 1)  # without its factors 2
    if odd != 1 and pow(5, odd.bit_length(), odd):  # not a power of 5 (5 ** bits >= odd)
        return None
    return Decimal(numerator // common) / Decimal(reduced)


def add_volumes(a: Decimal | Fraction, b: Decimal | Fraction) -> Decimal | Fraction:
    if type(a) is type(b):
        return a + b
    return Fraction(a) + Fraction(b)


def to_decimal(value: Decimal | Fraction) -> Decimal:
    if type(value) is Fraction:
        return Decimal(value.numerator) / Decimal(value.denominator)
    return value


def to_seconds(hours: Decimal | Fraction) -> Decimal:
    """Hours to seconds, to the microsecond (the engine's time resolution): a volume such as
    Decimal(7) / 60, inexact in its 28th digit, must not spill into the next step_size block."""
    if type(hours) is Fraction:
        micro = hours * 3_600_000_000
        return Decimal(round(micro)).scaleb(-6)
    return (hours * SECONDS_PER_HOUR).quantize(_MICROSECOND)


def sum_volumes(parts: list[Decimal | Fraction]) -> Decimal | Fraction:
    """The parts added in order, each to the sum so far: Decimals by Decimal addition (the context's
    precision, as a running total would), exactly as Fractions from the first Fraction on."""
    total = parts[0]
    if len(parts) > 1:
        try:
            return sum(islice(parts, 1, None), total)  # (Decimals only: one C loop)
        except TypeError:  # a Fraction met a Decimal
            for part in islice(parts, 1, None):
                total = add_volumes(total, part)
    return total


class ComponentVolume:
    """Volume priced by one component: `parts` the volumes (kWh or hours) of the periods or split
    pieces it priced, in order, `quantity` their sum once the walk is done; `free` grace seconds;
    `billed` (kWh or seconds) is set after the walk and raised by step_size rounding."""

    __slots__ = ("billed", "cand", "free", "parts", "periods", "quantity", "start")

    def __init__(self, cand: Candidate, index: int, start: datetime) -> None:
        self.cand = cand
        self.parts: list[Decimal | Fraction] = []
        self.quantity: Decimal | Fraction = ZERO
        self.free = ZERO
        self.billed: Decimal | Fraction = ZERO
        self.periods = [index]
        self.start = start
