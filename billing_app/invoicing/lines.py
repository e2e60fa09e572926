"""Invoice lines from a session's pricing breakdown, and the sums an invoice shows.

Money rule (DESIGN.md): every line is rounded once to the currency's minor unit by
`money.quantize_money`; the net total is the plain sum of the rounded lines. VAT is per rate on the
document (EN 16931 BR-CO-17): `document_vat` (that is `money.vat_breakdown`) computes each rate's VAT
once on the sum of its lines and rounds it once, and the total incl. VAT is net + those amounts. A
line's own VAT and gross amount are kept as information. Breakdown lines arrive already rounded by
the engine; quantizing them again changes nothing and guards the invariant for extra lines (plan
fees, discounts) that come from elsewhere.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from billing_app import pricing
from billing_app.money import VatBreakdown, quantize_money, share_out, vat_amount, vat_breakdown

_HUNDRED = Decimal(100)
_QUANTITY = Decimal("0.0001")

LABELS = {
    pricing.ENERGY: ("Energy", "kWh"),
    pricing.TIME: ("Charging time", "h"),
    pricing.PARKING_TIME: ("Parking / idle time", "h"),
    pricing.FLAT: ("Session fee", "session"),
    pricing.RESERVATION_FLAT: ("Reservation fee", "reservation"),
    pricing.RESERVATION_TIME: ("Reservation time", "h"),
    pricing.MIN_PRICE: ("Minimum price adjustment", "session"),
    pricing.MAX_PRICE: ("Maximum price cap", "session"),
}
ADJUSTMENTS = (pricing.MIN_PRICE, pricing.MAX_PRICE)
_LEGACY_UNRATED = (*ADJUSTMENTS, "PLAN_FLOOR")


@dataclass(frozen=True, slots=True, kw_only=True)
class LineIn:
    """A rounded invoice line before it is stored; `session_id`, `session_charge_id` and
    `source_index` trace it back to the pricing breakdown."""

    kind: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    vat_rate: Decimal | None
    amount_excl_vat: Decimal
    vat_amount: Decimal
    session_id: int | None = None
    session_charge_id: int | None = None
    source_index: int | None = None

    @property
    def amount_incl_vat(self) -> Decimal:
        return self.amount_excl_vat + self.vat_amount


def line_priced(*, kind: str, description: str, quantity: Decimal, unit: str, unit_price: Decimal,
                vat_rate: Decimal | None, currency: str) -> LineIn:
    """A line priced here (plan fees, discounts: negative unit price): quantity x unit price rounded
    once; its own VAT (information) on the rounded amount, rounded once."""
    excl = quantize_money(quantity * unit_price, currency)
    vat = vat_amount(excl, vat_rate if vat_rate is not None else Decimal(0), currency)
    return LineIn(kind=kind, description=description, quantity=quantity, unit=unit, unit_price=unit_price,
                  vat_rate=vat_rate, amount_excl_vat=excl, vat_amount=vat)


def lines_from_breakdown(breakdown: dict, *, currency: str, session_id: int | None = None,
                         session_charge_id: int | None = None) -> list[LineIn]:
    """One invoice line per breakdown line, in the engine's order; net amounts exactly the engine's, so
    a receipt's totals are the session charge's to the cent (both take VAT per rate on the same lines).

    The engine gives every line its VAT rate, min/max price adjustments included (one line per rate).
    A breakdown stored before VAT per rate (no "vat_breakdown" key) has adjustments and plan floors
    without a rate: each takes the rate of the session's other lines, or is shared out over their
    rates in proportion to their amounts when they have several (see `_adjustment_lines`)."""
    legacy = "vat_breakdown" not in breakdown
    raws = breakdown.get("lines", [])
    split = {kind for kind in ADJUSTMENTS if sum(raw["dimension"] == kind for raw in raws) > 1}
    lines: list[LineIn] = []
    adjustments: list[LineIn] = []
    for index, raw in enumerate(raws):
        kind = raw["dimension"]
        label, unit = LABELS.get(kind, (kind.replace("_", " ").capitalize(), "unit"))
        vat_rate = None if raw.get("vat_rate") is None else Decimal(raw["vat_rate"])
        if kind in split:
            label = f"{label} ({rate_label(vat_rate)})"
        line = LineIn(
            kind=kind, description=label,
            quantity=Decimal(raw["billed_quantity"]).quantize(_QUANTITY, rounding=ROUND_HALF_UP),
            unit=unit, unit_price=Decimal(raw["unit_price"]), vat_rate=vat_rate,
            amount_excl_vat=quantize_money(Decimal(raw["amount_excl_vat"]), currency),
            vat_amount=quantize_money(Decimal(raw["vat_amount"]), currency),
            session_id=session_id, session_charge_id=session_charge_id, source_index=index,
        )
        (adjustments if legacy and kind in _LEGACY_UNRATED and vat_rate is None else lines).append(line)
    for adjustment in adjustments:
        lines.extend(_adjustment_lines(adjustment, lines, currency))
    return lines


def _adjustment_lines(adjustment: LineIn, others: Sequence[LineIn], currency: str) -> list[LineIn]:
    rates: dict[Decimal | None, Decimal] = {}
    for line in others:
        rates[line.vat_rate] = rates.get(line.vat_rate, Decimal(0)) + abs(line.amount_excl_vat)
    if not rates:
        rate = None if not adjustment.vat_amount else _implied_rate(adjustment)
        return [replace(adjustment, vat_rate=rate)]
    if len(rates) == 1:
        return [replace(adjustment, vat_rate=next(iter(rates)))]
    ordered = sorted(rates.items(), key=lambda item: (item[0] is None, item[0] or 0))
    weights = [weight for _, weight in ordered]
    excl = share_out(adjustment.amount_excl_vat, weights, currency)
    vat = share_out(adjustment.vat_amount, weights, currency)
    return [replace(adjustment, vat_rate=rate, unit_price=part_excl, amount_excl_vat=part_excl, vat_amount=part_vat,
                    description=f"{adjustment.description} ({rate_label(rate)})")
            for (rate, _), part_excl, part_vat in zip(ordered, excl, vat, strict=True)]


def _implied_rate(line: LineIn) -> Decimal | None:
    if not line.amount_excl_vat:
        return None
    return (line.vat_amount * _HUNDRED / line.amount_excl_vat).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def rate_label(rate: Decimal | None) -> str:
    return "no VAT" if rate is None else f"VAT {rate.normalize():f} %"


def document_vat(lines: Iterable, currency: str) -> VatBreakdown:
    """The document's VAT per rate and totals (`money.vat_breakdown` over the lines' rates and net amounts)."""
    return vat_breakdown(((line.vat_rate, line.amount_excl_vat) for line in lines), currency)


def totals(lines: Iterable, currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """(excl. VAT, VAT, incl. VAT): net the sum of the rounded lines, VAT per rate (`document_vat`)."""
    vat = document_vat(lines, currency)
    return vat.net, vat.vat, vat.gross


