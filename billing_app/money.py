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
* Stripe takes integer amounts in its own minor unit, which is not always ISO's or CLDR's: see
  `to_minor_units`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Final

from babel.core import get_global
from babel.numbers import get_currency_precision


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
    return amount.quantize(quantum, rounding=ROUND_HALF_UP)


def vat_amount(net: Decimal, vat_percent: Decimal, currency: str) -> Decimal:
    """VAT on a net amount: net x rate / 100 at full precision, rounded once to the minor unit
    (ROUND_HALF_UP). Pass the already rounded net amount: VAT is computed on the rounded line,
    or per rate on the sum of a document's rounded lines (EN 16931 BR-CO-17)."""
    return quantize_money(net * vat_percent / _HUNDRED, currency)


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


def money_format(amount: Decimal, currency: str, *, locale: str = "en_GB") -> str:
    """An amount as a reader of `locale` writes it ('16,69 €' in de_DE, '€16.69' in en_GB), with the
    currency's own number of decimals; Babel's CLDR data decides symbol, separators and placement."""
    from babel.numbers import format_currency

    return format_currency(amount, currency, locale=locale, currency_digits=True)


def rate_format(amount: Decimal, currency: str, *, locale: str = "en_GB") -> str:
    """A unit price (per kWh, per hour) in the reader's format: the currency's decimals, more where the
    tariff has them, up to 4 ('€0.39' for 0.390000, '€0.0125' for 0.012500)."""
    from babel.numbers import format_currency

    digits = MINOR_UNITS.get(currency, 2)
    exponent = -amount.normalize().as_tuple().exponent
    if exponent <= digits:
        return money_format(amount, currency, locale=locale)
    shown = amount.quantize(Decimal(1).scaleb(-min(4, exponent)), rounding=ROUND_HALF_UP)
    return format_currency(shown, currency, locale=locale, currency_digits=False, decimal_quantization=False)
