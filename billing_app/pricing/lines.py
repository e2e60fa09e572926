"""Lines and totals (OCPI 2.2.1 CDRs module: the CDR's cost totals, each a Price excl./incl. VAT).

Each line (one price component's billed volume x its price) is computed at full precision
(exact rational arithmetic when a split produced a non-terminating fraction) and rounded once
to the currency's minor unit; every CDR total excl. VAT is the sum of its rounded lines.

VAT is per rate (EN 16931 BR-CO-17, `billing_app.money.vat_breakdown`): for each rate, computed
once on the sum of that rate's lines and rounded once; a total incl. VAT is its net plus those
VAT amounts. `total_cost` takes every line (price-bound adjustments included) and carries the
per-rate rows (`vat_breakdown`) a document shows; each per-dimension total applies the same rule
to its own lines, so its incl. VAT is information and the dimensions' incl. VAT need not add up
to `total_cost.incl_vat` (their excl. VAT does, bound adjustments aside). A line's own VAT and
gross amount are kept as information.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from billing_app.money import VatBreakdown, line_amounts, vat_breakdown_by

from .elements import Candidate
from .types import (
    ENERGY,
    FLAT,
    MAX_PRICE,
    MIN_PRICE,
    PARKING_TIME,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    TIME,
    CostLine,
    Price,
    new_line,
    new_price,
)
from .volumes import SECONDS_PER_HOUR, ComponentVolume, to_decimal

_LINE_ORDER = {FLAT: 0, ENERGY: 1, TIME: 2, PARKING_TIME: 3, RESERVATION_FLAT: 4, RESERVATION_TIME: 5}


def build_lines(acc: dict[Candidate, ComponentVolume], flat, reservation_flat, currency: str) -> list[CostLine]:
    """The lines in CDR order: FLAT, ENERGY, TIME, PARKING_TIME, RESERVATION_FLAT, RESERVATION_TIME, each
    dimension's lines in the order of their first period (the order `acc` holds them in)."""
    energy: list[CostLine] = []
    time: list[CostLine] = []
    parking: list[CostLine] = []
    reserved: list[CostLine] = []
    by_dimension = {ENERGY: energy, TIME: time, PARKING_TIME: parking, RESERVATION_TIME: reserved}
    for raw in acc.values():
        cand = raw.cand
        billed, quantity, price = raw.billed, raw.quantity, cand.price
        if type(quantity) is not Decimal:
            quantity = to_decimal(quantity)
        if type(billed) is Decimal:
            if cand.dimension == ENERGY:
                shown, amount = billed, billed * price
            else:
                shown, amount = billed / SECONDS_PER_HOUR, billed * price / SECONDS_PER_HOUR
        elif cand.dimension == ENERGY:
            shown, amount = to_decimal(billed), billed * Fraction(price)
        else:
            shown, amount = to_decimal(billed) / SECONDS_PER_HOUR, billed * Fraction(price) / 3600
        excl, vat, incl = line_amounts(amount, cand.vat, currency)
        by_dimension[cand.dimension].append(
            new_line(cand.dimension, cand.element_index, cand.component_index, tuple(raw.periods), raw.start,
                     quantity, shown, price, cand.vat, excl, vat, incl)
        )  # fmt: skip
    lines = [_fee_line(flat, currency)] if flat is not None else []
    lines += energy
    lines += time
    lines += parking
    if reservation_flat is not None:
        lines.append(_fee_line(reservation_flat, currency))
    lines += reserved
    return lines


_ONE = Decimal(1)


def _fee_line(fee: tuple[Candidate, int, datetime], currency: str) -> CostLine:
    """A fee (FLAT, RESERVATION_FLAT) charged once, at its period."""
    cand, period, moment = fee
    excl, vat, incl = line_amounts(cand.price, cand.vat, currency)
    return new_line(cand.dimension, cand.element_index, cand.component_index, (period,), moment, _ONE, _ONE,
                    cand.price, cand.vat, excl, vat, incl)  # fmt: skip


def cdr_totals(lines: Sequence[CostLine], currency: str, total_of: Mapping[str, str] | None = None, *,
               rounded: bool = False) -> tuple[VatBreakdown, dict[str, Price | tuple]]:  # fmt: skip
    """The lines' `vat_breakdown` and their CDR totals (see the module docstring): keyword arguments of
    `CostBreakdown`, `vat_breakdown` the per-rate VAT rows of `total_cost`. `total_of` maps a line's
    dimension to its CDR total (the engine's by default; a dimension it does not name counts towards
    `total_cost` only). VAT per rate for the document and for each total in one pass
    (`money.vat_breakdown_by`; `rounded`: the lines' nets come from `money.line_amounts`, as the engine's do).
    """
    total_of = _TOTAL_OF if total_of is None else total_of
    get = total_of.get
    total, by_name = vat_breakdown_by([(get(line.dimension), line.vat_rate, line.amount_excl_vat) for line in lines],
                                      currency, rounded=rounded)  # fmt: skip
    zero = _ZERO_PRICES.get(currency)
    if zero is None:  # (the nets carry the minor unit's exponent: one zero Price per currency, frozen)
        nothing = total.net - total.net
        zero = _ZERO_PRICES[currency] = new_price(nothing, nothing)
    result: dict[str, Price | tuple] = dict.fromkeys(_TOTALS, zero)
    for name, (net, gross) in by_name.items():
        if name != "total_cost":
            result[name] = new_price(net, gross)
    result["total_cost"] = new_price(total.net, total.net + total.vat)
    result["vat_breakdown"] = total.subtotals
    return total, result


_TOTAL_OF = {
    FLAT: "total_fixed_cost",
    ENERGY: "total_energy_cost",
    TIME: "total_time_cost",
    PARKING_TIME: "total_parking_cost",
    RESERVATION_FLAT: "total_reservation_cost",
    RESERVATION_TIME: "total_reservation_cost",
    MIN_PRICE: "total_cost",
    MAX_PRICE: "total_cost",
}
_TOTALS = tuple(dict.fromkeys(_TOTAL_OF.values()))
_ZERO_PRICES: dict[str, Price] = {}
