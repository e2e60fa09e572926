"""min_price / max_price (OCPI 2.2.1 Tariffs module, Tariff.min_price and Tariff.max_price).

The bounds apply to the total excl. VAT and, when given, to the total incl. VAT; when the incl.
VAT bound is absent, the incl. VAT total moves in proportion to the excl. VAT one (rounded once
to the minor unit). The difference is one explicit line (dimension MIN_PRICE or MAX_PRICE) that
only counts towards `total_cost`.
"""

from __future__ import annotations

from decimal import Decimal

from billing_app.money import quantize_money

from .types import MAX_PRICE, MIN_PRICE, CostLine, Price, Tariff


def price_bound_line(tariff: Tariff, total: Price, currency: str) -> CostLine | None:
    """The min_price/max_price adjustment as one line (see the module docstring)."""
    excl, incl = total.excl_vat, total.incl_vat
    target_excl, target_incl = excl, incl
    for bound, kind in ((tariff.min_price, MIN_PRICE), (tariff.max_price, MAX_PRICE)):
        if bound is None:
            continue
        pick = max if kind == MIN_PRICE else min
        new_excl = pick(target_excl, bound.excl_vat)
        if bound.incl_vat is not None:
            new_incl = pick(target_incl, bound.incl_vat)
        elif new_excl != target_excl:
            new_incl = quantize_money(target_incl * new_excl / target_excl, currency) if target_excl else new_excl
        else:
            new_incl = target_incl
        target_excl, target_incl = quantize_money(new_excl, currency), quantize_money(new_incl, currency)
    if (target_excl, target_incl) == (excl, incl):
        return None
    kind = MIN_PRICE if (target_excl, target_incl) > (excl, incl) else MAX_PRICE
    delta_excl, delta_incl = target_excl - excl, target_incl - incl
    return CostLine(
        dimension=kind,
        element_index=None,
        component_index=None,
        period_indices=(),
        period_start=None,
        quantity=Decimal(1),
        billed_quantity=Decimal(1),
        unit_price=delta_excl,
        vat_rate=None,
        amount_excl_vat=delta_excl,
        vat_amount=delta_incl - delta_excl,
        amount_incl_vat=delta_incl,
    )
