"""A malformed tariff or CDR gets one error naming the path inside it, wherever it comes in: the
`price` command, the tariff import service, `tariff_import`, the API (they share the OCPI loaders)."""

import copy
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing_app.models import Tariff
from billing_app.pricing import ocpi
from billing_app.tariffs.services import TariffImportError, tariff_import_ocpi
from tests import factories
from tests.billing_app.test_price_command import SESSION, TARIFF
from tests.evbilling.api_fixtures import api_for

PATH_MESSAGE = "elements[2].restrictions.start_time: '25:00' is not HH:MM"


def bad_tariff() -> dict:
    data = copy.deepcopy(TARIFF)
    data["elements"][2]["restrictions"] = {"start_time": "25:00"}
    return data


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return str(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["elements"][2].update(restrictions={"start_time": "25:00"}), PATH_MESSAGE),
        (lambda d: d["elements"][1]["price_components"][0].update(step_size=-1),
         "elements[1].price_components[0].step_size: must not be negative"),
        (lambda d: d["elements"][0].update(restrictions={"day_of_week": ["MON"]}),
         "elements[0].restrictions.day_of_week[0]: unknown value 'MON'"),
        (lambda d: d["elements"][3]["price_components"][0].pop("price"),
         "elements[3].price_components[0]: missing 'price'"),
    ],
)  # fmt: skip
def test_price_command_names_the_path_of_a_malformed_tariff(tmp_path: Path, mutate, message: str) -> None:
    data = copy.deepcopy(TARIFF)
    mutate(data)
    with pytest.raises(CommandError) as raised:
        call_command("price", write(tmp_path, "t.json", data), write(tmp_path, "s.json", SESSION))
    assert str(raised.value).startswith(f"{tmp_path / 't.json'}: {message}")
    assert raised.value.returncode == 2


def test_price_command_names_the_path_of_a_malformed_cdr(tmp_path: Path) -> None:
    session = copy.deepcopy(SESSION)
    session["charging_periods"][1]["dimensions"][0]["volume"] = "0.1667"
    message = r"s\.json: charging_periods\[1\]\.dimensions\[0\]\.volume: must be a number$"
    with pytest.raises(CommandError, match=message):
        call_command("price", write(tmp_path, "t.json", TARIFF), write(tmp_path, "s.json", session), stdout=StringIO())


def test_nan_is_not_json() -> None:
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        ocpi.loads('{"energy_mix": {"renewable": NaN}}')


def test_tariff_import_service_passes_the_path_through(operator) -> None:
    with pytest.raises(TariffImportError, match=r"^elements\[2\]\.restrictions\.start_time: '25:00' is not HH:MM$"):
        tariff_import_ocpi(operator=operator, data=bad_tariff())
    assert not Tariff.objects.exists()


def test_tariff_import_command_passes_the_path_through(operator, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"elements\[2\]\.restrictions\.start_time: '25:00' is not HH:MM"):
        call_command("tariff_import", write(tmp_path, "t.json", bad_tariff()), "--operator", operator.name)


def test_api_import_passes_the_path_through(operator) -> None:
    client = api_for(factories.OperatorStaffFactory(operator=operator))
    response = client.post("/api/v1/tariffs/import/", json.dumps(bad_tariff()), content_type="application/json")
    assert response.status_code == 400
    assert PATH_MESSAGE in json.dumps(response.json()["error"]["fields"]["tariff"])
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("id", "X" * 40), ("party_id", "TOOLONG"), ("country_code", "DEUX")])
def test_values_past_ocpi_lengths_are_an_import_error_naming_the_field(operator, field: str, value: str) -> None:
    data = copy.deepcopy(TARIFF)
    data[field] = value
    with pytest.raises(TariffImportError, match=field):
        tariff_import_ocpi(operator=operator, data=data)
    assert not Tariff.objects.filter(operator=operator).exists()
    response = api_for(factories.OperatorStaffFactory(operator=operator)).post(
        "/api/v1/tariffs/import/", data=json.dumps(data), content_type="application/json")
    assert response.status_code == 400
    assert f"{field}: " in json.dumps(response.json()["error"]["fields"]["tariff"])
