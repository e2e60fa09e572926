"""Tariff checks (billing_app.tariffs.checks): one test per check, the coverage verdicts held against the engine,
and the warnings where tariffs are saved or imported (admin, import command, API), never a refusal."""
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from billing_app import pricing
from billing_app.models import Tariff
from billing_app.pricing import ocpi
from billing_app.tariffs.checks import tariff_checks
from billing_app.tariffs.services import tariff_import_ocpi, tariff_warnings
from tests import factories
from tests.evbilling.api_fixtures import api_for

DEMO_TARIFFS = Path(__file__).resolve().parents[2] / "billing_app" / "demo_tariffs"


def _data(elements, **fields) -> dict:
    return {"country_code": "DE", "party_id": "VOL", "id": "CHECK-1", "currency": "EUR",
            "last_updated": "2026-01-01T00:00:00Z", "elements": elements, **fields}


def _tariff(elements, **fields) -> pricing.Tariff:
    return ocpi.tariff_from_ocpi(ocpi.loads(json.dumps(_data(elements, **fields))))


def _c(kind="ENERGY", price=0.39, step=1, vat=19):
    return {"type": kind, "price": price, "step_size": step, **({"vat": vat} if vat is not None else {})}


def _codes(tariff, **kwargs) -> set[tuple[str, str]]:
    return {(w.code, w.path) for w in tariff_checks(tariff, **kwargs)}


@pytest.mark.parametrize("name", ["voltara-standard.json", "voltara-members.json", "brightline-standard.json"])
def test_demo_tariffs_have_no_warnings(name):
    assert tariff_checks(ocpi.tariff_from_ocpi(ocpi.loads((DEMO_TARIFFS / name).read_text()))) == []


def test_every_element_restricted_by_power_makes_slow_sessions_free():
    warnings = tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"min_power": 22}}]))
    assert [(w.code, w.path) for w in warnings] == [("free_sessions", "elements")]
    assert "at a power of 0 kW to 22 kW" in warnings[0].message


def test_a_fallback_or_complementary_bands_cover_every_session():
    assert tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"min_power": 22}},
                                  {"price_components": [_c(price=0.29)]}])) == []
    assert tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"min_power": 22}},
                                  {"price_components": [_c(price=0.29)], "restrictions": {"max_power": 22}}])) == []
    assert tariff_checks(_tariff([
        {"price_components": [_c()], "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [_c(price=0.29)], "restrictions": {"start_time": "22:00", "end_time": "07:00"}},
    ])) == []


def test_current_restrictions_without_fallback_leave_sessions_without_current_free():
    warnings = tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"max_current": 32}},
                                      {"price_components": [_c()], "restrictions": {"min_current": 32}}]))
    assert [w.code for w in warnings] == ["free_sessions"]
    assert "reports no current" in warnings[0].message


def test_weekday_only_energy_names_the_free_day_and_hours():
    warnings = tariff_checks(_tariff([
        {"price_components": [_c()], "restrictions": {"day_of_week": ["MONDAY"], "start_time": "07:00",
                                                      "end_time": "22:00"}},
        {"price_components": [_c("TIME", 2)], "restrictions": {"start_time": "22:00", "end_time": "07:00"}},
    ]))
    assert [w.code for w in warnings] == ["free_sessions"]
    assert "between 07:00 and 22:00, on Tuesday" in warnings[0].message


def test_tariff_ending_by_date_restriction_is_free_afterwards():
    warnings = tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"end_date": "2026-06-01"}}]))
    assert "from 2026-06-01" in warnings[0].message
    # ... unless the tariff itself ends by then
    assert tariff_checks(_tariff([{"price_components": [_c()], "restrictions": {"end_date": "2026-06-01"}}],
                                 end_date_time="2026-06-01T00:00:00Z")) == []


def test_energy_priced_only_sometimes():
    assert _codes(_tariff([{"price_components": [_c("FLAT", 1)]},
                           {"price_components": [_c()], "restrictions": {"max_power": 50}}])) == {
        ("energy_unpriced", "elements")}


def test_element_behind_an_unrestricted_one_is_unreachable():
    assert _codes(_tariff([{"price_components": [_c()]},
                           {"price_components": [_c(price=0.59)], "restrictions": {"min_power": 50}}])) == {
        ("element_unreachable", "elements[1]")}


def test_element_behind_union_of_earlier_bands_is_unreachable():
    assert _codes(_tariff([
        {"price_components": [_c()], "restrictions": {"max_kwh": 20}},
        {"price_components": [_c(price=0.2)], "restrictions": {"min_kwh": 20}},
        {"price_components": [_c(price=0.1)], "restrictions": {"min_kwh": 10, "max_kwh": 30}},
    ])) == {("element_unreachable", "elements[2]")}


def test_component_shadowed_in_an_element_otherwise_used():
    assert _codes(_tariff([{"price_components": [_c()]},
                           {"price_components": [_c(price=0.5), _c("TIME", 1)], "restrictions": {"min_power": 50}}
                           ])) == {("component_unreachable", "elements[1].price_components[0]")}


def test_restriction_with_equal_exclusive_bounds_never_applies():
    assert _codes(_tariff([{"price_components": [_c()], "restrictions": {"min_kwh": 5, "max_kwh": 5}},
                           {"price_components": [_c()]}])) == {
        ("element_never_applies", "elements[0].restrictions.max_kwh")}


def test_duplicate_and_reservation_components():
    assert _codes(_tariff([{"price_components": [_c(), _c(price=0.5)]},
                           {"price_components": [_c(), _c("TIME", 1)], "restrictions": {"reservation": "RESERVATION"}}
                           ])) == {("duplicate_component", "elements[0].price_components[1]"),
                                   ("reservation_component_unused", "elements[1].price_components[0].type")}


def test_equal_start_and_end_time_reads_as_the_whole_day():
    assert _codes(_tariff([{"price_components": [_c()], "restrictions": {"start_time": "10:00",
                                                                          "end_time": "10:00"}}])) == {
        ("all_day_window", "elements[0].restrictions.end_time")}


def test_price_bounds():
    assert _codes(_tariff([{"price_components": [_c()]}], min_price={"excl_vat": 5, "incl_vat": 5.95},
                          max_price={"excl_vat": 6, "incl_vat": 5})) == {
        ("max_below_min", "max_price.incl_vat"), ("incl_below_excl", "max_price.incl_vat")}
    # the engine's own type can carry what the OCPI parser refuses (excl. VAT bounds inverted)
    tariff = _tariff([{"price_components": [_c()]}])
    inverted = pricing.Tariff(currency="EUR", elements=tariff.elements, min_price=pricing.Price(Decimal(6)),
                              max_price=pricing.Price(Decimal(5)))
    assert _codes(inverted) == {("max_below_min", "max_price.excl_vat")}


@pytest.mark.parametrize(("kind", "step", "warned"), [
    ("ENERGY", 1, False), ("ENERGY", 100, False), ("ENERGY", 999, True), ("ENERGY", 2000, False),
    ("ENERGY", 1500, True), ("TIME", 60, False), ("TIME", 15, False), ("TIME", 900, False), ("TIME", 61, True),
    ("PARKING_TIME", 45, True), ("PARKING_TIME", 300, False),
])
def test_step_size_neither_divisor_nor_multiple_of_a_minute_or_kwh(kind, step, warned):
    codes = _codes(_tariff([{"price_components": [_c(kind, step=step)]}]))
    assert (("step_size_unusual", "elements[0].price_components[0].step_size") in codes) is warned


def test_flat_step_size_has_no_effect():
    assert _codes(_tariff([{"price_components": [_c("FLAT", 1, step=30), _c()]}])) == {
        ("step_size_ignored", "elements[0].price_components[0].step_size")}


def test_component_without_vat_among_taxed_ones():
    assert _codes(_tariff([{"price_components": [_c(), _c("FLAT", 1, vat=None)]}])) == {
        ("vat_missing", "elements[0].price_components[1].vat")}


def test_all_prices_zero_and_ended_tariff():
    assert _codes(_tariff([{"price_components": [_c(price=0)]}])) == {("all_prices_zero", "elements")}
    assert _codes(_tariff([{"price_components": [_c(price=0)]}], min_price={"excl_vat": 1})) == set()
    ended = _tariff([{"price_components": [_c()]}], end_date_time="2026-01-01T00:00:00Z")
    assert _codes(ended, now=datetime(2026, 2, 1, tzinfo=UTC)) == {("tariff_ended", "end_date_time")}
    assert _codes(ended, now=datetime(2025, 12, 1, tzinfo=UTC)) == set()


# The coverage verdicts, held against the engine.

def _session(*, start: datetime, kw: Decimal, hours: Decimal = Decimal(1)) -> pricing.Session:
    period = pricing.ChargingPeriod(start_date_time=start, energy=kw * hours, time=hours, power=kw)
    return pricing.Session(start_date_time=start, end_date_time=start + timedelta(hours=float(hours)),
                           charging_periods=(period,))


def test_the_engine_agrees_the_warned_session_is_free():
    tariff = _tariff([{"price_components": [_c()], "restrictions": {"min_power": 22}}])
    slow = pricing.price_session(tariff=tariff, session=_session(start=datetime(2026, 3, 2, 8, tzinfo=UTC),
                                                                  kw=Decimal(11)))
    assert slow.total_cost.excl_vat == 0
    fast = pricing.price_session(tariff=tariff, session=_session(start=datetime(2026, 3, 2, 8, tzinfo=UTC),
                                                                  kw=Decimal(50)))
    assert fast.total_cost.excl_vat > 0


_restriction = st.fixed_dictionaries({}, optional={
    "min_power": st.sampled_from([11, 22, 50]), "max_power": st.sampled_from([11, 22, 50, 150]),
    "min_kwh": st.sampled_from([5, 20]), "max_kwh": st.sampled_from([5, 20, 40]),
    "start_time": st.sampled_from(["00:00", "07:00", "22:00"]), "end_time": st.sampled_from(["07:00", "22:00"]),
    "day_of_week": st.sampled_from([["MONDAY"], ["SATURDAY", "SUNDAY"]]),
})


@given(restrictions=st.lists(_restriction, min_size=1, max_size=4),
       start_hour=st.integers(0, 23), day=st.integers(1, 7), kw=st.sampled_from([Decimal(3), Decimal(11),
                                                                                 Decimal(22), Decimal(60)]))
def test_without_a_free_sessions_warning_every_session_is_priced(restrictions, start_hour, day, kw):
    """No `free_sessions` warning: every moment of any session is priced (each element prices energy at 1)."""
    tariff = _tariff([{"price_components": [_c(price=1)], **({"restrictions": r} if r else {})}
                      for r in restrictions])
    start = datetime(2026, 3, day, start_hour, 30, tzinfo=UTC)
    session = _session(start=start, kw=kw, hours=Decimal("0.5"))
    priced = pricing.price_session(tariff=tariff, session=session)
    covered = priced.total_energy_cost.excl_vat == (kw / 2).quantize(Decimal("0.01"))
    if "free_sessions" not in {w.code for w in tariff_checks(tariff)}:
        assert covered


# Where tariffs are saved or imported: warnings, never refusals.

POWER_ONLY = _data([{"price_components": [_c()], "restrictions": {"min_power": 22}}])


def test_import_service_stores_a_warned_tariff_and_warnings_name_the_path(operator):
    tariff = tariff_import_ocpi(operator=operator, data=ocpi.loads(json.dumps(POWER_ONLY)))
    assert [(w.code, w.path) for w in tariff_warnings(tariff)] == [("free_sessions", "elements")]


def test_stored_tariff_the_engine_cannot_read_is_one_warning(operator):
    tariff = factories.TariffElementFactory(tariff__operator=operator).tariff  # an element without components
    [warning] = tariff_warnings(tariff)
    assert warning.code == "not_priceable"
    assert "elements[0].price_components: must not be empty" in warning.message


@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


def test_admin_import_shows_the_warnings(staff_client, operator):
    upload = SimpleUploadedFile("t.json", json.dumps(POWER_ONLY).encode())
    response = staff_client.post(reverse("admin:billing_app_tariff_import"), {"operator": operator.pk, "file": upload},
                                 follow=True)
    assert Tariff.objects.get(ocpi_id="CHECK-1").operator == operator
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any(t.startswith("Check: elements: no element applies at a power of 0 kW to 22 kW") for t in texts)
    assert b"no element applies at a power of" in response.content  # the change page lists them too


def test_admin_saving_components_shows_the_warnings(staff_client, operator):
    element = factories.TariffElementFactory(tariff__operator=operator)
    response = staff_client.post(
        reverse("admin:billing_app_tariffelement_change", args=[element.pk]),
        {"tariff": element.tariff_id, "position": 0, "price_components-TOTAL_FORMS": 1,
         "price_components-INITIAL_FORMS": 0, "price_components-0-position": 0, "price_components-0-type": "ENERGY",
         "price_components-0-price": "0.39", "price_components-0-vat": "19", "price_components-0-step_size": 999},
        follow=True)
    assert element.price_components.get().step_size == 999
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert "Check: elements[0].price_components[0].step_size: ENERGY step_size 999 Wh is neither a divisor nor a " \
           "multiple of 1000 Wh (1 kWh): a typo?" in texts


def test_admin_change_page_of_a_clean_tariff_says_no_warnings(staff_client, operator):
    tariff = factories.energy_tariff(operator)
    response = staff_client.get(reverse("admin:billing_app_tariff_change", args=[tariff.pk]))
    assert b"No warnings." in response.content


def test_import_command_prints_warnings_and_succeeds(operator, tmp_path, capsys):
    path = tmp_path / "tariff.json"
    path.write_text(json.dumps(POWER_ONLY))
    call_command("tariff_import", str(path), operator=operator.name)
    captured = capsys.readouterr()
    assert "Imported tariff CHECK-1" in captured.out
    assert "warning: elements: no element applies at a power of 0 kW to 22 kW" in captured.err


def test_api_import_answers_the_warnings(operator):
    client = api_for(factories.OperatorStaffFactory(operator=operator))
    response = client.post("/api/v1/tariffs/import/", json.dumps(POWER_ONLY), content_type="application/json")
    assert response.status_code == 201, response.json()
    assert [(w["code"], w["path"]) for w in response.json()["warnings"]] == [("free_sessions", "elements")]
