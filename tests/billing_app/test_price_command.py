"""`manage.py price TARIFF.json SESSION.json`: JSON out, one-line errors with exit code 2."""

import copy
import json
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing_app.pricing.ocpi import CDR_DIMENSIONS
from tests.billing_app.test_ocpi import CDR, SPEC_TARIFFS
from tests.factories import LocationFactory

ROOT = Path(__file__).resolve().parents[2]

TARIFF = {
    "country_code": "DE",
    "party_id": "ALL",
    "id": "14",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 0.30, "vat": 19.0, "step_size": 1}],
            "restrictions": {"start_time": "18:00", "end_time": "00:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.20, "vat": 19.0, "step_size": 1}]},
        {"price_components": [{"type": "PARKING_TIME", "price": 6.00, "vat": 19.0, "step_size": 300}]},
    ],
    "last_updated": "2019-01-01T00:00:00Z",
}
SESSION = {
    "start_date_time": "2019-01-07T16:30:00Z",
    "end_date_time": "2019-01-07T17:40:00Z",
    "time_zone": "Europe/Berlin",
    "charging_periods": [
        {
            "start_date_time": "2019-01-07T16:30:00Z",
            "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 1}],
        },
        {"start_date_time": "2019-01-07T17:30:00Z", "dimensions": [{"type": "PARKING_TIME", "volume": 0.1667}]},
    ],
}


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def run(*args: str) -> dict:
    out = StringIO()
    call_command("price", *args, stdout=out)
    return json.loads(out.getvalue())


def test_prices_a_session_file(tmp_path: Path) -> None:
    result = run(write(tmp_path, "t.json", TARIFF), write(tmp_path, "s.json", SESSION))
    # 17:30-18:30 Berlin: half the energy before 18:00 (0.20), half after (0.30); parking
    # 0.1667 h is 600.12 s, billed as three 5-minute steps.
    assert result["total_energy_cost"] == {"excl_vat": "2.50", "incl_vat": "2.98"}
    assert result["total_fixed_cost"] == {"excl_vat": "0.50", "incl_vat": "0.60"}
    assert result["total_parking_cost"] == {"excl_vat": "1.50", "incl_vat": "1.79"}
    # VAT per rate (BR-CO-17): 19 % of 4.00 is 0.76 and 20 % of 0.50 is 0.10, so 5.36; the VAT of
    # the lines one by one (0.19 + 0.29 + 0.10 + 0.29) made it 5.37.
    assert result["total_cost"] == {"excl_vat": "4.50", "incl_vat": "5.36"}
    assert result["vat_breakdown"] == [{"rate": "19", "taxable_amount": "4.00", "vat_amount": "0.76"},
                                       {"rate": "20", "taxable_amount": "0.50", "vat_amount": "0.10"}]
    quantities = (result["total_energy"], result["total_time"], result["total_parking_time"])
    assert quantities == ("10.0000", "1.1667", "0.1667")
    assert result["total_time_cost"] == result["total_reservation_cost"] == {"excl_vat": "0.00", "incl_vat": "0.00"}
    assert [line["dimension"] for line in result["lines"]] == ["FLAT", "ENERGY", "ENERGY", "PARKING_TIME"]
    assert sum(Decimal(line["amount_excl_vat"]) for line in result["lines"]) == Decimal("4.50")


def test_time_zone_option_overrides_the_session(tmp_path: Path) -> None:
    result = run(write(tmp_path, "t.json", TARIFF), write(tmp_path, "s.json", SESSION), "--time-zone", "UTC")
    assert result["total_energy_cost"]["excl_vat"] == "2.00"


def test_accepts_an_ocpi_cdr(tmp_path: Path) -> None:
    cdr = json.loads(CDR)
    result = run(write(tmp_path, "t.json", cdr["tariffs"][0]), write(tmp_path, "cdr.json", CDR),
                 "--time-zone", "Europe/Brussels")  # fmt: skip
    assert result["total_cost"] == {"excl_vat": "4.00", "incl_vat": "4.40"}


# ---------------------------------------------------------------------------------------------
# Time zone of a raw OCPI CDR.

EVENING_TARIFF = {
    **TARIFF,
    "elements": [
        {"price_components": [{"type": "ENERGY", "price": 0.20, "step_size": 1}],
         "restrictions": {"start_time": "18:00", "end_time": "00:00"}},
        {"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]},
    ],
}  # fmt: skip


def evening_cdr(cdr_location: dict | None) -> dict:
    """An OCPI 2.2.1 CDR (no time zone) of 10 kWh from 18:00 to 19:00 Berlin time (17:00 UTC)."""
    cdr = {
        "country_code": "DE", "party_id": "ALL", "id": "CDR-1",
        "start_date_time": "2019-01-07T17:00:00Z", "end_date_time": "2019-01-07T18:00:00Z",
        "currency": "EUR",
        "charging_periods": [{"start_date_time": "2019-01-07T17:00:00Z",
                              "dimensions": [{"type": "ENERGY", "volume": 10}, {"type": "TIME", "volume": 1}]}],
    }  # fmt: skip
    if cdr_location is not None:
        cdr["cdr_location"] = cdr_location
    return cdr


@pytest.mark.django_db
def test_cdr_is_priced_in_the_time_zone_of_our_location(tmp_path: Path) -> None:
    location = LocationFactory(time_zone="Europe/Berlin")
    cdr = evening_cdr({"id": str(location.pk), "name": location.name, "city": location.city})
    result = run(write(tmp_path, "t.json", EVENING_TARIFF), write(tmp_path, "cdr.json", cdr))
    assert result["total_cost"]["excl_vat"] == "2.00"  # 18:00-19:00 Berlin, not 17:00-18:00 UTC (3.50)


@pytest.mark.django_db
def test_time_zone_option_beats_the_location(tmp_path: Path) -> None:
    location = LocationFactory(time_zone="Europe/Berlin")
    cdr = evening_cdr({"id": str(location.pk), "name": location.name})
    result = run(write(tmp_path, "t.json", EVENING_TARIFF), write(tmp_path, "cdr.json", cdr), "--time-zone", "UTC")
    assert result["total_cost"]["excl_vat"] == "3.50"


@pytest.mark.django_db
@pytest.mark.parametrize("known", ["other name", "unknown id", "no cdr_location"])
def test_cdr_without_a_known_location_is_refused_naming_the_option(tmp_path: Path, known: str) -> None:
    location = LocationFactory(time_zone="Europe/Berlin")
    cdr_location = {
        "other name": {"id": str(location.pk), "name": "Gent Zuid"},
        "unknown id": {"id": str(location.pk + 1000), "name": location.name},
        "no cdr_location": None,
    }[known]
    cdr_path = write(tmp_path, "cdr.json", evening_cdr(cdr_location))
    with pytest.raises(CommandError, match=r"carries no time zone.*give --time-zone") as raised:
        call_command("price", write(tmp_path, "t.json", EVENING_TARIFF), cdr_path)
    assert raised.value.returncode == 2
    assert "\n" not in str(raised.value)


def test_raw_cdr_process_exits_2_with_one_stderr_line_naming_the_option(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", "price", write(tmp_path, "t.json", EVENING_TARIFF),
         write(tmp_path, "cdr.json", evening_cdr({"id": "LOC1", "name": "Gent Zuid"}))],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "--time-zone" in lines[0] and "cdr.json: time_zone:" in lines[0]


@pytest.mark.parametrize(
    ("tariff", "session", "message"),
    [
        (None, SESSION, "cannot read file"),
        ("{not json", SESSION, "not valid JSON"),
        (TARIFF, {**SESSION, "charging_periods": [{"start_date_time": "2019-01-07T16:30:00Z",
                                                    "dimensions": [{"type": "VOLTAGE", "volume": 1}]}]},
         "unknown value 'VOLTAGE'"),
        (TARIFF, {**SESSION, "time_zone": "Europe/Atlantis"}, "unknown time zone"),
        ({**TARIFF, "currency": "EURO"}, SESSION, "unknown ISO 4217"),
    ],
)  # fmt: skip
def test_bad_files_fail_with_one_line_and_exit_code_2(tmp_path: Path, tariff, session, message: str) -> None:
    tariff_path = str(tmp_path / "missing.json") if tariff is None else write(tmp_path, "t.json", tariff)
    with pytest.raises(CommandError, match=message) as raised:
        call_command("price", tariff_path, write(tmp_path, "s.json", session))
    assert raised.value.returncode == 2
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("session", "message"),
    [("[1, 2", "not valid JSON"), ({**SESSION, "time_zone": "Mars/Base"}, "unknown time zone 'Mars/Base'")],
)
def test_process_exits_2_with_one_stderr_line_and_no_traceback(tmp_path: Path, session, message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", "price", write(tmp_path, "t.json", TARIFF), write(tmp_path, "s.json", session)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in completed.stderr


def test_spec_tariff_with_all_fields_is_accepted(tmp_path: Path) -> None:
    jpy = json.loads(SPEC_TARIFFS[7])
    session = {**SESSION, "time_zone": "Asia/Tokyo"}
    result = run(write(tmp_path, "t.json", jpy), write(tmp_path, "s.json", session))
    assert result["currency"] == "JPY"
    assert "." not in result["total_cost"]["excl_vat"]


# ---------------------------------------------------------------------------------------------
# Batch: --jsonl.

BAD_START_TIME = copy.deepcopy(TARIFF)
BAD_START_TIME["elements"][2]["restrictions"] = {"start_time": "25:00"}


def jsonl(*lines: object) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


BATCH = jsonl(
    {"tariff": TARIFF, "cdr": SESSION},
    {"tariff": BAD_START_TIME, "cdr": SESSION},
    "{not json",
    "",
    {"tariff": TARIFF, "cdr": {**SESSION, "charging_periods": [
        {"start_date_time": "2019-01-07T16:30:00Z", "dimensions": [{"type": "VOLTAGE", "volume": 1}]}]}},
    {"tariff": TARIFF},
    {"tariff": EVENING_TARIFF, "cdr": evening_cdr(None)},
    {"tariff": TARIFF, "cdr": {**SESSION, "time_zone": "UTC"}},
)  # fmt: skip
BATCH_ERRORS = [
    {"line": 2, "error": "tariff: elements[2].restrictions.start_time: '25:00' is not HH:MM"},
    {"line": 3, "error": "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2"
                         " (char 1))"},
    {"line": 5, "error": "cdr: charging_periods[0].dimensions[0].type: unknown value 'VOLTAGE' (expected one of "
                         + ", ".join(CDR_DIMENSIONS) + ")"},
    {"line": 6, "error": "missing 'cdr'"},
    {"line": 7, "error": "cdr: time_zone: the CDR carries no time zone and its cdr_location is not one of our"
                         " locations; give --time-zone (e.g. --time-zone Europe/Berlin)"},
]  # fmt: skip


def assert_batch_output(stdout: str) -> None:
    results = [json.loads(line) for line in stdout.splitlines()]
    assert len(results) == 7  # one per non-blank line, in order
    single = run_single(SESSION)
    assert results[0] == single
    assert [r for r in results if "error" in r] == BATCH_ERRORS
    assert results[6]["total_energy_cost"]["excl_vat"] == "2.00"  # line 8, priced in UTC as its file says


def run_single(session: dict) -> dict:
    out = StringIO()
    with TemporaryDirectory() as folder:
        call_command("price", write(Path(folder), "t.json", TARIFF), write(Path(folder), "s.json", session), stdout=out)
    return json.loads(out.getvalue())


def test_batch_prices_every_good_line_and_reports_bad_ones_with_exit_code_2(tmp_path: Path) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match=r"^5 of 7 lines failed$") as raised:
        call_command("price", "--jsonl", write(tmp_path, "batch.jsonl", BATCH), stdout=out)
    assert raised.value.returncode == 2
    assert_batch_output(out.getvalue())


def test_batch_of_good_lines_exits_0(tmp_path: Path) -> None:
    out = StringIO()
    call_command("price", "--jsonl", write(tmp_path, "batch.jsonl", jsonl(*[{"tariff": TARIFF, "cdr": SESSION}] * 3)),
                 stdout=out)  # fmt: skip
    assert [json.loads(line)["total_cost"]["excl_vat"] for line in out.getvalue().splitlines()] == ["4.50"] * 3


def test_batch_reads_stdin(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "manage.py", "price", "--jsonl", "-"],
        input=BATCH, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert_batch_output(completed.stdout)
    assert completed.stderr.strip().splitlines() == ["CommandError: 5 of 7 lines failed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [(["t.json", "s.json", "--jsonl", "b.jsonl"], "not both"), (["t.json"], "give TARIFF and SESSION"),
     (["--jsonl", "missing.jsonl"], "cannot read file")],
)  # fmt: skip
def test_batch_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as raised:
        call_command("price", *[a if a.startswith("--") else str(tmp_path / a) for a in args])
    assert raised.value.returncode == 2
