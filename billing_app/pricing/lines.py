"""Lines and totals (OCPI 2.2.1 CDRs module: the CDR's cost totals, each a Price excl./incl. VAT).

Each line (one price component's billed volume x its price) is computed at full precision
(exact rational arithmetic when a split produced a non-terminating fraction) and rounded once
to the currency's minor unit; its VAT is computed on the rounded amount, rounded once
(`billing_app.money`); every CDR total is the sum of its rounded lines.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from billing_app.money import quantize_money, vat_amount

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
    ZERO,
    CostLine,
    Price,
)
from .volumes import SECONDS_PER_HOUR, ComponentVolume, to_decimal

_LINE_ORDER = {FLAT: 0, ENERGY: 1, TIME: 2, PARKING_TIME: 3, RESERVATION_FLAT: 4, RESERVATION_TIME: 5}


def build_lines(acc: dict[Candidate, ComponentVolume], flat, reservation_flat, currency: str) -> list[CostLine]:
    lines = []
    for fee in (flat, reservation_flat):
        if fee is not None:
            cand, period, moment = fee
            lines.append(_line(cand, (period,), moment, Decimal(1), Decimal(1), cand.price, currency))
    for raw in acc.values():
        cand = raw.cand
        billed = raw.billed
        if cand.dimension == ENERGY:
            quantity, shown = to_decimal(raw.quantity), to_decimal(billed)
            amount = billed * cand.price if type(billed) is Decimal else billed * Fraction(cand.price)
        else:
            quantity = to_decimal(raw.quantity)
            shown = to_decimal(billed) / SECONDS_PER_HOUR
            if type(billed) is Decimal:
                amount = billed * cand.price / SECONDS_PER_HOUR
            else:
                amount = billed * Fraction(cand.price) / 3600
        lines.append(_line(cand, tuple(raw.periods), raw.start, quantity, shown, amount, currency))
    lines.sort(key=lambda line: (_LINE_ORDER[line.dimension], line.period_indices[0]))
    return lines


def _line(cand: Candidate, periods: tuple[int, ...], start: datetime, quantity: Decimal, billed: Decimal,
          amount: Decimal | Fraction, currency: str) -> CostLine:  # fmt: skip
    """One line: the amount rounded once, VAT computed on the rounded amount."""
    excl = quantize_money(amount, currency)
    vat = ZERO if cand.vat is None else vat_amount(excl, cand.vat, currency)
    return CostLine(
        dimension=cand.dimension,
        element_index=cand.element_index,
        component_index=cand.component_index,
        period_indices=periods,
        period_start=start,
        quantity=quantity,
        billed_quantity=billed,
        unit_price=cand.price,
        vat_rate=cand.vat,
        amount_excl_vat=excl,
        vat_amount=vat,
        amount_incl_vat=excl + vat,
    )


def cdr_totals(lines: list[CostLine], currency: str) -> dict[str, Price]:
    """Sum of rounded lines per CDR total."""
    zero = quantize_money(ZERO, currency)
    sums = {name: [zero, zero] for name in _TOTAL_OF.values()}
    for line in lines:
        for name in {_TOTAL_OF[line.dimension], "total_cost"}:
            sums[name][0] += line.amount_excl_vat
            sums[name][1] += line.amount_incl_vat
    return {name: Price(excl, incl) for name, (excl, incl) in sums.items()}


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
