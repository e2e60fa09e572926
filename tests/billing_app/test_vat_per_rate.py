"""VAT per rate on the document (EN 16931 BR-CO-17): `money.vat_breakdown` and the engine's totals.

For each VAT rate the VAT is computed once on the sum of that rate's net lines and rounded once;
the total incl. VAT is net + those VAT amounts. Exact cents on realistic sessions (EUR, JPY, BHD),
and the invariants as properties.
"""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_app.money import (
    VatSubtotal,
    line_amounts,
    minor_unit,
    quantize_money,
    share_out,
    vat_amount,
    vat_breakdown,
    vat_breakdown_by,
)
from billing_app.pricing import price_session
from tests.billing_app.test_pricing import MONDAY, charge, element, park, pc, session, tariff

D = Decimal


# ---------------------------------------------------------------------------------------------
# money.vat_breakdown


def test_vat_is_computed_once_per_rate_on_the_sum_of_its_lines() -> None:
    """1.50 + 14.42 at 19 %: per line 0.29 + 2.74 = 3.03, per rate 19 % of 15.92 = 3.0248 -> 3.02."""
    vat = vat_breakdown([(D(19), D("1.50")), (D(19), D("14.42"))], "EUR")
    assert vat.subtotals == (VatSubtotal(D(19), D("15.92"), D("3.02")),)
    assert (vat.net, vat.vat, vat.gross) == (D("15.92"), D("3.02"), D("18.94"))
    assert vat_amount(D("1.50"), D(19), "EUR") + vat_amount(D("14.42"), D(19), "EUR") == D("3.03")


def test_rates_ascending_with_no_vat_last_and_zero_percent_apart_from_no_vat() -> None:
    vat = vat_breakdown([(None, D("1.00")), (D("19.000"), D("2.00")), (D(0), D("3.00")), (D("7"), D("4.00")),
                         (D("19"), D("1.00"))], "EUR")  # fmt: skip
    assert [(s.rate, s.taxable_amount, s.vat_amount) for s in vat.subtotals] == [
        (D(0), D("3.00"), D("0.00")), (D(7), D("4.00"), D("0.28")), (D(19), D("3.00"), D("0.57")),
        (None, D("1.00"), D("0.00")),
    ]  # fmt: skip
    assert (vat.net, vat.vat, vat.gross) == (D("11.00"), D("0.85"), D("11.85"))


def test_rates_are_shown_plainly() -> None:
    rates = [s.rate for s in vat_breakdown([(D("20.0"), D(1)), (D("5.50"), D(1))], "EUR").subtotals]
    assert [format(rate, "f") for rate in rates] == ["5.5", "20"]


def test_negative_lines_reduce_their_rate_and_round_half_away_from_zero() -> None:
    vat = vat_breakdown([(D(10), D("1.00")), (D(10), D("-1.05"))], "EUR")
    assert vat.subtotals == (VatSubtotal(D(10), D("-0.05"), D("-0.01")),)


def test_a_net_amount_finer_than_the_minor_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="minor unit"):
        vat_breakdown([(D(19), D("1.005"))], "EUR")
    with pytest.raises(ValueError, match="minor unit"):
        vat_breakdown([(D(10), D("1.5"))], "JPY")


def test_an_empty_document_has_no_vat() -> None:
    vat = vat_breakdown([], "EUR")
    assert (vat.subtotals, vat.net, vat.vat, vat.gross) == ((), D("0.00"), D("0.00"), D("0.00"))


CURRENCIES = ("EUR", "JPY", "BHD", "KWD")
RATES = (None, D(0), D("5.5"), D(7), D(10), D(19), D(20), D("21"), D("25.5"))


@st.composite
def documents(draw) -> tuple[str, list[tuple[Decimal | None, Decimal]]]:
    currency = draw(st.sampled_from(CURRENCIES))
    unit = minor_unit(currency)
    units = st.integers(min_value=-5_000, max_value=500_000)
    lines = draw(st.lists(st.tuples(st.sampled_from(RATES), units), min_size=0, max_size=25))
    return currency, [(rate, n * unit) for rate, n in lines]


@settings(max_examples=300, deadline=None)
@given(document=documents())
def test_vat_breakdown_invariants(document) -> None:
    currency, lines = document
    unit = minor_unit(currency)
    vat = vat_breakdown(lines, currency)
    # per-rate VAT sums to the document's VAT; incl. = net + VAT; net = the sum of the lines
    assert vat.vat == sum((s.vat_amount for s in vat.subtotals), D(0))
    assert vat.gross == vat.net + vat.vat
    assert vat.net == sum((net for _, net in lines), D(0))
    for subtotal in vat.subtotals:
        members = [(rate, net) for rate, net in lines if rate == subtotal.rate]
        assert subtotal.taxable_amount == sum((net for _, net in members), D(0))
        # VAT within half a minor unit of rate x taxable amount
        exact = subtotal.taxable_amount * (subtotal.rate or 0) / 100
        assert abs(subtotal.vat_amount - exact) <= unit / 2
        assert subtotal.vat_amount == quantize_money(subtotal.vat_amount, currency)
        # the money module's inlined VAT formulas are vat_amount's (one rule)
        assert subtotal.vat_amount == (vat_amount(subtotal.taxable_amount, subtotal.rate, currency)
                                       if subtotal.rate is not None else 0)  # fmt: skip
        # and at most half a minor unit per line from the old sum of VAT per line
        per_line = sum((vat_amount(net, rate, currency) for rate, net in members if rate is not None), D(0))
        assert abs(subtotal.vat_amount - per_line) <= unit * len(members) / 2


@settings(max_examples=200, deadline=None)
@given(document=documents())
def test_a_lines_amounts_are_quantize_money_and_vat_amount(document) -> None:
    """`line_amounts` (the engine's one call per line) rounds as `quantize_money` and taxes as `vat_amount`."""
    currency, lines = document
    for rate, net in lines:
        amount = net + net / 7  # (finer than the minor unit: rounded once)
        excl = quantize_money(amount, currency)
        vat = vat_amount(excl, rate, currency) if rate is not None else D(0)
        assert line_amounts(amount, rate, currency) == (excl, vat, excl + vat)


@settings(max_examples=300, deadline=None)
@given(document=documents(), groups=st.lists(st.sampled_from(("energy", "time", None)), min_size=25, max_size=25),
       one_rate=st.booleans(), rounded=st.booleans())  # fmt: skip
def test_vat_breakdown_by_is_the_documents_and_each_groups_vat_breakdown(document, groups, one_rate, rounded) -> None:
    """The engine's one-pass totals (`vat_breakdown_by`, with its path for a single rate) give exactly what
    `vat_breakdown` gives for all the lines and for each group's lines (same amounts, same exponents)."""
    currency, lines = document
    if one_rate and lines:
        lines = [(lines[0][0], net) for _, net in lines]
    grouped = [(group, rate, net) for group, (rate, net) in zip(groups, lines, strict=False)]
    whole, by_group = vat_breakdown_by(grouped, currency, rounded=rounded)
    expected = vat_breakdown(lines, currency)
    assert (whole.subtotals, whole.net, whole.vat) == (expected.subtotals, expected.net, expected.vat)
    assert [str(s.taxable_amount) for s in whole.subtotals] == [str(s.taxable_amount) for s in expected.subtotals]
    assert set(by_group) == {group for group, _, _ in grouped} - {None}
    for group, (net, gross) in by_group.items():
        alone = vat_breakdown([(rate, net) for g, rate, net in grouped if g == group], currency)
        assert (str(net), str(gross)) == (str(alone.net), str(alone.gross))


@settings(max_examples=200, deadline=None)
@given(currency=st.sampled_from(CURRENCIES), units=st.integers(min_value=-10**6, max_value=10**6),
       weights=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6))
def test_share_out_parts_are_whole_units_and_add_up(currency, units, weights) -> None:
    amount = units * minor_unit(currency)
    parts = share_out(amount, [D(w) for w in weights], currency)
    assert sum(parts, D(0)) == amount
    assert all(part == quantize_money(part, currency) for part in parts)


# ---------------------------------------------------------------------------------------------
# The engine: total_cost, vat_breakdown and the per-dimension totals.


def test_receipt_of_15_92_net_at_19_percent_is_3_02_vat_and_18_94_total() -> None:
    """A 1.50 session fee and 41.2 kWh at 0.35: VAT per line would be 0.29 + 2.74 = 3.03."""
    t = tariff(element(pc("FLAT", "1.50", 1, "19"), pc("ENERGY", "0.35", 1, "19")))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "41.2")))
    assert [(line.amount_excl_vat, line.vat_amount) for line in breakdown.lines] == [
        (D("1.50"), D("0.29")), (D("14.42"), D("2.74")),
    ]  # fmt: skip
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("15.92"), D("18.94"))
    assert breakdown.vat_breakdown == (VatSubtotal(D(19), D("15.92"), D("3.02")),)
    assert breakdown.to_dict()["vat_breakdown"] == [{"rate": "19", "taxable_amount": "15.92", "vat_amount": "3.02"}]


MIXED_ELEMENTS = (element(pc("FLAT", "0.99", 1, "19"), pc("ENERGY", "0.39", 1, "19"),
                          pc("PARKING_TIME", "2.35", 60, "7")),)  # fmt: skip
MIXED = tariff(*MIXED_ELEMENTS)


def test_mixed_rate_session_has_one_vat_row_per_rate() -> None:
    """0.99 fee + 23.7 kWh x 0.39 = 9.243 -> 9.24 at 19 %; 47 min parking x 2.35/h = 1.8408 -> 1.84 at 7 %.
    19 %: 10.23 -> 1.9437 -> 1.94 (per line 0.19 + 1.76 = 1.95); 7 %: 0.1288 -> 0.13."""
    breakdown = price_session(tariff=MIXED, session=session(MONDAY + "10:00+00:00", charge(60, "23.7"), park(47)))
    assert breakdown.vat_breakdown == (VatSubtotal(D(7), D("1.84"), D("0.13")),
                                       VatSubtotal(D(19), D("10.23"), D("1.94")))
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("12.07"), D("14.14"))
    # per dimension, the same rule over the dimension's own lines (information)
    assert breakdown.total_fixed_cost.incl_vat == D("1.18")  # 0.99 + 0.1881
    assert breakdown.total_energy_cost.incl_vat == D("11.00")  # 9.24 + 1.7556
    assert breakdown.total_parking_cost.incl_vat == D("1.97")


def test_jpy_session_vat_per_rate_in_whole_yen() -> None:
    """105 yen fee (10.5 -> 11 VAT) + 7 kWh x 35 = 245 yen (24.5 -> 25): per line 36, per rate 350 -> 35."""
    t = tariff(element(pc("FLAT", "105", 1, "10"), pc("ENERGY", "35", 1, "10")), currency="JPY")
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "7")))
    assert breakdown.vat_breakdown == (VatSubtotal(D(10), D("350"), D("35")),)
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("350"), D("385"))


def test_bhd_session_vat_per_rate_in_fils() -> None:
    """0.105 BHD fee (0.0105 -> 0.011) + 7 kWh x 0.045 = 0.315 (0.0315 -> 0.032): per line 0.043,
    per rate 0.420 -> 0.042."""
    t = tariff(element(pc("FLAT", "0.105", 1, "10"), pc("ENERGY", "0.045", 1, "10")), currency="BHD")
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "7")))
    assert breakdown.vat_breakdown == (VatSubtotal(D(10), D("0.420"), D("0.042")),)
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("0.420"), D("0.462"))


def test_max_price_on_mixed_rates_is_shared_over_the_rates_in_proportion() -> None:
    """10.23 at 19 % and 1.84 at 7 % capped to 10.00 net: -2.07 shared 10.23 : 1.84 -> -1.75 / -0.32."""
    t = tariff(*MIXED_ELEMENTS, max_price={"excl_vat": D("10.00")})
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "23.7"), park(47)))
    adjustments = [(line.dimension, line.vat_rate, line.amount_excl_vat) for line in breakdown.lines[-2:]]
    assert adjustments == [("MAX_PRICE", D(7), D("-0.32")), ("MAX_PRICE", D(19), D("-1.75"))]
    assert breakdown.vat_breakdown == (VatSubtotal(D(7), D("1.52"), D("0.11")),
                                       VatSubtotal(D(19), D("8.48"), D("1.61")))
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("10.00"), D("11.72"))


def test_min_price_on_a_session_that_priced_nothing_takes_the_tariffs_highest_rate() -> None:
    t = tariff(element(pc("ENERGY", "0.39", 1, "19"), pc("PARKING_TIME", "2.35", 60, "7"), day_of_week=["SUNDAY"]),
               min_price={"excl_vat": D("1.00")})  # fmt: skip
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(10, "1")))
    assert [(line.dimension, line.vat_rate, line.amount_excl_vat) for line in breakdown.lines] == [
        ("MIN_PRICE", D(19), D("1.00"))]
    assert breakdown.total_cost.incl_vat == D("1.19")


def test_min_price_incl_vat_is_reached_with_the_least_net() -> None:
    """0.25 net at 10 %; min 0.50 excl. / 0.60 incl.: 0.55 net gives 0.055 -> 0.06 VAT, 0.61; 0.54 gives 0.59."""
    t = tariff(element(pc("ENERGY", "0.25", 1, "10")), min_price={"excl_vat": D("0.50"), "incl_vat": D("0.60")})
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(10, "1")))
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("0.55"), D("0.61"))


BOUNDED = tariff(*MIXED_ELEMENTS, min_price={"excl_vat": D("3.00"), "incl_vat": D("3.40")},
                 max_price={"excl_vat": D("20.00"), "incl_vat": D("23.00")})  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(kwh=st.decimals(min_value=0, max_value=90, places=3), charging=st.integers(0, 300),
       parking=st.integers(0, 300), bounded=st.booleans())
def test_engine_totals_are_vat_per_rate(kwh, charging, parking, bounded) -> None:
    t = BOUNDED if bounded else MIXED
    s = session(MONDAY + "10:00+00:00", (charging, {"energy": kwh, "time": D(charging) / 60}), park(parking))
    breakdown = price_session(tariff=t, session=s)
    vat = vat_breakdown(((line.vat_rate, line.amount_excl_vat) for line in breakdown.lines), "EUR")
    assert breakdown.vat_breakdown == vat.subtotals
    assert breakdown.total_cost.excl_vat == vat.net
    assert breakdown.total_cost.incl_vat == vat.net + sum(s.vat_amount for s in breakdown.vat_breakdown)
    if bounded:
        assert D("3.00") <= breakdown.total_cost.excl_vat <= D("20.00")
        assert D("3.40") <= breakdown.total_cost.incl_vat <= D("23.00")
