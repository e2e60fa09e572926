"""Tariff rows <-> OCPI JSON, validation, and which tariff applies to a session."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from billing_app.models import Tariff, TariffAssignment, TariffElement
from billing_app.pricing.ocpi import dumps, loads
from billing_app.tariffs.services import (
    TariffImportError,
    snapshot,
    tariff_for_session,
    tariff_import_ocpi,
    tariff_to_ocpi,
)
from tests import factories

DEMO_TARIFFS = Path(__file__).resolve().parents[2] / "billing_app" / "demo_tariffs"


def _ocpi(name: str) -> dict:
    return loads((DEMO_TARIFFS / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in DEMO_TARIFFS.glob("*.json")))
def test_import_then_export_is_lossless(operator, name):
    data = _ocpi(name)
    tariff = tariff_import_ocpi(operator=operator, data=data)
    exported = loads(dumps(tariff_to_ocpi(tariff)))
    assert {k: v for k, v in exported.items() if k != "last_updated"} == {
        k: v for k, v in data.items() if k != "last_updated"
    }


def test_restrictions_and_empty_restrictions_round_trip(operator):
    data = _ocpi("voltara-standard.json")
    data["elements"][0]["restrictions"] = {}
    data["elements"][1]["restrictions"] = {
        "start_time": "22:00", "end_time": "06:00", "start_date": "2026-01-01", "end_date": "2027-01-01",
        "min_kwh": Decimal("0.5"), "max_kwh": Decimal("100"), "min_current": Decimal("6"), "max_current": Decimal("32"),
        "min_power": Decimal("3.7"), "max_power": Decimal("350"), "min_duration": 60, "max_duration": 7200,
        "day_of_week": ["MONDAY", "FRIDAY"], "reservation": "RESERVATION",
    }
    data["start_date_time"] = "2026-01-01T00:00:00Z"
    data["end_date_time"] = "2027-01-01T00:00:00Z"
    tariff = tariff_import_ocpi(operator=operator, data=data)
    exported = loads(dumps(tariff_to_ocpi(tariff)))
    assert exported["elements"] == data["elements"]
    assert exported["start_date_time"] == data["start_date_time"]


def test_reimport_replaces_elements_and_keeps_assignments(operator):
    data = _ocpi("voltara-standard.json")
    tariff = tariff_import_ocpi(operator=operator, data=data)
    TariffAssignment.objects.create(tariff=tariff)
    data["elements"] = data["elements"][:1]
    again = tariff_import_ocpi(operator=operator, data=data)
    assert again.pk == tariff.pk
    assert TariffElement.objects.filter(tariff=tariff).count() == 1
    assert tariff.assignments.count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("currency"), "currency"),
        (lambda d: d.update(currency="XXX"), "XXX"),
        (lambda d: d["elements"][1]["price_components"][0].update(price=Decimal("-1")), "negative"),
        (lambda d: d["elements"][3]["restrictions"].update(start_time="25:00"), "start_time"),
        (lambda d: d["elements"][0]["price_components"][0].update(type="BANANA"), "BANANA"),
    ],
)
def test_bad_ocpi_is_refused_and_nothing_is_written(operator, change, message):
    data = _ocpi("voltara-standard.json")
    change(data)
    with pytest.raises(TariffImportError, match=message):
        tariff_import_ocpi(operator=operator, data=data)
    assert not Tariff.objects.exists()


def test_model_validation_catches_inverted_windows():
    tariff = factories.TariffFactory.build(
        operator=factories.OperatorFactory.build(),
        start_date_time=datetime(2026, 2, 1, tzinfo=UTC), end_date_time=datetime(2026, 1, 1, tzinfo=UTC),
        min_price_excl_vat=Decimal(5), max_price_excl_vat=Decimal(2),
    )
    with pytest.raises(ValidationError) as error:
        tariff.clean()
    assert {"end_date_time", "max_price_excl_vat"} <= set(error.value.message_dict)


def test_element_validation_catches_bad_restrictions():
    element = TariffElement(start_time="08:00", end_time="08:00", min_kwh=Decimal(5), max_kwh=Decimal(1),
                            day_of_week=["FUNDAY"])
    with pytest.raises(ValidationError) as error:
        element.clean()
    assert {"end_time", "max_kwh", "day_of_week"} <= set(error.value.message_dict)


@pytest.fixture
def session(connector, id_token):
    return factories.ChargingSessionFactory(connector=connector, id_token=id_token,
                                            started_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))


def test_most_specific_assignment_wins(session, operator):
    station = session.connector.station
    default = factories.TariffFactory(operator=operator)
    at_location = factories.TariffFactory(operator=operator)
    at_station = factories.TariffFactory(operator=operator)
    at_connector = factories.TariffFactory(operator=operator)
    TariffAssignment.objects.create(tariff=default)
    assert tariff_for_session(session) == default
    TariffAssignment.objects.create(tariff=at_location, location=station.location)
    assert tariff_for_session(session) == at_location
    TariffAssignment.objects.create(tariff=at_station, station=station)
    assert tariff_for_session(session) == at_station
    TariffAssignment.objects.create(tariff=at_connector, connector=session.connector)
    assert tariff_for_session(session) == at_connector


def test_group_tariff_beats_ad_hoc_at_the_same_level(session, operator):
    from billing_app.models import DriverGroup

    ad_hoc = factories.TariffFactory(operator=operator)
    members = factories.TariffFactory(operator=operator)
    group = DriverGroup.objects.create(operator=operator, name="Members")
    TariffAssignment.objects.create(tariff=ad_hoc)
    TariffAssignment.objects.create(tariff=members, driver_group=group)
    assert tariff_for_session(session) == ad_hoc
    group.drivers.add(session.driver)
    assert tariff_for_session(session) == members


def test_only_tariffs_valid_at_session_start_apply(session, operator):
    expired = factories.TariffFactory(operator=operator, end_date_time=session.started_at)
    future = factories.TariffFactory(operator=operator, start_date_time=session.started_at + timedelta(seconds=1))
    TariffAssignment.objects.create(tariff=expired)
    TariffAssignment.objects.create(tariff=future)
    assert tariff_for_session(session) is None


def test_other_operators_tariffs_never_apply(session, other_operator):
    TariffAssignment.objects.create(tariff=factories.TariffFactory(operator=other_operator))
    assert tariff_for_session(session) is None


def test_assignment_to_another_operators_station_is_invalid(operator, other_operator):
    foreign_station = factories.ChargingStationFactory(location__operator=other_operator)
    assignment = TariffAssignment(tariff=factories.TariffFactory(operator=operator), station=foreign_station)
    with pytest.raises(ValidationError, match="another operator"):
        assignment.clean()


def test_snapshot_is_json_safe_and_exact(operator):
    tariff = tariff_import_ocpi(operator=operator, data=_ocpi("voltara-standard.json"))
    frozen = loads(snapshot(tariff))
    assert frozen["elements"][2]["price_components"][0]["price"] == Decimal("0.39")


def test_import_and_export_commands(operator, tmp_path, capsys):
    path = DEMO_TARIFFS / "voltara-standard.json"
    call_command("tariff_import", str(path), operator=operator.name)
    call_command("tariff_export", "VOLTARA-STANDARD", operator=operator.name)
    exported = loads(capsys.readouterr().out.split("\n", 1)[1])
    assert exported["id"] == "VOLTARA-STANDARD"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "Cannot read"), ("{not json", "not JSON"), ("[]", "one OCPI Tariff"), ('{"id": "X"}', "")],
)
def test_import_command_bad_files(operator, tmp_path, content, message):
    path = tmp_path / "tariff.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CommandError, match=message) as error:
        call_command("tariff_import", str(path), operator=operator.name)
    assert error.value.returncode == 2
    assert not Tariff.objects.exists()


def test_import_command_unknown_operator(db):
    with pytest.raises(CommandError, match="No operator"):
        call_command("tariff_import", str(DEMO_TARIFFS / "voltara-standard.json"), operator="Nobody")
