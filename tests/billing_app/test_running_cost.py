"""The running cost at each meter reading (issue 16): read at less cost, it prices exactly what reading the whole
session and the tariff row again prices, tariff edits included."""

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app import pricing
from billing_app.models import PriceComponent, TariffAssignment, TariffElement
from billing_app.pricing import ocpi
from billing_app.settlement.running_cost import session_running_cost, session_running_pricing
from billing_app.tariffs.cdr import session_pricing_input
from billing_app.tariffs.services import engine_tariff, tariff_for_session, tariff_import_ocpi, tariff_to_ocpi
from sessions_app import services as session_services
from sessions_app.models import ChargingSession, ConnectorStatusEvent
from sessions_app.services import SampleIn

T0 = datetime(2026, 3, 2, 19, 30, tzinfo=UTC)  # 20:30 in Berlin: the session crosses 22:00 local


def _component(kind, price, step_size=1):
    return {"type": kind, "price": Decimal(price), "vat": Decimal(19), "step_size": step_size}


def _tariff_data(ocpi_id, elements, **fields):
    return {
        "country_code": "DE",
        "party_id": "EVB",
        "id": ocpi_id,
        "currency": "EUR",
        "elements": elements,
        "last_updated": "2026-01-01T00:00:00Z",
        **fields,
    }


TARIFFS = {
    "energy and parking": _tariff_data(
        "RC-1",
        [
            {"price_components": [_component("ENERGY", "0.39")]},
            {"price_components": [_component("PARKING_TIME", "6.00", 60)]},
        ],
    ),
    "time of day, power, duration, bounds": _tariff_data(
        "RC-2",
        [
            {"price_components": [_component("FLAT", "0.49")]},
            {"price_components": [_component("ENERGY", "0.69")], "restrictions": {"min_power": Decimal(22)}},
            {
                "price_components": [_component("ENERGY", "0.59")],
                "restrictions": {"start_time": "07:00", "end_time": "22:00"},
            },
            {
                "price_components": [_component("ENERGY", "0.45")],
                "restrictions": {"start_time": "22:00", "end_time": "07:00"},
            },
            {"price_components": [_component("TIME", "1.20", 60)], "restrictions": {"min_duration": 5400}},
            {
                "price_components": [_component("PARKING_TIME", "6.00", 300)],
                "restrictions": {"start_time": "08:00", "end_time": "23:00"},
            },
        ],
        max_price={"excl_vat": Decimal("40.00")},
        evbilling_parking_grace_minutes=10,
    ),
    "time with a minimum price": _tariff_data(
        "RC-3",
        [
            {"price_components": [_component("TIME", "2.40", 300)]},
        ],
        min_price={"excl_vat": Decimal("5.00"), "incl_vat": Decimal("5.95")},
    ),
}


def _readings(seed):
    """Two-minute readings over 4 h: charging with power around 22 kW, then idle (with trickle), then charging
    again."""
    chance = random.Random(seed)
    energy, samples = Decimal(1000), []
    for step in range(1, 121):
        at = T0 + timedelta(minutes=2 * step)
        if step <= 70 or step > 100:
            power = Decimal(chance.choice([11000, 18000, 24000, 30000]))
            energy += power / 30
            samples.append(SampleIn(at, energy, power, Decimal(chance.choice([16, 32]))))
        else:
            energy += chance.choice([0, 0, 5])
            samples.append(SampleIn(at, energy, Decimal(0), Decimal(0)))
    return samples


def _assign(operator, data):
    tariff = tariff_import_ocpi(operator=operator, data=data)
    TariffAssignment.objects.create(tariff=tariff)
    return tariff


def _straightforward(session):
    """The running cost's input read the plain way: the tariff row and every sample again."""
    tariff = tariff_for_session(session)
    return ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff)), ocpi.session_from_json(session_pricing_input(session))


def _assert_same_as_straightforward(session_pk):
    session = ChargingSession.objects.get(pk=session_pk)  # the gateway reads the session at each reading
    tariff, priced, _currency = session_running_pricing(session)
    plain_tariff, plain = _straightforward(ChargingSession.objects.get(pk=session_pk))
    # each path puts the end of an active session at its own "now" (whole seconds): the one difference
    priced = dataclasses.replace(priced, end_date_time=plain.end_date_time)
    assert tariff == plain_tariff
    assert priced == plain
    assert pricing.price_session(tariff=tariff, session=priced) == pricing.price_session(
        tariff=plain_tariff, session=plain
    )
    return priced


def _start(connector, id_token, ref):
    return session_services.session_start(
        connector=connector, id_token=id_token, started_at=T0, meter_start_wh=Decimal(1000), transaction_ref=ref
    )


def _suspend(connector, minutes, status):
    at = T0 + timedelta(minutes=minutes)
    ConnectorStatusEvent.objects.create(
        station=connector.station, connector_number=connector.number, status=status, timestamp=at, received_at=at
    )


@pytest.mark.parametrize("name", list(TARIFFS))
def test_each_reading_prices_what_reading_everything_again_prices(name, operator, connector, id_token):
    _assign(operator, TARIFFS[name])
    _suspend(connector, 150, "SuspendedEVSE")  # the charger pauses in the idle stretch, then the car sits
    _suspend(connector, 170, "SuspendedEV")
    session = _start(connector, id_token, f"tx-rc-{name}")
    samples, chance = _readings(seed=len(name)), random.Random(7)
    done, counts = 0, []
    while done < len(samples):
        batch = chance.choice([1, 1, 1, 2, 5])  # mostly one reading per MeterValues, sometimes a few
        session_services.session_record_samples(session=session, samples=samples[done : done + batch])
        done += batch
        counts.append(len(_assert_same_as_straightforward(session.pk).charging_periods))
    assert max(counts) >= 4  # charging, idle (split where the charger suspended), charging again


def test_a_tariff_edit_prices_the_next_reading(operator, connector, id_token):
    tariff = _assign(operator, TARIFFS["time of day, power, duration, bounds"])
    session = _start(connector, id_token, "tx-rc-edit")
    samples = _readings(seed=3)
    session_services.session_record_samples(session=session, samples=samples[:40])
    before = session_running_cost(ChargingSession.objects.get(pk=session.pk))
    assert engine_tariff(tariff_for_session(session)) is engine_tariff(tariff_for_session(session))  # kept

    flat = PriceComponent.objects.get(element__tariff=tariff, type="FLAT")
    flat.price = Decimal("10.49")  # as the element's admin page saves it: the tariff row itself is not saved
    flat.save()
    session_services.session_record_samples(session=session, samples=samples[40:41])
    _assert_same_as_straightforward(session.pk)
    after = session_running_cost(ChargingSession.objects.get(pk=session.pk))
    assert after > before + Decimal("11.90")  # the flat fee went up by 10.00 + 19 % VAT

    fast = TariffElement.objects.get(tariff=tariff, min_power__isnull=False)
    fast.min_power = Decimal(15)  # the 0.69 energy price from 15 kW on, not 22
    fast.save()
    session_services.session_record_samples(session=session, samples=samples[41:42])
    _assert_same_as_straightforward(session.pk)

    element = TariffElement.objects.create(tariff=tariff, position=9)  # time before 90 minutes: 3.00 an hour
    PriceComponent.objects.create(element=element, type="TIME", price=Decimal("3.00"), vat=Decimal(19))
    session_services.session_record_samples(session=session, samples=samples[42:43])
    _assert_same_as_straightforward(session.pk)

    element.delete()
    session_services.session_record_samples(session=session, samples=samples[43:44])
    _assert_same_as_straightforward(session.pk)

    tariff_import_ocpi(
        operator=operator,
        data={**TARIFFS["time of day, power, duration, bounds"], "max_price": {"excl_vat": Decimal("12.00")}},
    )
    session_services.session_record_samples(session=session, samples=samples[44:45])
    _assert_same_as_straightforward(session.pk)
    assert session_running_cost(ChargingSession.objects.get(pk=session.pk)) == Decimal("14.28")  # 12.00 + 19 %


def test_a_reading_that_arrives_late_is_priced(operator, connector, id_token):
    """A charger that was offline sends its buffered readings after newer ones: the session is read again."""
    _assign(operator, TARIFFS["time of day, power, duration, bounds"])
    session = _start(connector, id_token, "tx-rc-late")
    samples = _readings(seed=5)
    session_services.session_record_samples(session=session, samples=samples[:10] + samples[12:20])
    _assert_same_as_straightforward(session.pk)
    late = samples[10]
    session_services.session_record_samples(
        session=session, samples=[SampleIn(late.taken_at, late.energy_wh, Decimal(48000), Decimal(70))]
    )
    priced = _assert_same_as_straightforward(session.pk)
    assert priced.charging_periods[0].max_power == Decimal(48)


def test_no_reading_yet_and_readings_at_the_start_cost_nothing(operator, connector, id_token):
    _assign(operator, TARIFFS["energy and parking"])
    session = _start(connector, id_token, "tx-rc-none")
    assert session_running_pricing(ChargingSession.objects.get(pk=session.pk)) is None
    session_services.session_record_samples(session=session, samples=[SampleIn(T0, Decimal(1000), Decimal(0))])
    assert session_running_pricing(ChargingSession.objects.get(pk=session.pk)) is None
    session_services.session_record_samples(
        session=session, samples=[SampleIn(T0 + timedelta(minutes=6), Decimal(2100), Decimal(11000))]
    )
    _assert_same_as_straightforward(session.pk)
    assert session_running_cost(ChargingSession.objects.get(pk=session.pk)) == Decimal("0.51")  # 1.1 kWh x 0.39
