"""Money: minor units, rounding, VAT and Stripe's integer amounts, in one place (DESIGN.md "Money").

Rules:

* Amounts are `Decimal` (or an exact `Fraction` inside the pricing engine), never float.
* A currency's minor unit comes from Babel's CLDR currency data (`get_currency_precision`):
  EUR 0.01, JPY 1, KWD and BHD 0.001. CLDR follows ISO 4217 for the currencies we bill in; where
  it departs from it (HUF, IDR, COP, IQD and a dozen more are whole units in CLDR) CLDR wins.
* A currency is known when CLDR records it as used in some territory, now or in the past;
  ISO 4217's X codes that are legal tender nowhere (gold, SDR, XTS for testing, XXX for "no
  currency") are not money. Anything else raises `UnknownCurrencyError`.
* Rounding is to the minor unit, ROUND_HALF_UP (ties away from zero), once per amount.
* VAT is computed per rate on the document (EN 16931 BR-CO-17): `vat_breakdown` sums each rate's
  rounded net lines, computes that rate's VAT once and rounds it once; the gross total is net + those
  VAT amounts. Every document, CDR and explanation takes its VAT from it.
* Stripe takes integer amounts in its own minor unit, which is not always ISO's or CLDR's: see
  `to_minor_units`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from babel.core import get_global
from babel.numbers import format_currency, format_decimal, get_currency_precision

from evbilling.languages import babel_locale
from evbilling.records import positional_constructor


class UnknownCurrencyError(ValueError):
    """A currency code Babel's currency data does not know as money."""


def _known_currencies() -> frozenset[str]:
    used: dict[str, bool] = {}
    for uses in get_global("territory_currencies").values():
        for code, _start, _end, tender in uses:
            used[code] = used.get(code, False) or tender
    return frozenset(code for code, tender in used.items() if tender or not code.startswith("X"))


# Currency code -> digits after the decimal point of its minor unit (EUR 2, JPY 0, KWD 3).
MINOR_UNITS: Final = MappingProxyType({code: get_currency_precision(code) for code in sorted(_known_currencies())})

_QUANTA: Final = {code: Decimal(1).scaleb(-digits) for code, digits in MINOR_UNITS.items()}
_HUNDRED: Final = Decimal(100)
_ZERO: Final = Decimal(0)
_ZEROS: Final = {code: _ZERO.quantize(quantum) for code, quantum in _QUANTA.items()}

# Stripe's exponents (https://docs.stripe.com/currencies#zero-decimal, #three-decimal); every
# other currency is two-decimal at Stripe, ISK included (1 krona is 100 there).
_STRIPE_ZERO_DECIMAL: Final = frozenset(
    ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF")
)
_STRIPE_THREE_DECIMAL: Final = frozenset(("BHD", "JOD", "KWD", "OMR", "TND"))


def _unknown(currency: str) -> UnknownCurrencyError:
    return UnknownCurrencyError(f"unknown currency {currency!r}")


def minor_unit(currency: str) -> Decimal:
    """The currency's smallest amount: Decimal('0.01') for EUR, Decimal('1') for JPY,
    Decimal('0.001') for KWD."""
    try:
        return _QUANTA[currency]
    except KeyError:
        raise _unknown(currency) from None


def quantize_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """Round an amount to the currency's minor unit, ROUND_HALF_UP (ties away from zero).

    The one money rounding in the project. The result has the minor unit's exponent
    (Decimal('5.10'), not Decimal('5.1')). A `Fraction` (an exact intermediate of the pricing
    engine's period split) is rounded exactly, without an intermediate decimal approximation;
    a Decimal is rounded as it stands. Raises `UnknownCurrencyError` for a currency Babel does
    not know, whatever the amount.
    """
    try:
        quantum = _QUANTA[currency]
    except KeyError:
        raise _unknown(currency) from None
    if type(amount) is Fraction:
        digits = MINOR_UNITS[currency]
        scaled = abs(amount) * 10**digits
        units, remainder = divmod(scaled.numerator, scaled.denominator)
        if 2 * remainder >= scaled.denominator:
            units += 1
        return Decimal(-units if amount < 0 else units).scaleb(-digits).quantize(quantum)
    return amount.quantize(quantum, ROUND_HALF_UP)  # (positional: keywords cost the pricing engine 1/3 more)


def vat_amount(net: Decimal, vat_percent: Decimal, currency: str) -> Decimal:
    """VAT on a net amount: net x rate / 100 at full precision, rounded once to the minor unit
    (ROUND_HALF_UP). Pass the already rounded net amount: VAT is computed on the rounded line,
    or per rate on the sum of a document's rounded lines (EN 16931 BR-CO-17)."""
    return quantize_money(net * vat_percent / _HUNDRED, currency)


def line_amounts(
    amount: Decimal | Fraction, vat_percent: Decimal | None, currency: str
) -> tuple[Decimal, Decimal, Decimal]:
    """A priced line: (its amount rounded once, as `quantize_money` does; the line's own VAT on that rounded
    amount, as `vat_amount` does, zero without a rate; their sum). A line's VAT is information: a document
    takes its VAT per rate from `vat_breakdown`. (One call for the pricing engine's lines.)"""
    try:
        quantum = _QUANTA[currency]
    except KeyError:
        raise _unknown(currency) from None
    excl = amount.quantize(quantum, ROUND_HALF_UP) if type(amount) is Decimal else quantize_money(amount, currency)
    vat = _ZERO if vat_percent is None else (excl * vat_percent / _HUNDRED).quantize(quantum, ROUND_HALF_UP)
    return excl, vat, excl + vat


def share_out(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split `amount` over `weights` in proportion, in whole minor units, the parts summing exactly
    to `amount` (largest remainder; ties to the earlier part). Zero weights get nothing unless all
    weights are zero (then equal parts)."""
    if not weights:
        return []
    quantum = minor_unit(currency)
    unit = quantum.as_tuple().exponent
    signed_units = int((amount / quantum).to_integral_value())
    sign, total_units = (-1 if signed_units < 0 else 1), abs(signed_units)
    total_weight = sum(weights, Decimal(0))
    if total_weight == 0:
        weights = [Decimal(1)] * len(weights)
        total_weight = Decimal(len(weights))
    exact = [Decimal(total_units) * w / total_weight for w in weights]
    floors = [int(e.to_integral_value(rounding="ROUND_FLOOR")) for e in exact]
    left = total_units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [quantize_money(Decimal(sign * units).scaleb(unit), currency) for units in floors]


def vat_of_gross(gross: Decimal, vat_percent: Decimal | None, currency: str) -> tuple[Decimal, Decimal]:
    """(net, VAT) of an amount incl. VAT at one rate, computed once: the net is gross / (1 + rate)
    rounded to the minor unit, the VAT the rest. When some net amount N has N + `vat_amount(N)` equal
    to `gross`, this is it (so its VAT is rate x net rounded once, BR-CO-17); for a gross amount no
    net reaches (19 %: 0.03), the VAT is one minor unit from rate x net. No rate: all of it is net."""
    if vat_percent is None:
        return gross, quantize_money(Decimal(0), currency)
    net = quantize_money(gross * _HUNDRED / (_HUNDRED + vat_percent), currency)
    return net, quantize_money(gross - net, currency)


def _stripe_exponent(currency: str) -> int:
    if currency in _STRIPE_ZERO_DECIMAL:
        return 0
    if currency in _STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """The one conversion to Stripe's integer amounts: cents for EUR, yen for JPY, fils for KWD.

    The amount is rounded to the currency's minor unit first (`quantize_money`, ROUND_HALF_UP),
    then scaled by Stripe's exponent for the currency, which follows Stripe's own lists rather
    than ISO 4217: zero-decimal currencies (JPY, KRW, MGA, ...) x1, three-decimal (BHD, JOD,
    KWD, OMR, TND) x1000, every other currency x100 (ISK too: Stripe keeps it two-decimal and
    wants whole kronur, which CLDR's minor unit for ISK gives). Floats are refused. Raises
    ValueError when the rounded amount has digits Stripe cannot carry (a four-decimal unit such
    as CLF). Stripe's extra rule that three-decimal amounts end in 0 is not applied here.
    """
    if not isinstance(amount, Decimal):
        raise TypeError("Money amounts are Decimal.")
    scaled = quantize_money(amount, currency).scaleb(_stripe_exponent(currency))
    units = int(scaled)
    if units != scaled:
        raise ValueError(f"{amount} {currency} has a smaller unit than Stripe's amounts carry")
    return units


def from_minor_units(units: int, currency: str) -> Decimal:
    """Stripe's integer amount back to a Decimal in the currency, at its minor unit
    (1235 EUR -> Decimal('12.35'), 500 JPY -> Decimal('500')); the inverse of `to_minor_units`
    for the amounts it produces."""
    return quantize_money(Decimal(units).scaleb(-_stripe_exponent(currency)), currency)


@dataclass(frozen=True, slots=True)
class VatSubtotal:
    """One VAT rate of a document (EN 16931 BG-23 "VAT breakdown"): the rate in percent (None: no
    VAT applies, which is not the same as 0 %), the taxable amount (the sum of that rate's net
    lines, BT-116) and the VAT on it (BT-117), computed once and rounded once."""

    rate: Decimal | None
    taxable_amount: Decimal
    vat_amount: Decimal

    @property
    def gross_amount(self) -> Decimal:
        return self.taxable_amount + self.vat_amount


@dataclass(frozen=True, slots=True)
class VatBreakdown:
    """The VAT of a document, per rate (rates ascending, "no VAT" last), and its totals:
    `net` is the sum of the net lines, `vat` the sum of the per-rate VAT amounts, `gross` net + vat."""

    currency: str
    subtotals: tuple[VatSubtotal, ...]
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


_new_subtotal = positional_constructor(VatSubtotal)
_new_vat_breakdown = positional_constructor(VatBreakdown)


def _plain_rate(rate: Decimal) -> Decimal:
    """19.000 -> 19, 20.0 -> 20 (not 2E+1), 5.50 -> 5.5."""
    if rate:  # (-0 and 0 are one key but two results: not kept)
        plain = _PLAIN_RATES.get(rate)
        if plain is not None:
            return plain
    plain = rate.normalize()
    plain = plain.quantize(Decimal(1)) if plain.as_tuple().exponent > 0 else plain
    if rate and len(_PLAIN_RATES) < 256:
        _PLAIN_RATES[rate] = plain
    return plain


_PLAIN_RATES: dict[Decimal, Decimal] = {}


def vat_breakdown(lines: Iterable[tuple[Decimal | None, Decimal]], currency: str) -> VatBreakdown:
    """The one VAT computation of a document (EN 16931 BR-CO-17; DESIGN.md "Money").

    `lines` are (VAT rate in percent or None, net amount) pairs, each net amount already rounded to
    the currency's minor unit (negative for discounts and credits). For each rate, the VAT is
    computed once on the sum of that rate's net amounts and rounded once (`vat_amount`,
    ROUND_HALF_UP); the document's VAT is the sum of those, and its gross total net + VAT. VAT per
    line, where a document shows it, is information only: it may differ from the rate's VAT by up
    to half a minor unit per line. Rates are compared as numbers (19 == 19.000). Raises ValueError
    for a net amount finer than the minor unit, `UnknownCurrencyError` for an unknown currency.
    """
    quantum, zero = _currency_constants(currency)
    taxable: dict[Decimal | None, Decimal] = {}  # Decimal keys compare as numbers: 19 and 19.000 are one rate
    for rate, net in lines:
        taxable[rate] = taxable.get(rate, zero) + _checked(net, quantum, currency)
    return _per_rate(taxable, currency, quantum, zero)


def vat_breakdown_by(
    lines: Iterable[tuple[object, Decimal | None, Decimal]], currency: str, *, rounded: bool = False
) -> tuple[VatBreakdown, dict[object, tuple[Decimal, Decimal]]]:
    """`vat_breakdown` of all the lines and, in the same pass, (net, gross) of each group's lines by the
    same rule (VAT per rate on the sum of the group's lines of that rate, rounded once): `lines` are
    (group, VAT rate, net amount); a line of group None counts towards the document only. The pricing
    engine's CDR totals: the session's breakdown and one total per dimension. `rounded=True`: the nets
    come from `quantize_money` or `line_amounts` already (the engine's lines) and are not checked again."""
    quantum, zero = _currency_constants(currency)
    if type(lines) is not list:
        lines = list(lines)
    rates = {rate for _, rate, _ in lines}
    if len(rates) == 1:  # one rate (the usual session): each group's sum, the document's the sum of those
        (rate,) = rates
        nets: dict[object, Decimal] = {}
        for group, _, net in lines:
            if not rounded:
                net = _checked(net, quantum, currency)
            nets[group] = nets.get(group, zero) + net
        total = zero
        by_group: dict[object, tuple[Decimal, Decimal]] = {}
        for group, amount in nets.items():
            total += amount  # (exact: rounded amounts, so in any order)
            if group is not None:
                by_group[group] = (amount, amount if rate is None else
                                   amount + (amount * rate / _HUNDRED).quantize(quantum, ROUND_HALF_UP))  # fmt: skip
        return _per_rate({rate: total}, currency, quantum, zero), by_group
    taxable: dict[tuple[object, Decimal | None], Decimal] = {}
    for group, rate, net in lines:
        if not rounded:
            net = _checked(net, quantum, currency)
        key = (group, rate)
        taxable[key] = taxable.get(key, zero) + net  # (sums of amounts with the minor unit's exponent)
    per_rate: dict[Decimal | None, Decimal] = {}
    totals: dict[object, tuple[Decimal, Decimal]] = {}
    for (group, rate), amount in taxable.items():
        per_rate[rate] = per_rate.get(rate, zero) + amount  # (exact: rounded amounts, so in any order)
        if group is not None:
            net, vat = totals.get(group, (zero, zero))
            if rate is not None:
                vat += (amount * rate / _HUNDRED).quantize(quantum, ROUND_HALF_UP)  # (vat_amount, inlined)
            totals[group] = (net + amount, vat)
    by_group = {group: (net, net + vat) for group, (net, vat) in totals.items()}
    return _per_rate(per_rate, currency, quantum, zero), by_group


def _currency_constants(currency: str) -> tuple[Decimal, Decimal]:
    try:
        return _QUANTA[currency], _ZEROS[currency]
    except KeyError:
        raise _unknown(currency) from None


def _checked(net: Decimal, quantum: Decimal, currency: str) -> Decimal:
    """A net amount with the minor unit's exponent (5 -> 5.00); ValueError when finer than the minor unit."""
    rounded = net.quantize(quantum, ROUND_HALF_UP)
    if rounded != net:
        raise _not_rounded(net, currency)
    return rounded


def _not_rounded(net: Decimal, currency: str) -> ValueError:
    return ValueError(f"net amount {net} {currency} is not rounded to the minor unit")


def _per_rate(taxable: dict[Decimal | None, Decimal], currency: str, quantum: Decimal, zero: Decimal) -> VatBreakdown:
    """The breakdown of each rate's net sum: VAT computed once per rate and rounded once (`vat_amount`)."""
    subtotals = []
    net = vat = zero
    for rate, amount in sorted(taxable.items(), key=_rate_order) if len(taxable) > 1 else taxable.items():
        amount = amount.quantize(quantum)
        if rate is None:
            subtotals.append(_new_subtotal(None, amount, zero))
        else:
            tax = (amount * rate / _HUNDRED).quantize(quantum, ROUND_HALF_UP)  # (vat_amount, inlined)
            subtotals.append(_new_subtotal(_plain_rate(Decimal(rate)), amount, tax))
            vat += tax
        net += amount
    return _new_vat_breakdown(currency, tuple(subtotals), net, vat)


def _rate_order(item: tuple[Decimal | None, Decimal]) -> tuple[bool, Decimal]:
    return (item[0] is None, item[0] or _ZERO)


# --- Display: the one path from an amount or a quantity to text (HTML, PDF, e-mail) -------------------
# Babel formats in the active language's locale (evbilling.languages): `16,69 €` in German, `€16.69` in
# English. CSV exports write plain machine values (`16.69`) and never come here.

_RATE_DIGITS: Final = 4
NOTHING: Final = "\u2013"  # shown for a missing amount, quantity or time (an en dash)


def format_money(amount: Decimal | None, currency: str, *, locale: str | None = None) -> str:
    """An amount rounded to the currency's minor unit, in the reader's locale: `€16.69`, `16,69 €`."""
    if amount is None:
        return NOTHING
    return format_currency(quantize_money(Decimal(amount), currency), currency, locale=locale or babel_locale())


def format_rate(amount: Decimal | None, currency: str, *, locale: str | None = None) -> str:
    """A unit price (per kWh, per hour): at least the currency's digits, at most four, nothing lost that the
    tariff states (`€0.395`, `€6.00`)."""
    if amount is None:
        return NOTHING
    digits = max(_RATE_DIGITS, MINOR_UNITS.get(currency, 2))
    value = Decimal(amount).quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP).normalize()
    return format_currency(value, currency, locale=locale or babel_locale(), decimal_quantization=False)


def format_quantity(value: Decimal | float | int | None, digits: int = 3, *, locale: str | None = None) -> str:
    """A measured quantity with exactly `digits` decimals (ROUND_HALF_UP), grouped in the reader's locale:
    `1,234.567`, `1.234,567`."""
    if value is None:
        return NOTHING
    quantum = Decimal(1).scaleb(-digits)
    rounded = Decimal(str(value)).quantize(quantum, ROUND_HALF_UP)
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return format_decimal(rounded, format=pattern, locale=locale or babel_locale(), decimal_quantization=False)


def format_percent(rate: Decimal | float | int | None, *, locale: str | None = None) -> str:
    """A percentage as the tariff states it, without trailing zeros: `19 %`, `7,5 %`."""
    if rate is None:
        return NOTHING
    number = format_decimal(Decimal(str(rate)).normalize(), format="#,##0.##", locale=locale or babel_locale())
    return f"{number}\u00a0%"


def format_hours(hours: Decimal | float | int | timedelta | None) -> str:
    """A duration (in hours, or a timedelta) as hours and minutes (`1 h 05 min`, `12 min`, `20 s`), never
    `0.0033 h`."""
    if hours is None:
        return NOTHING
    if isinstance(hours, timedelta):
        hours = Decimal(str(hours.total_seconds())) / 3600
    seconds = int((Decimal(str(hours)) * 3600).to_integral_value(ROUND_HALF_UP))
    if seconds < 60:
        return f"{seconds} s"
    minutes = (seconds + 30) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def money_format(amount: Decimal, currency: str, *, locale: str = "en_GB") -> str:
    """An amount as a reader of `locale` writes it ('16,69 €' in de_DE, '€16.69' in en_GB): `format_money`
    with an explicit locale (pages whose reader is the charger's country, not the signed-in language)."""
    return format_money(amount, currency, locale=locale)


def rate_format(amount: Decimal, currency: str, *, locale: str = "en_GB") -> str:
    """A unit price in an explicit locale ('€0.39' for 0.390000, '€0.0125' for 0.012500): `format_rate`."""
    return format_rate(amount, currency, locale=locale)
