"""Sessions in OCPI terms: suspension by the charger, running cost, and the CDR of a priced session."""
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing_app.pricing import ocpi
from billing_app.settlement import services
from billing_app.settlement.running_cost import session_running_cost
from billing_app.tariffs.cdr import cdr_for_charge, session_pricing_input
from sessions_app import services as session_services
from sessions_app.models import ConnectorStatusEvent
from sessions_app.services import SampleIn
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


@pytest.fixture
def tariff(operator):
    tariff = factories.energy_tariff(operator, price="0.39", vat="19")
    parking = factories.TariffElementFactory(tariff=tariff, position=1)
    factories.PriceComponentFactory(element=parking, type="PARKING_TIME", price=Decimal("6.00"), vat=Decimal(19),
                                    step_size=60)
    return tariff


@pytest.fixture
def session(connector, id_token):
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                              meter_start_wh=Decimal(1000), transaction_ref="tx-cdr")
    samples = [SampleIn(T0 + timedelta(minutes=15 * q), Decimal(1000 + 2750 * q), Decimal(11000), Decimal(16))
               for q in range(1, 5)]
    samples += [SampleIn(T0 + timedelta(minutes=15 * q), Decimal(12000), Decimal(0)) for q in range(5, 9)]
    session_services.session_record_samples(session=session, samples=samples)
    return session


def _status(session, minutes, status):
    ConnectorStatusEvent.objects.create(
        station=session.connector.station, connector_number=session.connector.number, status=status,
        timestamp=T0 + timedelta(minutes=minutes), received_at=T0 + timedelta(minutes=minutes),
    )


def _stop(session):
    return session_services.session_stop(session=session, stopped_at=T0 + timedelta(hours=2),
                                         meter_stop_wh=Decimal(12000))


def test_idle_time_while_the_charger_suspends_is_not_parking(session, tariff):
    _status(session, 0, "Charging")
    _status(session, 60, "SuspendedEVSE")  # the charger stops delivering (load management)
    _status(session, 90, "SuspendedEV")  # then the car is full and just parked
    session = _stop(session)
    periods = session_pricing_input(session)["charging_periods"]
    assert [p.get(ocpi.SUSPENDED_KEY, False) for p in periods] == [False, True, False]
    charge = services.session_settle(session_id=session.pk)
    # 11 kWh x 0.39 = 4.29; parking only 30 min (90-120) x 6.00 = 3.00
    assert charge.total_excl_vat == Decimal("7.29")
    assert charge.total_parking_hours == Decimal("1.0000")


def test_without_suspension_the_whole_idle_hour_is_parking(session, tariff):
    charge = services.session_settle(session_id=_stop(session).pk)
    assert charge.total_excl_vat == Decimal("10.29")  # 4.29 + 1 h x 6.00


def test_running_cost_of_an_active_session(session, tariff):
    # priced up to the last reading: 11 kWh and one idle hour
    assert session_running_cost(session) == Decimal("12.25")  # 4.29 + 0.82 VAT + 6.00 + 1.14 VAT


def test_running_cost_before_the_first_reading_is_none_without_an_error(connector, id_token, tariff, caplog):
    """Issue 21 item 11: the gateway asked at every start and logged 'charging_periods: must not be empty'."""
    from sessions_app.ocpp.running_cost import running_cost

    fresh = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                           meter_start_wh=Decimal(1000), transaction_ref="tx-fresh")
    with caplog.at_level("ERROR"):
        assert running_cost(fresh) is None
    assert not [record for record in caplog.records if record.levelname == "ERROR"]


def test_running_cost_without_tariff_is_none(session):
    assert session_running_cost(session) is None


def test_cdr_carries_the_totals_and_reprices_to_the_same_figures(session, tariff, tmp_path):
    charge = services.session_settle(session_id=_stop(session).pk)
    cdr = cdr_for_charge(charge)
    assert cdr["total_cost"] == {"excl_vat": Decimal("10.29"), "incl_vat": Decimal("12.25")}
    assert cdr["cdr_location"]["country"] == "DEU"
    assert cdr["tariffs"][0]["id"] == charge.tariff.ocpi_id
    assert all(p["tariff_id"] == charge.tariff.ocpi_id for p in cdr["charging_periods"])
    (tmp_path / "tariff.json").write_text(ocpi.dumps(cdr["tariffs"][0]))
    (tmp_path / "cdr.json").write_text(ocpi.dumps(cdr))
    result = subprocess.run(
        [sys.executable, "manage.py", "price", str(tmp_path / "tariff.json"), str(tmp_path / "cdr.json"),
         "--time-zone", "Europe/Berlin"], cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    repriced = json.loads(result.stdout)
    assert repriced["total_cost"] == {"excl_vat": "10.29", "incl_vat": "12.25"}


def test_cdr_export_command(session, tariff, capsys):
    charge = services.session_settle(session_id=_stop(session).pk)
    call_command("cdr_export", str(charge.session_id))
    assert ocpi.loads(capsys.readouterr().out)["session_id"] == str(charge.session_id)


def test_cdr_export_of_an_unpriced_session_is_an_error(session):
    with pytest.raises(CommandError, match="not been priced") as error:
        call_command("cdr_export", str(session.pk))
    assert error.value.returncode == 2
