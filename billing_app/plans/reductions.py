"""What a subscription plan takes off a priced session (pure: no ORM, no I/O).

`plan_apply` adds explicit lines to the engine's breakdown, never edits its lines, so the invoice
shows both the price and what the plan covered:

- PLAN_INCLUDED_ENERGY: the energy covered by the period's included kWh, in line order, at the
  line's unit price (negative).
- PLAN_DISCOUNT_ENERGY / PLAN_DISCOUNT_TIME: the percentage off what remains of each ENERGY / TIME line.
- PLAN_WAIVED_FLAT / PLAN_WAIVED_PARKING: the per-session fee / the idle fee taken off in full.

Each plan line is rounded once with `quantize_money` and carries the VAT rate of the line it reduces
(its own VAT on the rounded amount is information); totals are the engine's (`pricing.lines.cdr_totals`):
net the sum of all lines, VAT per rate on it (EN 16931 BR-CO-17). The plan never makes a session cost
less than zero: should a max-price cap and the plan together take the net below zero, PLAN_FLOOR lines,
one per VAT rate, bring every rate's taxable amount, and so the total and its VAT, back to zero.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from billing_app import pricing
from billing_app.money import quantize_money, vat_amount
from billing_app.pricing import ZERO, CostBreakdown, CostLine
from billing_app.pricing.lines import cdr_totals

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
    _, totals = cdr_totals(lines, currency, _TOTAL_OF)
    if totals["total_cost"].excl_vat < ZERO or totals["total_cost"].incl_vat < ZERO:
        lines += [_floor(subtotal.rate, -subtotal.taxable_amount, currency)
                  for subtotal in totals["vat_breakdown"] if subtotal.taxable_amount]
        _, totals = cdr_totals(lines, currency, _TOTAL_OF)
    return PlanApplied(replace(breakdown, lines=tuple(lines), **totals), used)


def _floor(rate: Decimal | None, amount: Decimal, currency: str) -> CostLine:
    vat = ZERO if rate is None else vat_amount(amount, rate, currency)
    return CostLine(dimension=PLAN_FLOOR, element_index=None, component_index=None, period_indices=(),
                    period_start=None, quantity=Decimal(1), billed_quantity=Decimal(1), unit_price=amount,
                    vat_rate=rate, amount_excl_vat=amount, vat_amount=vat, amount_incl_vat=amount + vat)
