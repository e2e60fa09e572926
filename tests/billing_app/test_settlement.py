"""Settlement: a completed session is priced once, on commit, with the tariff in force at its start,
and keeps a frozen copy of that tariff."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app.models import PriceComponent, SessionCharge
from billing_app.settlement import services
from billing_app.settlement.services import SettlementError
from billing_app.tariffs.cdr import session_pricing_input
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Berlin


def _charge_then_idle(session, *, kwh_per_quarter=Decimal(2750), quarters=4, idle_quarters=2):
    """11 kW for `quarters` quarter hours, then idle for `idle_quarters`."""
    samples, energy = [], session.meter_start_wh
    for q in range(1, quarters + 1):
        energy += kwh_per_quarter
        samples.append(SampleIn(T0 + timedelta(minutes=15 * q), energy, Decimal(11000), Decimal(16)))
    for q in range(quarters + 1, quarters + idle_quarters + 1):
        samples.append(SampleIn(T0 + timedelta(minutes=15 * q), energy, Decimal(0), Decimal(0)))
    session_services.session_record_samples(session=session, samples=samples)
    return energy, T0 + timedelta(minutes=15 * (quarters + idle_quarters))


@pytest.fixture
def session(connector, id_token):
    return session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                          meter_start_wh=Decimal(1000), transaction_ref="tx-settle")


@pytest.fixture
def tariff(operator):
    tariff = factories.energy_tariff(operator, price="0.39", vat="19")
    parking = factories.TariffElementFactory(tariff=tariff, position=1)
    factories.PriceComponentFactory(element=parking, type="PARKING_TIME", price=Decimal("6.00"), vat=Decimal(19),
                                    step_size=60)
    return tariff


def _stop(session, meter, at):
    return session_services.session_stop(session=session, stopped_at=at, meter_stop_wh=meter)


@pytest.mark.django_db(transaction=True)
def test_completed_session_is_priced_on_commit_to_the_cent(session, tariff):
    meter, end = _charge_then_idle(session)
    _stop(session, meter, end)  # eager Celery: settled when the stop commits
    charge = SessionCharge.objects.get(session=session)
    # 11 kWh x 0.39 = 4.29; 0.5 h idle x 6.00 = 3.00; VAT 19 % on each line: 0.82 + 0.57
    assert charge.total_excl_vat == Decimal("7.29")
    assert charge.total_vat == Decimal("1.39")
    assert charge.total_incl_vat == Decimal("8.68")
    assert charge.total_energy_kwh == Decimal("11.000")
    assert charge.total_parking_hours == Decimal("0.5000")
    lines = {line["dimension"]: line for line in charge.breakdown["lines"]}
    assert lines["ENERGY"]["amount_excl_vat"] == "4.29"
    assert lines["PARKING_TIME"]["amount_excl_vat"] == "3.00"
    assert charge.currency == "EUR"


def test_settling_twice_prices_once(session, tariff):
    meter, end = _charge_then_idle(session)
    _stop(session, meter, end)
    first = services.session_settle(session_id=session.pk)
    second = services.session_settle(session_id=session.pk)
    assert first.pk == second.pk
    assert SessionCharge.objects.count() == 1


def test_tariff_edits_after_pricing_change_nothing(session, tariff):
    meter, end = _charge_then_idle(session)
    _stop(session, meter, end)
    charge = services.session_settle(session_id=session.pk)
    PriceComponent.objects.filter(element__tariff=tariff, type="ENERGY").update(price=Decimal("9.99"))
    again = services.session_settle(session_id=session.pk)
    assert again.total_excl_vat == charge.total_excl_vat
    assert again.tariff_snapshot["elements"][0]["price_components"][0]["price"] == Decimal("0.39")


def test_active_session_is_not_settled(session, tariff):
    with pytest.raises(SettlementError, match="active"):
        services.session_settle(session_id=session.pk)
    assert not SessionCharge.objects.exists()


def test_session_without_tariff_is_reported_not_priced(session):
    meter, end = _charge_then_idle(session)
    _stop(session, meter, end)
    with pytest.raises(SettlementError, match="No tariff"):
        services.session_settle(session_id=session.pk)
    assert not SessionCharge.objects.exists()


def test_pricing_input_has_charging_and_idle_periods(session):
    meter, end = _charge_then_idle(session)
    session = _stop(session, meter, end)
    data = session_pricing_input(session)
    assert data["time_zone"] == "Europe/Berlin"
    kinds = [[d["type"] for d in p["dimensions"]] for p in data["charging_periods"]]
    assert kinds == [["ENERGY", "TIME", "MAX_POWER", "MIN_POWER", "MAX_CURRENT", "MIN_CURRENT"], ["PARKING_TIME"]]
    assert data["charging_periods"][0]["dimensions"][0]["volume"] == Decimal(11)
    assert data["charging_periods"][1]["dimensions"][0]["volume"] == Decimal("0.5")


def test_rolled_back_stop_queues_nothing(session, tariff, django_capture_on_commit_callbacks):
    meter, end = _charge_then_idle(session)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _stop(session, meter, end)
    assert len(callbacks) == 1
    assert not SessionCharge.objects.exists()
