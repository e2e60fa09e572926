"""What a subscription plan takes off a priced session (pure: no ORM, no I/O).

`plan_apply` adds explicit lines to the engine's breakdown, never edits its lines, so the invoice
shows both the price and what the plan covered:

- PLAN_INCLUDED_ENERGY: the energy covered by the period's included kWh, in line order, at the
  line's unit price (negative).
- PLAN_DISCOUNT_ENERGY / PLAN_DISCOUNT_TIME: the percentage off what remains of each ENERGY / TIME line.
- PLAN_WAIVED_FLAT / PLAN_WAIVED_PARKING: the per-session fee / the idle fee taken off in full.

Each plan line is rounded once with `quantize_money`, carries the VAT rate of the line it reduces
(VAT computed on the rounded amount), and totals are the sum of all lines. The plan never makes a
session cost less than zero: should a max-price cap and the plan together go below zero, a
PLAN_FLOOR line brings the total back to zero.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from billing_app import pricing
from billing_app.money import quantize_money, vat_amount
from billing_app.pricing import ZERO, CostBreakdown, CostLine, Price

PLAN_INCLUDED_ENERGY = "PLAN_INCLUDED_ENERGY"
PLAN_DISCOUNT_ENERGY = "PLAN_DISCOUNT_ENERGY"
PLAN_DISCOUNT_TIME = "PLAN_DISCOUNT_TIME"
PLAN_WAIVED_FLAT = "PLAN_WAIVED_FLAT"
PLAN_WAIVED_PARKING = "PLAN_WAIVED_PARKING"
PLAN_FLOOR = "PLAN_FLOOR"

_TOTAL_OF = {
    pricing.FLAT: "total_fixed_cost", PLAN_WAIVED_FLAT: "total_fixed_cost",
    pricing.ENERGY: "total_energy_cost", PLAN_INCLUDED_ENERGY: "total_energy_cost",
    PLAN_DISCOUNT_ENERGY: "total_energy_cost",
    pricing.TIME: "total_time_cost", PLAN_DISCOUNT_TIME: "total_time_cost",
    pricing.PARKING_TIME: "total_parking_cost", PLAN_WAIVED_PARKING: "total_parking_cost",
    pricing.RESERVATION_FLAT: "total_reservation_cost", pricing.RESERVATION_TIME: "total_reservation_cost",
}
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanTerms:
    included_kwh_available: Decimal = ZERO
    energy_discount_percent: Decimal = ZERO
    time_discount_percent: Decimal = ZERO
    waive_flat_fee: bool = False
    waive_parking: bool = False


@dataclass(frozen=True, slots=True)
class PlanApplied:
    breakdown: CostBreakdown
    included_kwh_used: Decimal


def _reduction(source: CostLine, *, dimension: str, quantity: Decimal, unit_price: Decimal,
               amount: Decimal, currency: str) -> CostLine:
    """A negative line against `source`: `amount` (>= 0, full precision) rounded once, VAT at the
    source's rate on the rounded amount."""
    excl = -quantize_money(amount, currency)
    vat = ZERO if source.vat_rate is None else vat_amount(excl, source.vat_rate, currency)
    return CostLine(dimension=dimension, element_index=None, component_index=None,
                    period_indices=source.period_indices, period_start=source.period_start, quantity=quantity,
                    billed_quantity=quantity, unit_price=-unit_price, vat_rate=source.vat_rate,
                    amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=excl + vat)


def plan_apply(breakdown: CostBreakdown, terms: PlanTerms) -> PlanApplied:
    currency = breakdown.currency
    remaining = max(terms.included_kwh_available, ZERO)
    extra: list[CostLine] = []
    for line in breakdown.lines:
        left = line.amount_excl_vat
        if line.dimension == pricing.ENERGY:
            covered = min(remaining, line.billed_quantity)
            if covered > ZERO:
                reduction = _reduction(line, dimension=PLAN_INCLUDED_ENERGY, quantity=covered,
                                       unit_price=line.unit_price, amount=min(covered * line.unit_price, left),
                                       currency=currency)
                remaining -= covered
                left += reduction.amount_excl_vat
                extra.append(reduction)
            if terms.energy_discount_percent and left > ZERO:
                extra.append(_reduction(line, dimension=PLAN_DISCOUNT_ENERGY, quantity=Decimal(1),
                                        unit_price=left * terms.energy_discount_percent / _HUNDRED,
                                        amount=left * terms.energy_discount_percent / _HUNDRED, currency=currency))
        elif line.dimension == pricing.TIME and terms.time_discount_percent and left > ZERO:
            extra.append(_reduction(line, dimension=PLAN_DISCOUNT_TIME, quantity=Decimal(1),
                                    unit_price=left * terms.time_discount_percent / _HUNDRED,
                                    amount=left * terms.time_discount_percent / _HUNDRED, currency=currency))
        elif line.dimension == pricing.FLAT and terms.waive_flat_fee and left > ZERO:
            extra.append(_reduction(line, dimension=PLAN_WAIVED_FLAT, quantity=Decimal(1), unit_price=left,
                                    amount=left, currency=currency))
        elif line.dimension == pricing.PARKING_TIME and terms.waive_parking and left > ZERO:
            extra.append(_reduction(line, dimension=PLAN_WAIVED_PARKING, quantity=line.billed_quantity,
                                    unit_price=line.unit_price, amount=left, currency=currency))
    used = max(terms.included_kwh_available, ZERO) - remaining
    if not extra:
        return PlanApplied(breakdown, used)
    lines = list(breakdown.lines) + extra
    total_excl = sum((line.amount_excl_vat for line in lines), ZERO)
    total_incl = sum((line.amount_incl_vat for line in lines), ZERO)
    if total_excl < ZERO or total_incl < ZERO:
        lines.append(CostLine(dimension=PLAN_FLOOR, element_index=None, component_index=None, period_indices=(),
                              period_start=None, quantity=Decimal(1), billed_quantity=Decimal(1),
                              unit_price=-total_excl, vat_rate=None, amount_excl_vat=-total_excl,
                              vat_amount=total_excl - total_incl, amount_incl_vat=-total_incl))
    return PlanApplied(replace(breakdown, lines=tuple(lines), **_totals(lines, currency)), used)


def _totals(lines: list[CostLine], currency: str) -> dict[str, Price]:
    zero = quantize_money(ZERO, currency)
    sums = {name: [zero, zero] for name in set(_TOTAL_OF.values()) | {"total_cost"}}
    for line in lines:
        for name in {_TOTAL_OF.get(line.dimension, "total_cost"), "total_cost"}:
            sums[name][0] += line.amount_excl_vat
            sums[name][1] += line.amount_incl_vat
    return {name: Price(excl, incl) for name, (excl, incl) in sums.items()}
