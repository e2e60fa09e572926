"""min_price / max_price (OCPI 2.2.1 Tariffs module, Tariff.min_price and Tariff.max_price).

"When the cost of a session is lower than this amount, this amount is billed" (min_price), and
likewise above max_price. Both bounds hold on the total excl. VAT and, when the bound gives one,
on the total incl. VAT, min_price first, then max_price (which wins when they conflict). The total
incl. VAT is the document's: net plus the VAT computed per rate (EN 16931 BR-CO-17,
`billing_app.money.vat_breakdown`). A bound therefore moves the net, never the VAT alone: the
adjustment is a net amount taxed at the session's rates, and when a bound incl. VAT is stricter
than its excl. VAT figure at those rates (or given alone), the net moves by whole minor units just
as far as the incl. VAT bound needs: the least net that reaches a minimum, the most that stays
within a maximum. With consistent bounds (incl. = excl. x (1 + rate)) both are met exactly.

VAT rate of the adjustment: the rate of the session's priced lines when they share one. With
mixed rates the adjustment is shared out over the rates in proportion to each rate's net amount
(whole minor units, largest remainder: `billing_app.money.share_out`), one adjustment line per
rate, as a discount or surcharge on a mixed-rate supply is apportioned. When the session's lines
have no net amount to share by (nothing priced, e.g. a minimum on a session that matched no
element), the adjustment takes the one rate of the lines or else of the tariff's price components,
and with several the highest of them (VAT is never understated); no rate at all means no VAT.

The adjustment lines (dimension MIN_PRICE or MAX_PRICE) only count towards `total_cost`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from billing_app.money import VatBreakdown, minor_unit, quantize_money, share_out, vat_amount, vat_breakdown

from .types import MAX_PRICE, MIN_PRICE, ZERO, CostLine, Price, Tariff, new_line

Rate = Decimal | None


def price_bound_lines(tariff: Tariff, lines: Sequence[CostLine], currency: str,
                      base: VatBreakdown | None = None) -> list[CostLine]:  # fmt: skip
    """The min_price/max_price adjustment, one line per VAT rate; none when no bound applies.
    `base`: the lines' `vat_breakdown` when the caller has it already."""
    low, high = tariff.min_price, tariff.max_price
    if low is None and high is None:
        return []
    if base is None:
        base = vat_breakdown([(line.vat_rate, line.amount_excl_vat) for line in lines], currency)
    net = base.net
    if _within(low, high, net, base.gross, currency):
        return []
    pairs = [(line.vat_rate, line.amount_excl_vat) for line in lines]
    unit = minor_unit(currency)
    weights: list[tuple[Rate, Decimal]] = []

    def gross(target: Decimal) -> Decimal:
        if target == net:
            return base.gross
        if not weights:
            weights.extend(_weights(tariff, lines))
        return vat_breakdown(pairs + _shares(target - net, weights, currency), currency).gross

    target = net
    if tariff.min_price is not None:
        target = max(target, quantize_money(tariff.min_price.excl_vat, currency))
        if tariff.min_price.incl_vat is not None:
            target = _least_reaching(gross, target, quantize_money(tariff.min_price.incl_vat, currency), unit)
    if tariff.max_price is not None:
        target = min(target, quantize_money(tariff.max_price.excl_vat, currency))
        if tariff.max_price.incl_vat is not None:
            target = _most_within(gross, target, quantize_money(tariff.max_price.incl_vat, currency), unit)
    if target == net:
        return []
    kind = MIN_PRICE if target > net else MAX_PRICE
    weights = weights or _weights(tariff, lines)
    return [_adjustment(kind, rate, amount, currency) for rate, amount in _shares(target - net, weights, currency)]


def _within(low: Price | None, high: Price | None, net: Decimal, gross: Decimal, currency: str) -> bool:
    """Whether the session's net and gross already meet both bounds (then no bound applies)."""
    if low is not None and (net < quantize_money(low.excl_vat, currency) or (
            low.incl_vat is not None and gross < quantize_money(low.incl_vat, currency))):  # fmt: skip
        return False
    return high is None or not (net > quantize_money(high.excl_vat, currency) or (
        high.incl_vat is not None and gross > quantize_money(high.incl_vat, currency)))  # fmt: skip


def _weights(tariff: Tariff, lines: Sequence[CostLine]) -> list[tuple[Rate, Decimal]]:
    """(rate, weight) to share an adjustment by: each rate's net amount, rates ascending, "no VAT"
    last; or the single fallback rate of the module docstring."""
    sums: dict[Rate, Decimal] = {}
    for line in lines:
        sums[line.vat_rate] = sums.get(line.vat_rate, ZERO) + abs(line.amount_excl_vat)
    if any(sums.values()):
        return sorted(sums.items(), key=lambda item: (item[0] is None, item[0] or 0))
    rates = set(sums) or {c.vat for element in tariff.elements for c in element.price_components}
    taxed = [rate for rate in rates if rate is not None]
    return [(max(taxed) if taxed else None, Decimal(1))]


def _shares(delta: Decimal, weights: list[tuple[Rate, Decimal]], currency: str) -> list[tuple[Rate, Decimal]]:
    parts = share_out(delta, [weight for _, weight in weights], currency)
    return [(rate, part) for (rate, _), part in zip(weights, parts, strict=True) if part]


def _least_reaching(gross: Callable[[Decimal], Decimal], start: Decimal, bound: Decimal, unit: Decimal) -> Decimal:
    """The least net >= start whose gross reaches `bound` (start itself when it does)."""
    reached = gross(start)
    if reached >= bound:
        return start
    ratio = reached / start if start > 0 else Decimal(1)
    target = max(start, (bound / max(ratio, Decimal(1))).quantize(unit, rounding=ROUND_CEILING))
    while gross(target) < bound:
        target += unit
    while target - unit >= start and gross(target - unit) >= bound:
        target -= unit
    return target


def _most_within(gross: Callable[[Decimal], Decimal], start: Decimal, bound: Decimal, unit: Decimal) -> Decimal:
    """The greatest net <= start whose gross stays within `bound` (start itself when it does)."""
    reached = gross(start)
    if reached <= bound:
        return start
    ratio = reached / start if start > 0 else Decimal(1)
    target = min(start, (bound / max(ratio, Decimal(1))).quantize(unit, rounding=ROUND_FLOOR))
    while target > 0 and gross(target) > bound:
        target -= unit
    while target + unit <= start and gross(target + unit) <= bound:
        target += unit
    return target


def _adjustment(kind: str, rate: Rate, amount: Decimal, currency: str) -> CostLine:
    vat = ZERO if rate is None else vat_amount(amount, rate, currency)
    return new_line(kind, None, None, (), None, _ONE, _ONE, amount, rate, amount, vat, amount + vat)


_ONE = Decimal(1)
