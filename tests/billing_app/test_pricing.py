"""The pricing engine against the OCPI 2.2.1 tariff rules, worked examples (with the figures
corrected per the spec errata where the printed ones contradict the rules) and properties."""

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from billing_app.money import minor_unit, quantize_money, vat_breakdown
from billing_app.pricing import (
    ChargingPeriod,
    CostBreakdown,
    PricingError,
    Session,
    Tariff,
    price_session,
)
from billing_app.pricing.ocpi import tariff_from_ocpi

D = Decimal


def tariff(*elements: dict, **fields) -> Tariff:
    data = {
        "country_code": "DE",
        "party_id": "ALL",
        "id": "T1",
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2019-01-01T00:00:00Z",
    }
    return tariff_from_ocpi(data | fields)


def element(*components: dict, **restrictions) -> dict:
    data: dict = {"price_components": list(components)}
    if restrictions:
        data["restrictions"] = restrictions
    return data


def pc(kind: str, price: str, step: int = 1, vat: str | None = None) -> dict:
    data = {"type": kind, "price": D(price), "step_size": step}
    if vat is not None:
        data["vat"] = D(vat)
    return data


def charge(minutes: float, kwh: str = "0", **dims) -> tuple[float, dict]:
    return minutes, {"energy": D(kwh), "time": D(minutes) / 60, **dims}


def park(minutes: float, **dims) -> tuple[float, dict]:
    return minutes, {"parking_time": D(minutes) / 60, **dims}


def reserve(minutes: float) -> tuple[float, dict]:
    return minutes, {"reservation_time": D(minutes) / 60}


def session(start: str, *periods: tuple[float, dict], tz: str = "UTC", reservation: str | None = None) -> Session:
    moment = datetime.fromisoformat(start)
    built = []
    for minutes, dims in periods:
        built.append(ChargingPeriod(start_date_time=moment, **dims))
        moment += timedelta(minutes=minutes)
    return Session(
        start_date_time=datetime.fromisoformat(start),
        end_date_time=moment,
        charging_periods=tuple(built),
        time_zone=tz,
        reservation=reservation,
    )


def cost(t: Tariff, s: Session) -> tuple[Decimal, Decimal]:
    breakdown = price_session(tariff=t, session=s)
    assert_consistent(breakdown)
    return breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat


def assert_consistent(breakdown: CostBreakdown) -> None:
    for line in breakdown.lines:
        assert line.amount_incl_vat == line.amount_excl_vat + line.vat_amount
        assert line.amount_excl_vat == quantize_money(line.amount_excl_vat, breakdown.currency)
    assert breakdown.total_cost.excl_vat == sum(line.amount_excl_vat for line in breakdown.lines)
    vat = vat_breakdown(((line.vat_rate, line.amount_excl_vat) for line in breakdown.lines), breakdown.currency)
    assert breakdown.vat_breakdown == vat.subtotals
    assert breakdown.total_cost.incl_vat == breakdown.total_cost.excl_vat + sum(s.vat_amount for s in vat.subtotals)
    half = minor_unit(breakdown.currency) / 2
    for subtotal in breakdown.vat_breakdown:
        exact = subtotal.taxable_amount * (subtotal.rate or 0) / 100
        assert abs(subtotal.vat_amount - exact) <= half


MONDAY = "2019-01-07T"
SATURDAY = "2019-01-12T"

# ---------------------------------------------------------------------------------------------
# OCPI 2.2.1 worked examples (mod_tariffs, mod_cdrs).

ENERGY_025 = pc("ENERGY", "0.25", 1, "10.0")
START_050 = pc("FLAT", "0.50", 1, "20.0")
TARIFF_6_MAX_PRICE = tariff(
    element(START_050, ENERGY_025),
    max_price={"excl_vat": D("10.00"), "incl_vat": D("11.00")},
    end_date_time="2019-06-30T23:59:59Z",
)
TARIFF_12_MIN_PRICE = tariff(element(ENERGY_025), min_price={"excl_vat": D("0.50"), "incl_vat": D("0.55")})


@pytest.mark.parametrize(
    ("t", "s", "expected"),
    [
        pytest.param(tariff(element(ENERGY_025)), session(MONDAY + "10:00+00:00", charge(60, "20")),
                     ("5.00", "5.50"), id="8-simple-025-kwh"),
        pytest.param(tariff(element(START_050, ENERGY_025)), session(MONDAY + "10:00+00:00", charge(60, "20")),
                     ("5.50", "6.10"), id="9-start-fee"),
        pytest.param(TARIFF_12_MIN_PRICE, session(MONDAY + "10:00+00:00", charge(60, "20")),
                     ("5.00", "5.50"), id="12-min-price-not-reached"),
        pytest.param(TARIFF_12_MIN_PRICE, session(MONDAY + "10:00+00:00", charge(10, "1")),
                     ("0.50", "0.55"), id="12-min-price-applies"),
        pytest.param(
            tariff(element(START_050, ENERGY_025, pc("PARKING_TIME", "2.00", 900, "20.0"))),
            session(MONDAY + "10:00+00:00", charge(60, "20"), park(40)),
            ("7.00", "7.90"), id="10-parking-billed-per-15-min",
        ),
        # Printed 10.00 / 11.00, figures no document can carry: 10.00 net at these rates (12.50 at
        # 10 %, 0.50 at 20 %, the cap shared out in proportion) is 11.04 with VAT per rate
        # (BR-CO-17). Both bounds hold, so the net stops at 9.96 (9.58 + 0.96 VAT, 0.38 + 0.08).
        pytest.param(TARIFF_6_MAX_PRICE, session(MONDAY + "10:00+00:00", charge(60, "50")),
                     ("9.96", "11.00"), id="6-max-price-applies"),
        pytest.param(TARIFF_6_MAX_PRICE, session(MONDAY + "10:00+00:00", charge(60, "30")),
                     ("8.00", "8.85"), id="6-max-price-not-reached"),
        pytest.param(tariff(element(pc("TIME", "2.00", 60, "10.0"))), session(MONDAY + "10:00+00:00", charge(150)),
                     ("5.00", "5.50"), id="1-two-euro-per-hour"),
        pytest.param(
            tariff(element(pc("TIME", "3.00", 60, "10.0"), pc("PARKING_TIME", "5.00", 300, "20.0"))),
            session(MONDAY + "10:00+00:00", charge(150), park(42)),
            ("11.25", "12.75"), id="13-parking-rounded-to-45-min",
        ),
        pytest.param(tariff(element(pc("TIME", "1.90", 300, "5.2"))), session(MONDAY + "10:00+00:00", charge(150)),
                     ("4.75", "5.00"), id="2-alt-text-5.2-percent-vat"),
        # Printed 5.50 / 6.05; 20.5 kWh x 0.25 is 5.125, rounded half up per line.
        pytest.param(tariff(element(pc("ENERGY", "0.25", 100, "10.0"))),
                     session(MONDAY + "10:00+00:00", charge(60, "20.45")), ("5.13", "5.64"),
                     id="3-alt-url-0.1-kwh-steps"),
        pytest.param(tariff(element(pc("ENERGY", "0.22", 100, "10.0"))),
                     session(MONDAY + "10:00+00:00", charge(60, "20.45")), ("4.51", "4.96"),
                     id="3-alt-url-real-time-0.22"),
        pytest.param(tariff(element(pc("TIME", "2.00", 300, "10.0"))),
                     session("2015-06-29T21:39:09+00:00", (118.38, {"time": D("1.973")})), ("4.00", "4.40"),
                     id="cdr-example"),
    ],
)  # fmt: skip
def test_ocpi_worked_examples(t: Tariff, s: Session, expected: tuple[str, str]) -> None:
    assert cost(t, s) == (D(expected[0]), D(expected[1]))


COMPLEX = tariff(
    element(pc("FLAT", "2.50", 1, "15.0")),
    element(pc("TIME", "1.00", 900, "20.0"), max_current=D("32.00")),
    element(pc("TIME", "2.00", 600, "20.0"), min_current=D("32.00"),
            day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]),
    element(pc("TIME", "1.25", 600, "20.0"), min_current=D("32.00"), day_of_week=["SATURDAY", "SUNDAY"]),
    element(pc("PARKING_TIME", "5.00", 300, "10.0"), start_time="09:00", end_time="18:00",
            day_of_week=["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]),
    element(pc("PARKING_TIME", "6.00", 300, "10.0"), start_time="10:00", end_time="17:00", day_of_week=["SATURDAY"]),
    type="REGULAR",
)  # fmt: skip


def test_complex_example_monday_rounds_only_parking_when_parking_is_billed() -> None:
    """Printed 8.75 / 10.00 rounds charging to 150 min; per 2.2.1 (issues #396, #546) only the
    parking time is rounded (42 -> 45 min): 2.50 + 2.45 + 3.75."""
    s = session(MONDAY + "09:30+00:00", charge(147, max_current=D(16)), park(42))
    assert cost(COMPLEX, s) == (D("8.70"), D("9.95"))


def test_complex_example_saturday() -> None:
    """Printed 12.50 / 14.13 (and 12.28 in a later draft, issue #579): 114 min x 1.25 = 2.375
    -> 2.38, parking 71 -> 75 min x 6.00 = 7.50, flat 2.50."""
    s = session(SATURDAY + "13:30+00:00", charge(114, max_current=D(43), min_current=D(43)), park(71))
    assert cost(COMPLEX, s) == (D("12.38"), D("13.99"))


STEP_SIZE_TARIFF = tariff(
    element(pc("TIME", "1.20", 1800), pc("PARKING_TIME", "1.00", 900), start_time="00:00", end_time="17:00"),
    element(pc("TIME", "2.40", 900), pc("PARKING_TIME", "1.00", 900), start_time="17:00", end_time="20:00"),
    element(pc("TIME", "2.40", 900), start_time="20:00", end_time="23:59"),
)


def test_step_size_switching_element_1_rounds_parking_not_charging() -> None:
    """Printed 0.50 rounds the 12 min session to 15; per 2.2.1 the 10 min of charging are not
    rounded (5 min x 1.20 + 5 min x 2.40) and 2 min parking round to 15 min x 1.00."""
    s = session(MONDAY + "16:55+00:00", charge(10), park(2))
    breakdown = price_session(tariff=STEP_SIZE_TARIFF, session=s)
    assert [line.amount_excl_vat for line in breakdown.lines] == [D("0.10"), D("0.20"), D("0.25")]
    assert breakdown.total_cost.excl_vat == D("0.55")


def test_step_size_switching_element_2_bills_rounding_at_last_element() -> None:
    s = session(MONDAY + "16:35+00:00", charge(35))
    breakdown = price_session(tariff=STEP_SIZE_TARIFF, session=s)
    assert [(line.element_index, line.billed_quantity * 60) for line in breakdown.lines] == [(0, 25), (1, 20)]
    assert breakdown.total_cost.excl_vat == D("1.30")


def test_step_size_switching_to_free_parking_rounds_charging_time() -> None:
    s = session(MONDAY + "19:55+00:00", charge(10), park(2))
    assert cost(STEP_SIZE_TARIFF, s) == (D("0.60"), D("0.60"))


def test_cdr_example_time_and_parking_round_only_parking() -> None:
    """mod_cdrs: 21 min charging, 16 min parking, both step 10 min: charging not rounded."""
    t = tariff(element(pc("TIME", "1.00", 600), pc("PARKING_TIME", "2.00", 600)))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(21), park(16)))
    assert [line.billed_quantity * 60 for line in breakdown.lines] == [21, 20]
    assert breakdown.total_cost.excl_vat == D("1.02")


def test_cdr_example_time_rounded_once_over_two_elements() -> None:
    """mod_cdrs: 6 min before and 22 after 17:00 round to 30 min total: 6 + 24 minutes."""
    t = tariff(
        element(pc("TIME", "5.00", 600), end_time="17:00"),
        element(pc("TIME", "7.00", 600), start_time="17:00"),
    )
    breakdown = price_session(tariff=t, session=session(MONDAY + "16:54+00:00", charge(6), charge(22)))
    assert [line.billed_quantity * 60 for line in breakdown.lines] == [6, 24]
    assert breakdown.total_cost.excl_vat == D("3.30")


def test_max_power_example() -> None:
    t = tariff(
        element(pc("ENERGY", "0.20", 1, "20.0"), max_power=D("16.00")),
        element(pc("ENERGY", "0.35", 1, "20.0"), max_power=D("32.00")),
        element(pc("ENERGY", "0.50", 1, "20.0")),
    )
    s = session(MONDAY + "10:00+00:00", charge(10, "1", max_power=D(6)), charge(50, "40", max_power=D(48)),
                charge(7.5, "0.5", max_power=D(4)))  # fmt: skip
    assert cost(t, s)[0] == D("20.30")


def test_max_duration_example() -> None:
    t = tariff(
        element(pc("ENERGY", "0.00", 1, "20.0"), max_duration=1800),
        element(pc("ENERGY", "0.25", 1, "20.0"), max_duration=3600),
        element(pc("ENERGY", "0.40", 1, "20.0")),
    )
    assert cost(t, session(MONDAY + "10:00+00:00", charge(30, "5"), charge(10, "1.2")))[0] == D("0.30")


def test_first_kwh_free_and_parking_by_session_duration() -> None:
    """Example "first hour free": durations count from the session start (issue #434), so 1 h
    charging + 2.75 h parking bills 2 h at 2.00 and 0.75 h at 3.00; the first kWh is free."""
    t = tariff(
        element(pc("PARKING_TIME", "0.0", 60), min_duration=0, max_duration=3600),
        element(pc("PARKING_TIME", "2.0", 60), min_duration=3600, max_duration=10800),
        element(pc("PARKING_TIME", "3.0", 60), min_duration=10800),
        element(pc("ENERGY", "0.0", 1), max_kwh=D("1.0")),
        element(pc("ENERGY", "0.2", 1), min_kwh=D("1.0")),
    )
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "20"), park(165)))
    assert {(line.element_index, line.amount_excl_vat) for line in breakdown.lines} == {
        (3, D("0.00")), (4, D("3.80")), (1, D("4.00")), (2, D("2.25")),
    }  # fmt: skip
    assert breakdown.total_cost == breakdown.total_cost.__class__(D("10.05"), D("10.05"))


RESERVATION_15 = tariff(
    element(pc("TIME", "5.00", 60, "20.0"), reservation="RESERVATION"),
    element(START_050, ENERGY_025),
)
RESERVATION_16 = tariff(
    element(pc("FLAT", "2.00", 1, "20.0"), pc("TIME", "5.00", 300, "20.0"), reservation="RESERVATION"),
    element(START_050, ENERGY_025),
)
RESERVATION_17 = tariff(
    element(pc("FLAT", "4.00", 1, "20.0"), reservation="RESERVATION_EXPIRES"),
    element(pc("TIME", "2.00", 600, "20.0"), reservation="RESERVATION"),
    element(START_050, ENERGY_025),
)
RESERVATION_18 = tariff(
    element(pc("TIME", "6.00", 600, "20.0"), reservation="RESERVATION_EXPIRES"),
    element(pc("TIME", "3.00", 600, "20.0"), reservation="RESERVATION"),
    element(START_050, ENERGY_025),
)


@pytest.mark.parametrize(
    ("t", "reserved_minutes", "expected"),
    [
        (RESERVATION_15, 15, ("6.75", "7.60")),
        (RESERVATION_16, 13, ("8.75", "10.00")),
        (RESERVATION_17, 22, ("6.50", "7.30")),
        (RESERVATION_18, 22, ("7.00", "7.90")),
    ],
)
def test_reservation_examples(t: Tariff, reserved_minutes: int, expected: tuple[str, str]) -> None:
    s = session(MONDAY + "09:00+00:00", reserve(reserved_minutes), charge(60, "20"), reservation="RESERVATION")
    s = replace(s, start_date_time=s.charging_periods[1].start_date_time)
    breakdown = price_session(tariff=t, session=s)
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D(expected[0]), D(expected[1]))
    assert breakdown.total_fixed_cost.excl_vat == D("0.50")


@pytest.mark.parametrize(
    ("t", "reserved_minutes", "expected"),
    [(RESERVATION_17, 60, ("6.00", "7.20")), (RESERVATION_18, 90, ("9.00", "10.80"))],
)
def test_expired_reservation_bills_only_reservation(t: Tariff, reserved_minutes: int, expected) -> None:
    s = session(MONDAY + "09:00+00:00", reserve(reserved_minutes), reservation="RESERVATION_EXPIRES")
    breakdown = price_session(tariff=t, session=s)
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D(expected[0]), D(expected[1]))
    assert breakdown.total_reservation_cost == breakdown.total_cost


# ---------------------------------------------------------------------------------------------
# Restrictions.

PEAK_NIGHT = tariff(
    element(pc("ENERGY", "0.20"), start_time="22:00", end_time="06:00"),
    element(pc("ENERGY", "0.40")),
)


@pytest.mark.parametrize(
    ("clock", "price"),
    [("23:30", "0.20"), ("00:00", "0.20"), ("05:59", "0.20"), ("06:00", "0.40"), ("21:59", "0.40"), ("22:00", "0.20")],
)
def test_time_window_crossing_midnight_with_exclusive_end(clock: str, price: str) -> None:
    s = session(f"2019-01-07T{clock}:00+00:00", charge(1, "1"))
    assert cost(PEAK_NIGHT, s)[0] == D(price)


def test_end_time_midnight_means_end_of_day() -> None:
    t = tariff(element(pc("ENERGY", "0.30"), start_time="18:00", end_time="00:00"), element(pc("ENERGY", "0.10")))
    assert cost(t, session(MONDAY + "23:59+00:00", charge(1, "1")))[0] == D("0.30")
    assert cost(t, session("2019-01-08T00:00+00:00", charge(1, "1")))[0] == D("0.10")
    assert cost(t, session(MONDAY + "17:59+00:00", charge(1, "1")))[0] == D("0.10")


def test_period_straddling_a_time_boundary_is_split_in_proportion() -> None:
    t = tariff(
        element(pc("ENERGY", "0.30"), pc("TIME", "1.00"), start_time="18:00"),
        element(pc("ENERGY", "0.10"), pc("TIME", "2.00")),
    )
    breakdown = price_session(tariff=t, session=session(MONDAY + "17:30+00:00", charge(60, "10")))
    lines = {(line.dimension, line.element_index): (line.quantity, line.amount_excl_vat) for line in breakdown.lines}
    assert lines == {
        ("ENERGY", 1): (D(5), D("0.50")),
        ("ENERGY", 0): (D(5), D("1.50")),
        ("TIME", 1): (D("0.5"), D("1.00")),
        ("TIME", 0): (D("0.5"), D("0.50")),
    }
    assert breakdown.total_cost.excl_vat == D("3.50")


def test_split_at_non_terminating_fraction_is_exact() -> None:
    """1 kWh over 3 min, boundary after 30 s: 1/6 kWh at 0.03 is exactly 0.005 -> 0.01."""
    t = tariff(element(pc("ENERGY", "0.03"), end_time="10:00"), element(pc("ENERGY", "0.06")))
    breakdown = price_session(tariff=t, session=session(MONDAY + "09:59:30+00:00", charge(3, "1")))
    assert [line.amount_excl_vat for line in breakdown.lines] == [D("0.01"), D("0.05")]


def test_restrictions_use_local_time_of_the_zone() -> None:
    t = tariff(element(pc("ENERGY", "0.20"), start_time="00:00", end_time="07:00"), element(pc("ENERGY", "0.40")))
    utc_2330 = session("2019-01-06T23:30+00:00", charge(10, "1"), tz="Europe/Berlin")
    assert cost(t, utc_2330)[0] == D("0.20")
    assert cost(t, replace(utc_2330, time_zone="UTC"))[0] == D("0.40")


def test_day_of_week_is_local() -> None:
    t = tariff(element(pc("ENERGY", "0.20"), day_of_week=["MONDAY"]), element(pc("ENERGY", "0.40")))
    sunday_utc = session("2019-01-06T23:30+00:00", charge(10, "1"), tz="Europe/Berlin")
    assert cost(t, sunday_utc)[0] == D("0.20")
    assert cost(t, replace(sunday_utc, time_zone="America/New_York"))[0] == D("0.40")


def test_period_across_midnight_is_split_for_day_restrictions() -> None:
    t = tariff(element(pc("TIME", "1.00"), day_of_week=["SATURDAY"]), element(pc("TIME", "3.00")))
    breakdown = price_session(tariff=t, session=session("2019-01-11T23:30+00:00", charge(60)))
    assert [(line.element_index, line.quantity) for line in breakdown.lines] == [(1, D("0.5")), (0, D("0.5"))]


def test_period_across_midnight_inside_a_wrapping_window_is_one_line() -> None:
    breakdown = price_session(tariff=PEAK_NIGHT, session=session(MONDAY + "23:30+00:00", charge(60, "2")))
    assert [(line.element_index, line.quantity, line.period_indices) for line in breakdown.lines] == [(0, D(2), (0,))]


def test_dates_end_exclusive() -> None:
    t = tariff(element(pc("ENERGY", "0.20"), start_date="2019-01-07", end_date="2019-01-08"),
               element(pc("ENERGY", "0.40")))  # fmt: skip
    assert cost(t, session(MONDAY + "23:00+00:00", charge(1, "1")))[0] == D("0.20")
    assert cost(t, session("2019-01-08T00:00+00:00", charge(1, "1")))[0] == D("0.40")


def test_time_restriction_across_dst_change() -> None:
    """Europe/Berlin springs forward on 2019-03-31 at 02:00: 06:00 local is 04:00 UTC."""
    t = tariff(element(pc("TIME", "1.00"), start_time="22:00", end_time="06:00"), element(pc("TIME", "3.00")))
    s = session("2019-03-30T23:00+00:00", charge(360), tz="Europe/Berlin")  # 00:00 -> 07:00 local
    breakdown = price_session(tariff=t, session=s)
    assert [(line.element_index, line.quantity) for line in breakdown.lines] == [(0, D(5)), (1, D(1))]


def test_max_kwh_is_exclusive_and_uses_cumulative_energy() -> None:
    t = tariff(element(pc("ENERGY", "0.00"), max_kwh=D(5)), element(pc("ENERGY", "0.30"), min_kwh=D(5)))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(10, "5"), charge(10, "1")))
    assert [(line.element_index, line.quantity) for line in breakdown.lines] == [(0, D(5)), (1, D(1))]


def test_period_crossing_a_kwh_threshold_is_split_at_the_threshold() -> None:
    t = tariff(element(pc("ENERGY", "0.00"), pc("TIME", "6.00"), max_kwh=D(1)),
               element(pc("ENERGY", "0.20"), pc("TIME", "6.00")))  # fmt: skip
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "4")))
    energy = [(line.element_index, line.quantity) for line in breakdown.lines if line.dimension == "ENERGY"]
    time = [(line.element_index, line.quantity) for line in breakdown.lines if line.dimension == "TIME"]
    assert energy == [(0, D(1)), (1, D(3))]
    assert time == [(0, D("0.25")), (1, D("0.75"))]


@pytest.mark.parametrize(("power", "price"), [("15.99", "0.20"), ("16", "0.50"), ("16.01", "0.50")])
def test_max_power_is_exclusive(power: str, price: str) -> None:
    t = tariff(element(pc("ENERGY", "0.20"), max_power=D(16)), element(pc("ENERGY", "0.50")))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, "1", max_power=D(power))))[0] == D(price)


def test_min_power_compares_min_and_max_power_compares_max() -> None:
    t = tariff(element(pc("ENERGY", "0.70"), min_power=D(50)), element(pc("ENERGY", "0.50")))
    dipped = session(MONDAY + "10:00+00:00", charge(60, "1", min_power=D(40), max_power=D(60)))
    assert cost(t, dipped)[0] == D("0.50")
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, "1", max_power=D(60))))[0] == D("0.70")


def test_power_falls_back_to_average_power() -> None:
    t = tariff(element(pc("ENERGY", "0.70"), min_power=D(22)), element(pc("ENERGY", "0.50")))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(30, "11")))[0] == D("7.70")  # 22 kW
    assert cost(t, session(MONDAY + "10:00+00:00", charge(30, "10")))[0] == D("5.00")


@pytest.mark.parametrize(("power", "price"), [("15.99", "0.20"), ("16", "0.50"), ("40", "0.50")])
def test_power_stands_for_min_and_max_power_when_they_are_absent(power: str, price: str) -> None:
    t = tariff(element(pc("ENERGY", "0.20"), max_power=D(16)), element(pc("ENERGY", "0.50")))
    # 1 kWh in an hour would be 1 kW on average: the reported POWER wins over energy / time.
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, "1", power=D(power))))[0] == D(price)
    at_least = tariff(element(pc("ENERGY", "0.70"), min_power=D(16)), element(pc("ENERGY", "0.50")))
    expected = "0.70" if D(power) >= 16 else "0.50"
    assert cost(at_least, session(MONDAY + "10:00+00:00", charge(60, "1", power=D(power))))[0] == D(expected)


def test_power_stands_for_the_missing_bound_before_the_other_bound() -> None:
    t = tariff(element(pc("ENERGY", "0.70"), min_power=D(50)), element(pc("ENERGY", "0.50")))
    peaked = session(MONDAY + "10:00+00:00", charge(60, "1", max_power=D(60), power=D(45)))
    assert cost(t, peaked)[0] == D("0.50")  # averaged 45 kW, so it ran below 50 kW at some point


def test_current_stands_for_min_and_max_current_when_they_are_absent() -> None:
    t = tariff(element(pc("TIME", "1.00"), max_current=D(32)), element(pc("TIME", "2.00")))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, current=D(16))))[0] == D("1.00")
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, current=D(32))))[0] == D("2.00")


def test_current_restriction_without_current_data_does_not_match() -> None:
    t = tariff(element(pc("TIME", "1.00"), max_current=D(32)), element(pc("TIME", "2.00")))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60)))[0] == D("2.00")
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, max_current=D(16))))[0] == D("1.00")


def test_max_duration_is_exclusive_and_splits_periods() -> None:
    t = tariff(element(pc("TIME", "0.00"), max_duration=1800), element(pc("TIME", "6.00")))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(40)))
    assert [line.quantity * 60 for line in breakdown.lines] == [30, 10]
    assert breakdown.total_cost.excl_vat == D("1.00")


def test_first_matching_element_wins_per_dimension() -> None:
    t = tariff(
        element(pc("ENERGY", "0.10"), start_time="08:00", end_time="09:00"),
        element(pc("TIME", "1.00"), pc("ENERGY", "0.30")),
        element(pc("ENERGY", "0.99"), pc("TIME", "9.99")),
    )
    breakdown = price_session(tariff=t, session=session(MONDAY + "08:00+00:00", charge(60, "10")))
    assert {(line.dimension, line.element_index) for line in breakdown.lines} == {("ENERGY", 0), ("TIME", 1)}


def test_no_matching_element_means_no_cost() -> None:
    t = tariff(element(pc("ENERGY", "0.30"), day_of_week=["SATURDAY"]))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(60, "10"))) == (D("0.00"), D("0.00"))


# ---------------------------------------------------------------------------------------------
# Step size, flat fee, price bounds, VAT, rounding.


def test_energy_step_applied_once_with_the_last_components_step() -> None:
    t = tariff(element(pc("ENERGY", "0.10", 1000), end_time="12:00"), element(pc("ENERGY", "0.20", 500)))
    s = session(MONDAY + "11:00+00:00", charge(60, "1.2"), charge(60, "1.1"))
    breakdown = price_session(tariff=t, session=s)
    assert [line.billed_quantity for line in breakdown.lines] == [D("1.2"), D("1.3")]  # 2.3 -> 2.5 kWh total


def test_energy_step_in_wh_example() -> None:
    """PriceComponent note: 115.2 Wh at 0.25/kWh is billed 116 Wh (1), 125 Wh (25), 500 Wh (500)."""
    for step, wh in ((1, 116), (25, 125), (500, 500)):
        t = tariff(element(pc("ENERGY", "0.25", step)))
        breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(1, "0.1152")))
        assert breakdown.lines[0].billed_quantity * 1000 == wh


def test_flat_fee_charged_once_per_session() -> None:
    t = tariff(element(pc("FLAT", "1.00"), pc("ENERGY", "0.30"), end_time="12:00"),
               element(pc("FLAT", "5.00"), pc("ENERGY", "0.30")))  # fmt: skip
    breakdown = price_session(tariff=t, session=session(MONDAY + "11:00+00:00", charge(60, "1"), charge(60, "1")))
    assert breakdown.total_fixed_cost.excl_vat == D("1.00")
    assert [line.dimension for line in breakdown.lines].count("FLAT") == 1


def test_min_price_without_incl_vat_scales_incl_vat_in_proportion() -> None:
    t = tariff(element(pc("ENERGY", "0.25", 1, "20")), min_price={"excl_vat": D("2.00")})
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "2")))
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("2.00"), D("2.40"))
    adjustment = breakdown.lines[-1]
    assert (adjustment.dimension, adjustment.amount_excl_vat, adjustment.amount_incl_vat) == (
        "MIN_PRICE", D("1.50"), D("1.80"),
    )  # fmt: skip
    assert breakdown.total_energy_cost.excl_vat == D("0.50")


def test_max_price_incl_vat_below_the_total_moves_the_net_not_the_vat() -> None:
    """9.50 net at 25 % is 11.88 incl. VAT, above the 11.00 cap: the net comes down to 8.80 (2.20
    VAT), the most that stays within it. (Before VAT per rate, 9.50 net with 1.50 VAT.)"""
    t = tariff(element(pc("ENERGY", "1.00", 1, "25")), max_price={"excl_vat": D("10.00"), "incl_vat": D("11.00")})
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "9.5")))
    assert (breakdown.total_cost.excl_vat, breakdown.total_cost.incl_vat) == (D("8.80"), D("11.00"))
    adjustment = breakdown.lines[-1]
    assert (adjustment.dimension, adjustment.vat_rate, adjustment.amount_excl_vat) == ("MAX_PRICE", D(25), D("-0.70"))


def test_absent_vat_means_no_vat_while_zero_vat_is_zero() -> None:
    t = tariff(element(pc("ENERGY", "0.30"), pc("FLAT", "1.00", 1, "0")))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "10")))
    assert breakdown.total_cost == breakdown.total_cost.__class__(D("4.00"), D("4.00"))
    assert {line.vat_rate for line in breakdown.lines} == {None, D(0)}


def test_each_line_rounded_half_up_and_totals_are_the_sum_of_lines() -> None:
    t = tariff(element(pc("ENERGY", "0.005"), end_time="12:00"), element(pc("ENERGY", "0.005")))
    s = session(MONDAY + "11:00+00:00", charge(60, "1"), charge(60, "1"))
    breakdown = price_session(tariff=t, session=s)
    assert [line.amount_excl_vat for line in breakdown.lines] == [D("0.01"), D("0.01")]
    assert breakdown.total_cost.excl_vat == D("0.02")


def test_vat_is_computed_on_the_rounded_line_amount() -> None:
    t = tariff(element(pc("ENERGY", "0.125", 1, "20")))
    line = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "1"))).lines[0]
    assert (line.amount_excl_vat, line.vat_amount, line.amount_incl_vat) == (D("0.13"), D("0.03"), D("0.16"))


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (D("2.675"), "EUR", D("2.68")),
        (D("-2.675"), "EUR", D("-2.68")),
        (D("1234.5"), "JPY", D("1235")),
        (D("1.2345"), "BHD", D("1.235")),
        (Fraction(1, 200), "EUR", D("0.01")),
        (Fraction(1, 3), "GBP", D("0.33")),
    ],
)
def test_quantize_money_rounds_half_up_to_the_minor_unit(amount, currency: str, expected: Decimal) -> None:
    assert quantize_money(amount, currency) == expected
    assert quantize_money(amount, currency).as_tuple().exponent == expected.as_tuple().exponent


def test_inexact_hour_volumes_do_not_spill_into_the_next_step() -> None:
    t = tariff(element(pc("TIME", "6.00", 60)))
    assert cost(t, session(MONDAY + "10:00+00:00", charge(7)))[0] == D("0.70")


def test_cdr_totals_quantities() -> None:
    t = tariff(element(pc("ENERGY", "0.30"), pc("PARKING_TIME", "1.00")))
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(30, "7.5"), park(15)))
    assert (breakdown.total_energy, breakdown.total_time, breakdown.total_parking_time) == (
        D("7.5000"), D("0.7500"), D("0.2500"),
    )  # fmt: skip
    assert breakdown.to_dict()["total_parking_cost"] == {"excl_vat": "0.25", "incl_vat": "0.25"}


# ---------------------------------------------------------------------------------------------
# Extensions: parking grace period, suspended by the EVSE.


def test_parking_grace_minutes_after_charging_are_free() -> None:
    t = replace(tariff(element(pc("PARKING_TIME", "6.00", 300))), parking_grace_minutes=30)
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(60, "10"), park(40)))
    line = breakdown.lines[0]
    assert (line.quantity * 60, line.billed_quantity * 60, line.amount_excl_vat) == (40, 10, D("1.00"))


def test_parking_grace_does_not_cover_parking_between_charging_periods() -> None:
    t = replace(tariff(element(pc("PARKING_TIME", "6.00", 60))), parking_grace_minutes=30)
    s = session(MONDAY + "10:00+00:00", charge(10, "1"), park(10), charge(10, "1"), park(20))
    assert cost(t, s)[0] == D("1.00")


def test_parking_entirely_within_grace_leaves_time_rounding_to_charging() -> None:
    t = replace(tariff(element(pc("TIME", "6.00", 900), pc("PARKING_TIME", "6.00", 300))), parking_grace_minutes=30)
    breakdown = price_session(tariff=t, session=session(MONDAY + "10:00+00:00", charge(10), park(20)))
    assert breakdown.total_time_cost.excl_vat == D("1.50")
    assert breakdown.total_parking_cost.excl_vat == D("0.00")


def test_period_suspended_by_evse_is_not_billed_as_parking() -> None:
    t = tariff(element(pc("TIME", "2.00"), pc("PARKING_TIME", "6.00")))
    s = session(MONDAY + "10:00+00:00", charge(30), park(30, suspended_by_evse=True), charge(30), park(10))
    breakdown = price_session(tariff=t, session=s)
    assert breakdown.total_parking_cost.excl_vat == D("1.00")
    assert breakdown.total_parking_time == D("0.6667")
    assert breakdown.total_time_cost.excl_vat == D("2.00")


# ---------------------------------------------------------------------------------------------
# Input errors.


def test_periods_out_of_order_are_rejected() -> None:
    s = session(MONDAY + "10:00+00:00", charge(10), charge(10))
    s = replace(s, charging_periods=s.charging_periods[::-1])
    with pytest.raises(PricingError, match="before the previous"):
        price_session(tariff=tariff(element(pc("TIME", "1"))), session=s)


def test_unknown_time_zone_is_rejected() -> None:
    s = session(MONDAY + "10:00+00:00", charge(10), tz="Mars/Olympus")
    with pytest.raises(PricingError, match="time zone"):
        price_session(tariff=tariff(element(pc("TIME", "1"), end_time="12:00")), session=s)


# ---------------------------------------------------------------------------------------------
# Properties.

PLAIN = tariff(
    element(pc("FLAT", "0.50", 1, "19"), pc("ENERGY", "0.37", 10, "19"), pc("TIME", "1.10", 60, "7"),
            pc("PARKING_TIME", "4.00", 300, "19")),
    min_price={"excl_vat": D("1.00")},
    max_price={"excl_vat": D("60.00"), "incl_vat": D("70.00")},
)  # fmt: skip

# The same components without min/max price: a binding bound without an incl. VAT figure scales
# incl. VAT by the lines' blended VAT ratio, which can move a cent either way as lines are added.
UNBOUNDED = replace(PLAIN, min_price=None, max_price=None)
PLAIN_NET_MIN, PLAIN_NET_CAP, PLAIN_GROSS_CAP = D("1.00"), D("60.00"), D("70.00")

volumes = st.decimals(min_value=0, max_value=80, places=3, allow_nan=False, allow_infinity=False)
minutes = st.integers(min_value=0, max_value=600)


def plain_session(kwh: Decimal, charging: int, parking: int) -> Session:
    return session(MONDAY + "10:00+00:00", (charging, {"energy": kwh, "time": D(charging) / 60}), park(parking))


@settings(max_examples=60, deadline=None)
@given(kwh=volumes, extra_kwh=volumes, charging=minutes, extra=minutes, parking=minutes)
@example(kwh=D("22.041"), extra_kwh=D("53.370"), charging=600, extra=0, parking=596)  # net 59.66 -> 59.65 at the cap
@example(kwh=D("20.871"), extra_kwh=D("0"), charging=600, extra=593, parking=596)  # gross 69.16 -> 69.15 at 60.00 net
@example(kwh=D("0"), extra_kwh=D("0"), charging=0, extra=1, parking=0)  # gross 1.19 -> 1.18 at the 1.00 net minimum
@example(kwh=D("0"), extra_kwh=D("0"), charging=0, extra=28, parking=0)  # 1.00/1.19 (minimum at 19 %) -> 1.01/1.15
def test_cost_never_falls_when_energy_or_time_grows(kwh, extra_kwh, charging, extra, parking) -> None:
    for plain in (PLAIN, UNBOUNDED):
        base = price_session(tariff=plain, session=plain_session(kwh, charging, parking)).total_cost
        more_energy = price_session(tariff=plain, session=plain_session(kwh + extra_kwh, charging, parking)).total_cost
        more_time = price_session(tariff=plain, session=plain_session(kwh, charging + extra, parking)).total_cost
        for more in (more_energy, more_time):
            if plain is UNBOUNDED:
                assert more.excl_vat >= base.excl_vat
                assert more.incl_vat >= base.incl_vat
                continue
            # PLAIN's min_price (1.00 net) and max_price (60.00 net, 70.00 gross) over two rates (19 %, 7 %):
            # where a bound binds, the session costs the bound, and what the other figure comes to depends on
            # the rates' mix (more energy at 19 % allows less net under the gross bound; more time at 7 % gives
            # less VAT on a net bound), BR-CO-17's VAT per rate. The gross bound is met within two cents (net
            # steps of one cent, each rate's VAT rounded once). Leaving the minimum, the net grows but the gross
            # may fall: the minimum's adjustment took the tariff's highest rate (19 %), the time that replaces
            # it is at 7 %. Otherwise, below the bounds, neither figure ever falls.
            at_bound = more.excl_vat in (PLAIN_NET_MIN, PLAIN_NET_CAP) or more.incl_vat >= PLAIN_GROSS_CAP - D("0.02")
            from_minimum = base.excl_vat == PLAIN_NET_MIN
            assert at_bound or (more.excl_vat >= base.excl_vat and (from_minimum or more.incl_vat >= base.incl_vat))
            assert more.excl_vat <= PLAIN_NET_CAP and more.incl_vat <= PLAIN_GROSS_CAP


@settings(max_examples=60, deadline=None)
@given(kwh=volumes, charging=minutes, parking=minutes)
def test_bounds_respected_and_lines_add_up(kwh, charging, parking) -> None:
    breakdown = price_session(tariff=PLAIN, session=plain_session(kwh, charging, parking))
    assert_consistent(breakdown)
    assert D("1.00") <= breakdown.total_cost.excl_vat <= D("60.00")
    assert breakdown.total_cost.incl_vat <= D("70.00")
    for line in breakdown.lines:
        if line.vat_rate is not None:
            assert line.vat_amount == quantize_money(line.amount_excl_vat * line.vat_rate / 100, "EUR")
