"""A plan at settlement: member tariff, discounts, waived fees and included kWh consumed in order,
with explicit plan lines whose amounts are rounded once and add up to the totals."""
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from django.db import connection, connections

from billing_app import pricing
from billing_app.models import Subscription, SubscriptionPeriod
from billing_app.money import VatSubtotal
from billing_app.plans.reductions import PlanTerms, plan_apply
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories
from tests.billing_app.plan_fixtures import make_plan, settled, subscribed

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _lines(charge):
    return {line["dimension"]: line for line in charge.breakdown["lines"]}


def _breakdown(kwh="10", price="0.39", flat=None):
    components = [pricing.PriceComponent(type="ENERGY", price=D(price), step_size=1, vat=D(19))]
    if flat:
        components.append(pricing.PriceComponent(type="FLAT", price=D(flat), step_size=1, vat=D(19)))
    tariff = pricing.Tariff(currency="EUR", elements=(pricing.TariffElement(price_components=tuple(components)),))
    return pricing.price_session(tariff=tariff, session=pricing.Session(
        start_date_time=T0, end_date_time=T0 + timedelta(hours=1),
        charging_periods=(pricing.ChargingPeriod(start_date_time=T0, energy=D(kwh), time=D(1)),)))


def test_discount_is_one_rounded_line_with_vat_and_totals_are_the_sum():
    applied = plan_apply(_breakdown(kwh="10.37"), PlanTerms(energy_discount_percent=D(15)))
    lines = {line.dimension: line for line in applied.breakdown.lines}
    # 10.37 x 0.39 = 4.0443 -> 4.04; 15 % of 4.04 = 0.606 -> 0.61; VAT 19 % of -0.61 = -0.1159 -> -0.12
    assert lines["ENERGY"].amount_excl_vat == D("4.04")
    assert lines["PLAN_DISCOUNT_ENERGY"].amount_excl_vat == D("-0.61")
    assert lines["PLAN_DISCOUNT_ENERGY"].vat_amount == D("-0.12")
    assert applied.breakdown.total_cost.excl_vat == D("3.43")
    # VAT per rate on the lines (4.04 - 0.61 = 3.43 at 19 %: 0.6517 -> 0.65)
    assert applied.breakdown.vat_breakdown == (VatSubtotal(D(19), D("3.43"), D("0.65")),)
    assert applied.breakdown.total_cost.incl_vat == D("4.08")
    assert applied.breakdown.total_energy_cost.excl_vat == D("3.43")


def test_plan_floor_brings_every_vat_rate_to_zero():
    """Energy 3.90 at 19 % and a 1.50 fee at 7 %, capped to 1.00 (-3.18 / -1.22 per rate); the plan covers the
    10 kWh and waives the fee: -4.40 net, so one PLAN_FLOOR line per rate brings each rate, and the total, to 0."""
    components = (pricing.PriceComponent(type="ENERGY", price=D("0.39"), step_size=1, vat=D(19)),
                  pricing.PriceComponent(type="FLAT", price=D("1.50"), step_size=1, vat=D(7)))
    tariff = pricing.Tariff(currency="EUR", elements=(pricing.TariffElement(price_components=components),),
                            max_price=pricing.Price(D("1.00")))
    breakdown = pricing.price_session(tariff=tariff, session=pricing.Session(
        start_date_time=T0, end_date_time=T0 + timedelta(hours=1),
        charging_periods=(pricing.ChargingPeriod(start_date_time=T0, energy=D(10), time=D(1)),)))
    applied = plan_apply(breakdown, PlanTerms(included_kwh_available=D(10), waive_flat_fee=True))
    floors = [(line.vat_rate, line.amount_excl_vat) for line in applied.breakdown.lines
              if line.dimension == "PLAN_FLOOR"]
    assert floors == [(D(7), D("1.22")), (D(19), D("3.18"))]
    assert applied.breakdown.total_cost == pricing.Price(D("0.00"), D("0.00"))
    assert applied.breakdown.vat_breakdown == (VatSubtotal(D(7), D("0.00"), D("0.00")),
                                               VatSubtotal(D(19), D("0.00"), D("0.00")))


def test_included_kwh_cover_energy_then_discount_applies_to_the_rest():
    applied = plan_apply(_breakdown(kwh="10"), PlanTerms(included_kwh_available=D(4), energy_discount_percent=D(50)))
    lines = {line.dimension: line for line in applied.breakdown.lines}
    assert applied.included_kwh_used == D(4)
    assert lines["PLAN_INCLUDED_ENERGY"].quantity == D(4)
    assert lines["PLAN_INCLUDED_ENERGY"].amount_excl_vat == D("-1.56")  # 4 x 0.39
    assert lines["PLAN_DISCOUNT_ENERGY"].amount_excl_vat == D("-1.17")  # half of 3.90 - 1.56 = 2.34
    assert applied.breakdown.total_cost.excl_vat == D("1.17")


def test_waived_session_fee_and_nothing_without_benefits():
    breakdown = _breakdown(kwh="1", flat="1.50")
    assert plan_apply(breakdown, PlanTerms()).breakdown is breakdown
    applied = plan_apply(breakdown, PlanTerms(waive_flat_fee=True))
    assert applied.breakdown.total_fixed_cost.excl_vat == D("0.00")
    assert applied.breakdown.total_cost.excl_vat == D("0.39")


@pytest.fixture
def plan_tariff(operator):
    return factories.energy_tariff(operator, price="0.50", vat="19")


def test_included_kwh_are_consumed_across_sessions_in_order(operator, connector, id_token, driver, plan_tariff):
    plan = make_plan(operator, included_kwh=D(15))
    subscription = subscribed(driver, plan, start=date(2026, 3, 1))
    first = settled(connector=connector, id_token=id_token, started_at=T0, kwh="10", ref="p-1")
    second = settled(connector=connector, id_token=id_token, started_at=T0 + timedelta(hours=3), kwh="10", ref="p-2")
    third = settled(connector=connector, id_token=id_token, started_at=T0 + timedelta(hours=6), kwh="10", ref="p-3")
    assert first.total_excl_vat == D("0.00")
    assert _lines(first)["PLAN_INCLUDED_ENERGY"]["amount_excl_vat"] == "-5.00"
    assert _lines(second)["PLAN_INCLUDED_ENERGY"]["billed_quantity"] == "5.000"
    assert second.total_excl_vat == D("2.50")  # 5 kWh left to pay at 0.50
    assert "PLAN_INCLUDED_ENERGY" not in _lines(third)
    assert third.total_excl_vat == D("5.00")
    assert second.breakdown["plan"]["included_kwh_left"] == "0.000"
    period = SubscriptionPeriod.objects.get(subscription=subscription)
    assert period.used_kwh == D(15)


def test_settling_twice_consumes_included_kwh_once(operator, connector, id_token, driver, plan_tariff):
    from billing_app.settlement import services

    subscription = subscribed(driver, make_plan(operator, included_kwh=D(100)), start=date(2026, 3, 1))
    charge = settled(connector=connector, id_token=id_token, started_at=T0, kwh="10", ref="p-1")
    assert services.session_settle(session_id=charge.session_id) == charge
    assert SubscriptionPeriod.objects.get(subscription=subscription).used_kwh == D(10)


def test_member_tariff_prices_subscribers_and_others_pay_the_normal_tariff(operator, connector, id_token, driver,
                                                                           plan_tariff):
    member = factories.TariffFactory(operator=operator, name="Members")
    factories.PriceComponentFactory(element__tariff=member, price=D("0.30"), vat=D(19))
    subscribed(driver, make_plan(operator, member_tariff=member), start=date(2026, 3, 1))
    charge = settled(connector=connector, id_token=id_token, started_at=T0, kwh="10", ref="p-1")
    assert charge.tariff == member
    assert charge.total_excl_vat == D("3.00")
    other = factories.IdTokenFactory(operator=operator)
    normal = settled(connector=connector, id_token=other, started_at=T0, kwh="10", ref="p-2")
    assert normal.tariff == plan_tariff
    assert normal.total_excl_vat == D("5.00")


def test_waived_idle_fee_shows_as_a_plan_line(operator, connector, id_token, driver, plan_tariff):
    parking = factories.TariffElementFactory(tariff=plan_tariff, position=1)
    factories.PriceComponentFactory(element=parking, type="PARKING_TIME", price=D("6.00"), vat=D(19), step_size=60)
    subscribed(driver, make_plan(operator, idle_fee_policy="waived"), start=date(2026, 3, 1))
    charge = settled(connector=connector, id_token=id_token, started_at=T0, kwh="10", ref="p-1", idle_minutes=30)
    lines = _lines(charge)
    assert lines["PARKING_TIME"]["amount_excl_vat"] == "3.00"
    assert lines["PLAN_WAIVED_PARKING"]["amount_excl_vat"] == "-3.00"
    assert charge.total_excl_vat == D("5.00")
    assert charge.total_incl_vat == D("5.95")


def test_suspended_subscription_prices_pay_as_you_go(operator, connector, id_token, driver, plan_tariff):
    subscription = subscribed(driver, make_plan(operator, included_kwh=D(100)), start=date(2026, 3, 1))
    Subscription.objects.filter(pk=subscription.pk).update(status="suspended")
    charge = settled(connector=connector, id_token=id_token, started_at=T0, kwh="10", ref="p-1")
    assert "plan" not in charge.breakdown
    assert charge.total_excl_vat == D("5.00")


needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="row locks under concurrency need PostgreSQL")


@pytest.fixture
def no_auto_settlement():
    from billing_app.receivers import settle_completed_session
    from sessions_app.signals import session_completed

    session_completed.disconnect(dispatch_uid="billing_settle_completed_session")
    yield
    session_completed.connect(settle_completed_session, dispatch_uid="billing_settle_completed_session")


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_settlements_never_consume_included_kwh_twice(operator, connector, driver, plan_tariff,
                                                                 no_auto_settlement):
    from billing_app.settlement import services

    subscription = subscribed(driver, make_plan(operator, included_kwh=D(20)), start=date(2026, 3, 1))
    sessions = []
    for i in range(8):
        token = factories.IdTokenFactory(operator=operator, driver=driver)
        start = T0 + timedelta(hours=2 * i)
        session = session_services.session_start(connector=connector, id_token=token, started_at=start,
                                                  meter_start_wh=D(0), transaction_ref=f"race-{i}")
        session_services.session_record_samples(session=session, samples=[
            SampleIn(start + timedelta(minutes=30), D(2500), D(5000)), SampleIn(start + timedelta(hours=1), D(5000),
                                                                               D(5000))])
        session_services.session_stop(session=session, stopped_at=start + timedelta(hours=1), meter_stop_wh=D(5000))
        sessions.append(session.pk)
    barrier = Barrier(len(sessions))

    def settle(session_id):
        try:
            barrier.wait()
            return services.session_settle(session_id=session_id)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        charges = list(pool.map(settle, sessions))
    covered = sum(D(line["billed_quantity"]) for charge in charges for line in charge.breakdown["lines"]
                  if line["dimension"] == "PLAN_INCLUDED_ENERGY")
    assert covered == D(20)
    assert SubscriptionPeriod.objects.get(subscription=subscription).used_kwh == D(20)
    assert sum(charge.total_excl_vat for charge in charges) == D("10.00")  # 40 kWh, 20 paid at 0.50
