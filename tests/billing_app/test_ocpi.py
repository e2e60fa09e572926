"""OCPI 2.2.1 JSON <-> engine dataclasses: lossless tariff round trip, session/CDR reading,
CDR totals, and one-line errors for bad input."""

import copy
import json
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_app.pricing import DAYS_OF_WEEK, ocpi, price_session
from billing_app.pricing.ocpi import (
    CDR_DIMENSIONS,
    OcpiError,
    cdr_totals,
    session_from_json,
    session_to_json,
    tariff_from_ocpi,
    tariff_to_ocpi,
)

D = Decimal

SPEC_TARIFFS = [
    """{"country_code": "DE", "party_id": "ALL", "id": "12", "currency": "EUR", "type": "AD_HOC_PAYMENT",
        "tariff_alt_text": [{"language": "en", "text": "2.00 euro p/hour including VAT."},
                            {"language": "nl", "text": "2.00 euro p/uur inclusief BTW."}],
        "elements": [{"price_components": [{"type": "TIME", "price": 1.90, "vat": 5.2, "step_size": 300}]}],
        "last_updated": "2015-06-29T20:39:09Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "13", "currency": "EUR", "type": "PROFILE_CHEAP",
        "tariff_alt_url": "https://company.com/tariffs/13",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 100}]}],
        "last_updated": "2015-06-29T20:39:09Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "14", "currency": "EUR", "type": "REGULAR",
        "tariff_alt_url": "https://company.com/tariffs/14",
        "elements": [
          {"price_components": [{"type": "FLAT", "price": 2.50, "vat": 15.0, "step_size": 1}]},
          {"price_components": [{"type": "TIME", "price": 1.00, "vat": 20.0, "step_size": 900}],
           "restrictions": {"max_current": 32.00}},
          {"price_components": [{"type": "TIME", "price": 2.00, "vat": 20.0, "step_size": 600}],
           "restrictions": {"min_current": 32.00,
                            "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
          {"price_components": [{"type": "TIME", "price": 1.25, "vat": 20.0, "step_size": 600}],
           "restrictions": {"min_current": 32.00, "day_of_week": ["SATURDAY", "SUNDAY"]}},
          {"price_components": [{"type": "PARKING_TIME", "price": 5.00, "vat": 10.0, "step_size": 300}],
           "restrictions": {"start_time": "09:00", "end_time": "18:00",
                            "day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}},
          {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 10.0, "step_size": 300}],
           "restrictions": {"start_time": "10:00", "end_time": "17:00", "day_of_week": ["SATURDAY"]}}],
        "last_updated": "2015-06-29T20:39:09Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "16", "currency": "EUR",
        "max_price": {"excl_vat": 10.00, "incl_vat": 11.00},
        "elements": [{"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                                           {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}],
        "end_date_time": "2019-06-30T23:59:59Z", "last_updated": "2018-12-17T17:15:01Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "15", "currency": "EUR",
        "min_price": {"excl_vat": 0.50, "incl_vat": 0.55},
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}],
        "last_updated": "2018-12-17T17:15:01Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "20", "currency": "EUR",
        "elements": [
          {"price_components": [{"type": "FLAT", "price": 4.00, "vat": 20.0, "step_size": 1}],
           "restrictions": {"reservation": "RESERVATION_EXPIRES"}},
          {"price_components": [{"type": "TIME", "price": 2.00, "vat": 20.0, "step_size": 600}],
           "restrictions": {"reservation": "RESERVATION"}},
          {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                                {"type": "ENERGY", "price": 0.25, "vat": 10.0, "step_size": 1}]}],
        "last_updated": "2019-02-03T17:00:11Z"}""",
    """{"country_code": "DE", "party_id": "ALL", "id": "22", "currency": "EUR",
        "elements": [
          {"price_components": [{"type": "TIME", "price": 1.20, "step_size": 1800},
                                {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
           "restrictions": {"start_time": "00:00", "end_time": "17:00"}},
          {"price_components": [{"type": "TIME", "price": 2.40, "step_size": 900},
                                {"type": "PARKING_TIME", "price": 1.00, "step_size": 900}],
           "restrictions": {"start_time": "17:00", "end_time": "20:00"}},
          {"price_components": [{"type": "TIME", "price": 2.40, "step_size": 900}],
           "restrictions": {"start_time": "20:00", "end_time": "23:59"}}],
        "last_updated": "2018-12-18T17:07:11Z"}""",
    """{"country_code": "NL", "party_id": "EVB", "id": "all-fields", "currency": "JPY", "type": "REGULAR",
        "tariff_alt_text": [], "min_price": {"excl_vat": 100}, "max_price": {"excl_vat": 5000, "incl_vat": 5500},
        "elements": [{"price_components": [{"type": "ENERGY", "price": 55, "vat": 0, "step_size": 0}],
                      "restrictions": {"start_time": "22:00", "end_time": "06:00", "start_date": "2025-01-01",
                                       "end_date": "2026-01-01", "min_kwh": 1.5, "max_kwh": 80, "min_current": 6,
                                       "max_current": 32.5, "min_power": 3.7, "max_power": 22, "min_duration": 60,
                                       "max_duration": 36000, "day_of_week": []}},
                     {"price_components": [{"type": "PARKING_TIME", "price": 300, "step_size": 60}],
                      "restrictions": {}}],
        "start_date_time": "2025-01-01T00:00:00.250Z", "end_date_time": "2025-12-31T23:00:00Z",
        "energy_mix": {"is_green_energy": true, "energy_sources": [{"source": "SOLAR", "percentage": 62.5}],
                       "supplier_name": "Sun Power", "energy_product_name": "Day"},
        "last_updated": "2025-01-02T03:04:05Z", "evbilling_parking_grace_minutes": 15, "x_custom": {"a": [1, 2.5]}}""",
]


@pytest.mark.parametrize("text", SPEC_TARIFFS)
def test_tariff_round_trip_is_lossless(text: str) -> None:
    data = ocpi.loads(text)
    assert tariff_to_ocpi(tariff_from_ocpi(data)) == data
    assert ocpi.loads(ocpi.dumps(tariff_to_ocpi(tariff_from_ocpi(data)))) == data


def test_tariff_fields_read_as_decimal() -> None:
    tariff = tariff_from_ocpi(ocpi.loads(SPEC_TARIFFS[7]))
    assert tariff.currency == "JPY" and tariff.parking_grace_minutes == 15
    restrictions = tariff.elements[0].restrictions
    assert restrictions.max_current == D("32.5") and restrictions.day_of_week == ()
    assert tariff.elements[1].price_components[0].vat is None
    assert tariff.start_date_time.microsecond == 250_000
    assert tariff.extra == {"x_custom": {"a": [1, D("2.5")]}}


def test_dumps_writes_decimals_as_exact_numbers() -> None:
    assert ocpi.dumps({"price": D("0.10"), "n": [D("1E+2"), 3]}) == '{"price": 0.10, "n": [1E+2, 3]}'
    assert json.loads(ocpi.dumps({"a": D("2.50")})) == {"a": 2.5}


def test_floats_are_read_by_their_shortest_repr() -> None:
    data = json.loads(SPEC_TARIFFS[1])
    assert tariff_from_ocpi(data).elements[0].price_components[0].price == D("0.25")


prices = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
restriction = st.fixed_dictionaries(
    {},
    optional={
        "start_time": clock,
        "end_time": clock,
        "start_date": st.dates(min_value=date(1000, 1, 1), max_value=date(2999, 12, 31)).map(lambda d: d.isoformat()),
        "min_kwh": prices,
        "max_power": prices,
        "min_duration": st.integers(0, 10**6),
        "day_of_week": st.lists(st.sampled_from(DAYS_OF_WEEK), unique=True),
        "reservation": st.sampled_from(["RESERVATION", "RESERVATION_EXPIRES"]),
    },
)
component = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["ENERGY", "FLAT", "PARKING_TIME", "TIME"]),
        "price": prices,
        "step_size": st.integers(0, 3600),
    },
    optional={"vat": st.decimals(min_value=0, max_value=30, places=1, allow_nan=False)},
)
tariff_dicts = st.fixed_dictionaries(
    {
        "country_code": st.just("DE"),
        "party_id": st.just("EVB"),
        "id": st.text("abc123-", min_size=1, max_size=36),
        "currency": st.sampled_from(["EUR", "GBP", "JPY", "CHF"]),
        "elements": st.lists(
            st.fixed_dictionaries(
                {"price_components": st.lists(component, min_size=1, max_size=3)},
                optional={"restrictions": restriction},
            ),
            min_size=1,
            max_size=4,
        ),
        "last_updated": st.just("2024-05-06T07:08:09Z"),
    },
    optional={
        "type": st.sampled_from(["REGULAR", "AD_HOC_PAYMENT"]),
        "tariff_alt_text": st.lists(st.fixed_dictionaries({"language": st.just("en"), "text": st.text(max_size=20)})),
        "max_price": st.fixed_dictionaries({"excl_vat": prices}, optional={"incl_vat": prices}),
        ocpi.GRACE_KEY: st.integers(1, 120),
    },
)


@settings(max_examples=80, deadline=None)
@given(data=tariff_dicts)
def test_generated_tariffs_round_trip(data: dict) -> None:
    assert tariff_to_ocpi(tariff_from_ocpi(data)) == data
    assert ocpi.loads(ocpi.dumps(tariff_to_ocpi(tariff_from_ocpi(data)))) == data


def _set(path: str, value):
    def mutate(data: dict) -> None:
        *parents, leaf = path.split(".")
        target = data
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is KeyError:
            del target[leaf]
        else:
            target[leaf] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (_set("currency", KeyError), "missing 'currency'"),
        (_set("currency", "EURO"), "unknown ISO 4217"),
        (_set("currency", "eur"), "unknown ISO 4217"),
        (_set("currency", "XYZ"), "unknown ISO 4217"),
        (_set("elements", []), "must not be empty"),
        (_set("elements", {"a": 1}), "must be a list"),
        (_set("elements.0.price_components.0.type", "KWH"), "unknown value 'KWH'"),
        (_set("elements.0.price_components.0.price", D("-0.01")), "must not be negative"),
        (_set("elements.0.price_components.0.price", "1.90"), "must be a number"),
        (_set("elements.0.price_components.0.price", True), "must be a number"),
        (_set("elements.0.price_components.0.vat", D("-1")), "must not be negative"),
        (_set("elements.0.price_components.0.step_size", D("1.5")), "must be an integer"),
        (_set("elements.0.price_components.0.step_size", KeyError), "missing 'step_size'"),
        (_set("elements.0.price_components.0.kwh", 1), "unknown field 'kwh'"),
        (_set("elements.0.tariff_restrictions", {}), "unknown field 'tariff_restrictions'"),
        (_set("elements.0.restrictions", {"start_time": "7:00"}), "is not HH:MM"),
        (_set("elements.0.restrictions", {"end_time": "24:00"}), "is not HH:MM"),
        (_set("elements.0.restrictions", {"start_time": "12:60"}), "is not HH:MM"),
        (_set("elements.0.restrictions", {"start_date": "2019-02-30"}), "is not a YYYY-MM-DD date"),
        (_set("elements.0.restrictions", {"end_date": "20190201"}), "is not a YYYY-MM-DD date"),
        (_set("elements.0.restrictions", {"day_of_week": ["MON"]}), "unknown value 'MON'"),
        (_set("elements.0.restrictions", {"reservation": "MAYBE"}), "unknown value 'MAYBE'"),
        (_set("elements.0.restrictions", {"min_duration": -1}), "must not be negative"),
        (_set("elements.0.restrictions", {"max_kwh": "50"}), "must be a number"),
        (_set("last_updated", "yesterday"), "not an RFC 3339 date-time"),
        (_set("last_updated", "2015-06-29"), "not an RFC 3339 date-time"),
        (_set("type", "CHEAP"), "unknown value 'CHEAP'"),
        (_set("min_price", {"excl_vat": D(20)}), "higher than max_price"),
        (_set("min_price", {"incl_vat": D(1)}), "missing 'excl_vat'"),
        (_set("tax_included", "YES"), "tax_included"),
        (_set(ocpi.GRACE_KEY, -5), "must not be negative"),
        (_set("tariff_alt_text", [{"language": "en"}]), "missing 'text'"),
    ],
)
def test_bad_tariff_raises_one_line_ocpi_error(mutate, message: str) -> None:
    data = copy.deepcopy(ocpi.loads(SPEC_TARIFFS[3]))
    mutate(data)
    with pytest.raises(OcpiError, match=message) as raised:
        tariff_from_ocpi(data)
    assert "\n" not in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_tariff_must_be_an_object() -> None:
    with pytest.raises(OcpiError, match="must be an object"):
        tariff_from_ocpi([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Sessions and CDRs.

SESSION = {
    "start_date_time": "2019-01-07T16:55:00Z",
    "end_date_time": "2019-01-07T17:07:00Z",
    "time_zone": "Europe/Berlin",
    "charging_periods": [
        {"start_date_time": "2019-01-07T16:55:00Z",
         "dimensions": [{"type": "ENERGY", "volume": D("2.5")}, {"type": "TIME", "volume": D("0.1667")},
                        {"type": "MAX_POWER", "volume": 15}, {"type": "MIN_CURRENT", "volume": 10}]},
        {"start_date_time": "2019-01-07T17:05:00Z", "evbilling_suspended_by_evse": True,
         "dimensions": [{"type": "PARKING_TIME", "volume": D("0.0333")}]},
    ],
    "reservation": "RESERVATION",
}  # fmt: skip

CDR = """{
  "country_code": "BE", "party_id": "BEC", "id": "12345",
  "start_date_time": "2015-06-29T21:39:09Z", "end_date_time": "2015-06-29T23:37:32Z",
  "cdr_token": {"uid": "012345678", "type": "RFID", "contract_id": "DE8ACC12E46L89"},
  "auth_method": "WHITELIST",
  "cdr_location": {"id": "LOC1", "name": "Gent Zuid", "address": "F.Rooseveltlaan 3A", "city": "Gent",
    "postal_code": "9000", "country": "BEL", "coordinates": {"latitude": "3.729944", "longitude": "51.047599"},
    "evse_uid": "3256", "evse_id": "BE*BEC*E041503003", "connector_id": "1",
    "connector_standard": "IEC_62196_T2", "connector_format": "SOCKET", "connector_power_type": "AC_1_PHASE"},
  "currency": "EUR",
  "tariffs": [{"country_code": "BE", "party_id": "BEC", "id": "12", "currency": "EUR",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.00, "vat": 10.0, "step_size": 300}]}],
    "last_updated": "2015-02-02T14:15:01Z"}],
  "charging_periods": [{"start_date_time": "2015-06-29T21:39:09Z",
    "dimensions": [{"type": "TIME", "volume": 1.973}], "tariff_id": "12"}],
  "total_cost": {"excl_vat": 4.00, "incl_vat": 4.40},
  "total_energy": 15.342, "total_time": 1.973,
  "last_updated": "2015-06-29T22:01:13Z"
}"""


def test_session_file_is_read() -> None:
    session = session_from_json(SESSION)
    assert session.time_zone == "Europe/Berlin" and session.reservation == "RESERVATION"
    first, second = session.charging_periods
    assert (first.energy, first.time, first.max_power, first.min_current) == (D("2.5"), D("0.1667"), 15, 10)
    assert first.min_power is None and not first.suspended_by_evse
    assert second.parking_time == D("0.0333") and second.suspended_by_evse


def test_time_zone_defaults_to_utc_and_can_be_overridden() -> None:
    without_zone = {key: value for key, value in SESSION.items() if key != "time_zone"}
    assert session_from_json(without_zone).time_zone == "UTC"
    assert session_from_json(SESSION, time_zone_override="Asia/Tokyo").time_zone == "Asia/Tokyo"


def _session(**changes) -> dict:
    data = copy.deepcopy(SESSION)
    data.update(changes)
    return data


def _with_period(index: int, **changes) -> dict:
    data = copy.deepcopy(SESSION)
    data["charging_periods"][index].update(changes)
    return data


OCPI_CDR_DIMENSION_TYPES = (
    "CURRENT", "ENERGY", "ENERGY_EXPORT", "ENERGY_IMPORT", "MAX_CURRENT", "MIN_CURRENT", "MAX_POWER", "MIN_POWER",
    "PARKING_TIME", "POWER", "RESERVATION_TIME", "STATE_OF_CHARGE", "TIME",
)  # fmt: skip


def test_every_ocpi_cdr_dimension_type_is_known() -> None:
    assert sorted(CDR_DIMENSIONS) == sorted(OCPI_CDR_DIMENSION_TYPES)


@pytest.mark.parametrize("kind", OCPI_CDR_DIMENSION_TYPES)
def test_each_cdr_dimension_type_is_accepted(kind: str) -> None:
    data = _with_period(0, dimensions=[{"type": "TIME", "volume": D("0.1667")}] * (kind != "TIME")
                        + [{"type": kind, "volume": D("12.5")}])  # fmt: skip
    period = session_from_json(data).charging_periods[0]
    assert (kind, D("12.5")) in period.dimensions


def test_power_and_current_are_read_for_the_restrictions() -> None:
    data = _with_period(0, dimensions=[{"type": "POWER", "volume": D("11.2")}, {"type": "CURRENT", "volume": 16}])
    period = session_from_json(data).charging_periods[0]
    assert (period.power, period.current) == (D("11.2"), 16)
    assert period.min_power is period.max_power is None


def test_power_and_current_may_be_negative_like_the_spec_says() -> None:
    data = _with_period(0, dimensions=[{"type": "POWER", "volume": D(-7)}, {"type": "MIN_CURRENT", "volume": -10}])
    assert session_from_json(data).charging_periods[0].power == D(-7)


ALL_DIMENSIONS_SESSION = _session(charging_periods=[
    {"start_date_time": "2019-01-07T16:55:00Z",
     "dimensions": [{"type": kind, "volume": D(f"{i + 1}.25")} for i, kind in enumerate(OCPI_CDR_DIMENSION_TYPES)]},
    {"start_date_time": "2019-01-07T17:05:00Z", "evbilling_suspended_by_evse": True,
     "dimensions": [{"type": "PARKING_TIME", "volume": D("0.0333")}, {"type": "ENERGY", "volume": 0},
                    {"type": "STATE_OF_CHARGE", "volume": 80}]},
])  # fmt: skip


def test_session_round_trip_keeps_every_dimension() -> None:
    written = session_to_json(session_from_json(ALL_DIMENSIONS_SESSION))
    assert ocpi.loads(ocpi.dumps(written)) == ocpi.loads(ocpi.dumps(ALL_DIMENSIONS_SESSION))
    assert session_from_json(written) == session_from_json(ALL_DIMENSIONS_SESSION)


def test_cdr_with_every_dimension_prices_and_writes_them_back() -> None:
    cdr = ocpi.loads(CDR)
    cdr["charging_periods"][0]["dimensions"] += [
        {"type": "CURRENT", "volume": 16}, {"type": "POWER", "volume": D("11.0")},
        {"type": "ENERGY_IMPORT", "volume": D("15.342")}, {"type": "ENERGY_EXPORT", "volume": 0},
        {"type": "STATE_OF_CHARGE", "volume": 64},
    ]  # fmt: skip
    session = session_from_json(cdr)
    breakdown = price_session(tariff=tariff_from_ocpi(cdr["tariffs"][0]), session=session)
    assert cdr_totals(breakdown)["total_cost"] == cdr["total_cost"]
    written = session_to_json(session)["charging_periods"]
    assert [period["dimensions"] for period in written] == [period["dimensions"] for period in cdr["charging_periods"]]


def test_cdr_is_accepted_and_priced_like_the_spec() -> None:
    cdr = ocpi.loads(CDR)
    breakdown = price_session(tariff=tariff_from_ocpi(cdr["tariffs"][0]), session=session_from_json(cdr))
    totals = cdr_totals(breakdown)
    assert totals["total_cost"] == cdr["total_cost"]
    assert totals["total_time"] == D("1.9731")
    assert set(totals) >= {
        "total_cost", "total_fixed_cost", "total_energy", "total_energy_cost", "total_time", "total_time_cost",
        "total_parking_time", "total_parking_cost", "total_reservation_cost",
    }  # fmt: skip
    assert json.loads(ocpi.dumps(totals))["total_cost"] == {"excl_vat": 4.0, "incl_vat": 4.4}


@pytest.mark.parametrize(
    ("data", "override", "message"),
    [
        (_session(start_date_time=None), None, "missing 'start_date_time'"),
        (_session(end_date_time="2019-01-07T16:00:00Z"), None, "before start_date_time"),
        (_session(time_zone="Europe/Atlantis"), None, "unknown time zone 'Europe/Atlantis'"),
        (_session(time_zone="../../etc/passwd"), None, "unknown time zone"),
        (SESSION, "Not/AZone", "unknown time zone 'Not/AZone'"),
        (_session(charging_periods=[]), None, "must not be empty"),
        (_session(reservation="SOON"), None, "unknown value 'SOON'"),
        (_with_period(0, dimensions=[{"type": "VOLTAGE", "volume": 230}]), None, "unknown value 'VOLTAGE'"),
        (_with_period(0, dimensions=[{"type": "ENERGY", "volume": D(-1)}]), None, "must not be negative"),
        (_with_period(0, dimensions=[{"type": "MAX_POWER", "volume": D(-1)}]), None, "must not be negative"),
        (_with_period(0, dimensions=[{"type": "STATE_OF_CHARGE", "volume": 101}]), None, "0 to 100"),
        (_with_period(0, dimensions=[{"type": "ENERGY"}]), None, "missing 'volume'"),
        (_with_period(0, dimensions=[{"type": "TIME", "volume": 1}, {"type": "TIME", "volume": 1}]), None,
         "duplicate TIME"),
        (_with_period(1, start_date_time="2019-01-07T16:00:00Z"), None, "before the previous period"),
        (_with_period(1, start_date_time="2019-01-07T18:00:00Z"), None, "after end_date_time"),
        (_with_period(1, start_date_time="later"), None, "not an RFC 3339 date-time"),
        (_with_period(1, evbilling_suspended_by_evse="yes"), None, "must be true or false"),
    ],
)  # fmt: skip
def test_bad_session_raises_one_line_ocpi_error(data: dict, override: str | None, message: str) -> None:
    with pytest.raises(OcpiError, match=message) as raised:
        session_from_json(data, time_zone_override=override)
    assert "\n" not in str(raised.value)


WELL_FORMED_PERIODS = [
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY", "volume": D("1.833")},
                                                               {"type": "TIME", "volume": D(5) / 60}]},
    {"start_date_time": "2025-03-12T19:02:30+01:00", "dimensions": [
        {"type": "MIN_POWER", "volume": -3}, {"type": "MAX_POWER", "volume": 2.5},
        {"type": "POWER", "volume": D("-0.5")}, {"type": "CURRENT", "volume": 16},
        {"type": "MIN_CURRENT", "volume": D(-16)}, {"type": "MAX_CURRENT", "volume": 32},
        {"type": "STATE_OF_CHARGE", "volume": 100}, {"type": "ENERGY_EXPORT", "volume": 1.1},
        {"type": "ENERGY_IMPORT", "volume": D("0.000")}]},
    {"start_date_time": "2025-03-12T18:02:30", "dimensions": [{"type": "PARKING_TIME", "volume": D("0.1667")}],
     "evbilling_suspended_by_evse": True},
    {"start_date_time": "2025-10-26T02:30:00+02:00", "dimensions": [{"type": "RESERVATION_TIME", "volume": 1}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": []},
]  # fmt: skip
NOT_PLAINLY_WELL_FORMED = [
    {"start_date_time": "2025-03-12", "dimensions": []},
    {"start_date_time": "2025-03-12T25:00:00Z", "dimensions": []},
    {"start_date_time": "2025-03-12T18:02:30Z"},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY", "volume": -1}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY", "volume": True}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY", "volume": "1"}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY", "volume": D("NaN")}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "ENERGY"}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "STATE_OF_CHARGE", "volume": 101}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "VOLTAGE", "volume": 1}]},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [{"type": "TIME", "volume": 1}] * 2},
    {"start_date_time": "2025-03-12T18:02:30Z", "dimensions": [], "evbilling_suspended_by_evse": 1},
    [],
]


@pytest.mark.parametrize("data", WELL_FORMED_PERIODS)
def test_a_well_formed_period_is_read_as_the_precise_reader_reads_it(data) -> None:
    from billing_app.pricing.ocpi import _period, _well_formed_period

    fast = _well_formed_period(data)
    assert fast == _period(data, "charging_periods[0]")
    assert [(kind, str(volume)) for kind, volume in fast.dimensions] == [
        (kind, str(volume)) for kind, volume in _period(data, "charging_periods[0]").dimensions
    ]


@pytest.mark.parametrize("data", NOT_PLAINLY_WELL_FORMED)
def test_anything_else_goes_to_the_precise_reader(data) -> None:
    from billing_app.pricing.ocpi import _well_formed_period

    assert _well_formed_period(data) is None


def test_a_stored_tariff_text_is_read_and_compiled_once() -> None:
    from dataclasses import replace

    from billing_app.pricing.elements import compiled_tariff

    text = SPEC_TARIFFS[7]
    tariff = ocpi.tariff_from_text(text)
    assert ocpi.tariff_from_text(text) is tariff
    assert compiled_tariff(replace(tariff, parking_grace_minutes=5)) is compiled_tariff(tariff)
    assert compiled_tariff(ocpi.tariff_from_ocpi(ocpi.loads(text))) is not compiled_tariff(tariff)
