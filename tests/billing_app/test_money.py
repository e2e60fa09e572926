"""The money module: minor units from Babel's currency data, half-up rounding to the minor unit,
VAT rounded once, Stripe's integer amounts (exact cents, yen and fils)."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_app.money import (
    UnknownCurrencyError,
    from_minor_units,
    minor_unit,
    quantize_money,
    to_minor_units,
    vat_amount,
)

D = Decimal
CURRENCIES = ("EUR", "GBP", "JPY", "KWD", "BHD")


@pytest.mark.parametrize(
    ("currency", "unit"),
    [("EUR", D("0.01")), ("GBP", D("0.01")), ("JPY", D("1")), ("KWD", D("0.001")), ("BHD", D("0.001"))],
)
def test_minor_unit_comes_from_the_currency_data(currency: str, unit: Decimal) -> None:
    assert minor_unit(currency) == unit
    assert minor_unit(currency).as_tuple().exponent == unit.as_tuple().exponent


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("2.675"), "EUR", D("2.68")),
        (D("2.665"), "EUR", D("2.67")),
        (D("-2.675"), "EUR", D("-2.68")),
        (D("2.6749999"), "EUR", D("2.67")),
        (D("5"), "EUR", D("5.00")),
        (D("1234.5"), "JPY", D("1235")),
        (D("1233.5"), "JPY", D("1234")),
        (D("1.2345"), "KWD", D("1.235")),
        (D("0.0005"), "BHD", D("0.001")),
        (Fraction(1, 200), "EUR", D("0.01")),
        (Fraction(-1, 200), "EUR", D("-0.01")),
        (Fraction(1, 3), "GBP", D("0.33")),
        (Fraction(2469, 2), "JPY", D("1235")),
    ],
)
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency: str, expected: Decimal) -> None:
    assert quantize_money(amount, currency) == expected
    assert str(quantize_money(amount, currency)) == str(expected)


@pytest.mark.parametrize("currency", ["XXX", "XTS", "XAU", "XYZ", "EURO", "eur", ""])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(UnknownCurrencyError, match="unknown currency"):
        quantize_money(D("1.00"), currency)
    with pytest.raises(UnknownCurrencyError):
        minor_unit(currency)


@pytest.mark.parametrize(
    ("net", "percent", "currency", "expected"),
    [
        (D("12.34"), D("19"), "EUR", D("2.34")),  # 2.3446
        (D("0.25"), D("10"), "EUR", D("0.03")),  # 0.025: a tie, away from zero
        (D("2.50"), D("7.7"), "CHF", D("0.19")),  # 0.1925
        (D("0.13"), D("20"), "GBP", D("0.03")),  # 0.026
        (D("-4.20"), D("19"), "EUR", D("-0.80")),  # a credit: -0.798
        (D("1234"), D("10"), "JPY", D("123")),  # 123.4
        (D("1.235"), D("5"), "KWD", D("0.062")),  # 0.06175
        (D("10.00"), D("0"), "EUR", D("0.00")),
    ],
)
def test_vat_is_computed_on_the_amount_and_rounded_once(net, percent, currency: str, expected: Decimal) -> None:
    assert str(vat_amount(net, percent, currency)) == str(expected)


@pytest.mark.parametrize(
    ("amount", "currency", "units"),
    [
        (D("12.345"), "EUR", 1235),
        (D("0.10"), "EUR", 10),
        (D("49.99"), "GBP", 4999),
        (D("1234.5"), "JPY", 1235),
        (D("1.2345"), "KWD", 1235),
        (D("12.3455"), "BHD", 12346),
        (D("1234.5"), "ISK", 123500),  # Stripe keeps ISK two-decimal, in whole kronur
    ],
)
def test_to_minor_units_rounds_once_then_scales_to_stripes_integer(amount, currency: str, units: int) -> None:
    assert to_minor_units(amount, currency) == units


@pytest.mark.parametrize(
    ("units", "currency", "amount"),
    [(1235, "EUR", "12.35"), (10, "EUR", "0.10"), (500, "JPY", "500"), (1235, "KWD", "1.235"), (123500, "ISK", "1235")],
)
def test_from_minor_units_gives_the_amount_at_the_minor_unit(units: int, currency: str, amount: str) -> None:
    assert str(from_minor_units(units, currency)) == amount


def test_to_minor_units_refuses_floats() -> None:
    with pytest.raises(TypeError):
        to_minor_units(12.3, "EUR")


@given(currency=st.sampled_from(CURRENCIES), units=st.integers(min_value=-(10**12), max_value=10**12))
def test_stripe_units_round_trip(currency: str, units: int) -> None:
    assert to_minor_units(from_minor_units(units, currency), currency) == units


amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=6, allow_nan=False, allow_infinity=False)


@given(currency=st.sampled_from(CURRENCIES), amount=amounts)
def test_amounts_round_trip_through_stripe_at_the_minor_unit(currency: str, amount: Decimal) -> None:
    assert from_minor_units(to_minor_units(amount, currency), currency) == quantize_money(amount, currency)


@given(currency=st.sampled_from(CURRENCIES), amount=amounts)
def test_quantize_is_idempotent_and_within_half_a_minor_unit(currency: str, amount: Decimal) -> None:
    rounded = quantize_money(amount, currency)
    assert quantize_money(rounded, currency) == rounded
    assert abs(rounded - amount) <= minor_unit(currency) / 2
    assert rounded.as_tuple().exponent == minor_unit(currency).as_tuple().exponent


@given(
    currency=st.sampled_from(CURRENCIES),
    amount=st.fractions(min_value=-(10**6), max_value=10**6, max_denominator=10**6),
)
def test_quantize_rounds_a_fraction_exactly(currency: str, amount: Fraction) -> None:
    rounded = quantize_money(amount, currency)
    error = Fraction(rounded) - amount
    half = Fraction(minor_unit(currency)) / 2
    assert -half < error <= half if amount >= 0 else -half <= error < half
