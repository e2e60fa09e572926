"""Impossible meter readings are priced but never billed until reviewed (issue 15, item 1), and an
off-session charge above the hold is capped by the operator: the rules of `sessions_app.plausibility`, the
hold in settlement and payment settlement against a real localstripe, and the review's resolutions."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from auditlog.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from ocpp.v16 import call as call16

from billing_app.invoicing import reconciliation
from billing_app.invoicing.documents import statement_create
from billing_app.models import BillingAccount, ChargeReview, Invoice, Payment, SessionCharge
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.settlement.review import ReviewError, charge_review_accept, charge_review_correct
from billing_app.settlement.services import session_settle as settle
from evbilling.errors import ConflictError, NotFoundError
from sessions_app import services as session_services
from sessions_app.plausibility import (
    ENERGY_ABOVE_MAX_POWER,
    ENERGY_ALLOWANCE_WH,
    REGISTER_DECREASING,
    REGISTER_JUMP,
    deliverable_wh,
    implausible_readings,
)
from sessions_app.services import SampleIn
from tests import factories
from tests.billing_app.invoice_fixtures import charged_session
from tests.billing_app.payment_fixtures import payg_driver
from tests.sessions_app.ocpp_chargers import charger, gateway

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KW22 = Decimal(22)


def _check(*, wh, seconds, samples=(), start_wh=Decimal(0), max_power_kw=KW22):
    return [f.code for f in implausible_readings(
        max_power_kw=max_power_kw, started_at=T0, stopped_at=T0 + timedelta(seconds=seconds),
        meter_start_wh=start_wh, meter_stop_wh=start_wh + Decimal(wh),
        samples=[(T0 + timedelta(seconds=s), start_wh + Decimal(e)) for s, e in samples])]


# --- The rules (pure) ---------------------------------------------------------------------------------

def test_two_billion_wh_in_60_s_on_22_kw_is_above_max_power():
    assert _check(wh=2_000_000_000, seconds=60) == [ENERGY_ABOVE_MAX_POWER]


def test_the_margin_is_ten_percent_plus_200_wh():
    # 22 kW for one hour is 22,000 Wh; x 1.10 + 200 Wh = 24,400 Wh is the most that passes
    assert deliverable_wh(max_power_kw=KW22, seconds=Decimal(3600)) == Decimal(24400)
    assert _check(wh=24_400, seconds=3600) == []
    assert _check(wh=24_401, seconds=3600) == [ENERGY_ABOVE_MAX_POWER]
    assert _check(wh=ENERGY_ALLOWANCE_WH, seconds=0) == []


def test_a_register_that_goes_down_is_implausible():
    assert _check(wh=3000, seconds=3600, samples=[(900, 2000), (1800, 1500), (2700, 2500)]) == [REGISTER_DECREASING]
    assert _check(wh=1000, seconds=3600, samples=[(1800, 1200)]) == [REGISTER_DECREASING]  # sample above stop


def test_a_jump_between_samples_is_implausible_even_when_the_total_is_not():
    # 30 kWh in 3 h is fine for 22 kW, but 29 kWh of it in one minute is not
    assert _check(wh=30_000, seconds=3 * 3600, samples=[(600, 500), (660, 29_500)]) == [REGISTER_JUMP]


def test_samples_outside_the_session_are_not_its_own():
    assert _check(wh=5000, seconds=3600, samples=[(-60, 9_000_000), (3660, 0)]) == []


@given(
    max_power_kw=st.decimals(min_value=Decimal("0.1"), max_value=Decimal(400), places=1),
    steps=st.lists(st.tuples(st.integers(min_value=0, max_value=4 * 3600),
                             st.decimals(min_value=0, max_value=1, places=4)), max_size=30),
    start_wh=st.decimals(min_value=0, max_value=Decimal(10) ** 9, places=3),
)
def test_a_session_within_the_connectors_rating_is_never_held(max_power_kw, steps, start_wh):
    """Readings that never exceed the connector's maximum power (each step a fraction of what max power
    delivers in its time) break no rule, however many, short or long the steps."""
    at, register, samples = T0, start_wh, []
    for seconds, share in steps:
        at += timedelta(seconds=seconds)
        register += (max_power_kw * 1000 * seconds / 3600 * share).quantize(Decimal("0.001"), rounding="ROUND_DOWN")
        samples.append((at, register))
    findings = implausible_readings(max_power_kw=max_power_kw, started_at=T0, stopped_at=at, meter_start_wh=start_wh,
                                    meter_stop_wh=register, samples=samples[:-1])
    assert findings == []


# --- Settlement and payment against localstripe -------------------------------------------------------

@pytest.fixture
def gb_operator(db):
    return factories.OperatorFactory(name="Londoncharge", invoice_prefix="LDN", country="GB", default_currency="GBP")


@pytest.fixture
def station(gb_operator):
    return factories.ConnectorFactory(station__location__operator=gb_operator, station__location__country="GB",
                                      station__location__time_zone="Europe/London", max_power_kw=KW22).station


@pytest.fixture
def gbp_tariff(settings, gb_operator):
    """0.45 GBP/kWh + 20 % VAT (0.54 incl.), no max price (as in the attack): the hold is PAYMENT_HOLD_DEFAULT."""
    settings.PAYMENT_HOLD_DEFAULT = Decimal(30)
    return factories.energy_tariff(gb_operator, price="0.45", vat="20", currency="GBP", country_code="GB")


@pytest.fixture
def staff(gb_operator):
    return factories.OperatorStaffFactory(operator=gb_operator)


def _token(station, driver=None):
    operator = station.location.operator
    token = factories.IdTokenFactory(operator=operator, driver=driver or payg_driver(operator))
    assert session_services.token_authorize(station=station, uid=token.uid).accepted
    return token


def _session(station, token, capture, *, wh, seconds, samples=(), ref="plausible-tx-1", start=None):
    """A session on the station's connector from meter 0, stopped after `seconds` at `wh`; settlement (price,
    receipt, payment) runs on commit. The default transaction ref is not one the factories' `tx-<n>` sequence
    makes: a start with a ref already on the station is a replay and returns that session."""
    start = start or timezone.now() - timedelta(hours=8)
    session = session_services.session_start(connector=station.connectors.first(), id_token=token, started_at=start,
                                              meter_start_wh=Decimal(0), transaction_ref=ref)
    session_services.session_record_samples(session=session, samples=[
        SampleIn(start + timedelta(seconds=s), Decimal(e)) for s, e in samples])
    with capture(execute=True):
        session_services.session_stop(session=session, stopped_at=start + timedelta(seconds=seconds),
                                      meter_stop_wh=Decimal(wh))
    return session


def _intent_status(payment: Payment) -> str:
    return stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)["status"]


def _nothing_taken(session):
    """No capture, no off-session charge, no receipt: in our rows and at localstripe."""
    payments_of_session = list(Payment.objects.filter(session=session))
    assert [(p.kind, p.status, p.amount_captured, p.amount_due) for p in payments_of_session] == [
        ("session_hold", "authorized", Decimal(0), None)]
    assert _intent_status(payments_of_session[0]) == "requires_capture"
    assert not Invoice.objects.filter(session=session).exists()


pytestmark = pytest.mark.django_db


def test_impossible_session_is_priced_but_neither_captured_nor_charged_off_session(
        stripe_server, station, gbp_tariff, django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    charge = SessionCharge.objects.get(session=session)
    assert (charge.total_energy_kwh, charge.total_incl_vat) == (Decimal("2000000.000"), Decimal("1080000.00"))
    review = ChargeReview.objects.get(charge=charge)
    assert (review.status, review.reason_codes) == ("held", [ENERGY_ABOVE_MAX_POWER])
    assert review.priced_total_incl_vat == Decimal("1080000.00")
    _nothing_taken(session)

    payments.payments_settle_pending()  # the beat sweeps change nothing while it is held
    reconciliation.receipts_settle_pending()
    payments.session_payment_settle(session_id=session.pk)
    _nothing_taken(session)


def test_decreasing_register_holds_the_session(stripe_server, station, gbp_tariff,
                                               django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=9000, seconds=3600,
                       samples=[(1200, 6000), (2400, 2000)])
    assert ChargeReview.objects.get(charge__session=session).reason_codes == [REGISTER_DECREASING]
    _nothing_taken(session)


def test_jumping_register_holds_the_session(stripe_server, station, gbp_tariff, django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=20_000, seconds=3 * 3600,
                       samples=[(600, 1000), (660, 19_000)])
    assert ChargeReview.objects.get(charge__session=session).reason_codes == [REGISTER_JUMP]
    _nothing_taken(session)


def test_normal_session_is_captured_and_receipted_to_the_cent(stripe_server, station, gbp_tariff,
                                                              django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=11_000, seconds=3600,
                       samples=[(1800, 5500)])
    charge = SessionCharge.objects.get(session=session)
    assert charge.total_incl_vat == Decimal("5.94")  # 11 kWh x 0.45 = 4.95 + 20 % VAT 0.99
    assert not ChargeReview.objects.exists()
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.94"))
    assert Invoice.objects.get(session=session).state == "paid"


def test_accepting_captures_as_priced(stripe_server, station, gbp_tariff, staff, django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=30_000, seconds=60)
    charge = SessionCharge.objects.get(session=session)
    assert charge.review.status == "held"
    with django_capture_on_commit_callbacks(execute=True):
        review = charge_review_accept(charge_id=charge.pk, by=staff)
    assert (review.status, review.resolved_by) == ("accepted", staff)
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("16.20"))  # 30 kWh x 0.54
    assert _intent_status(hold) == "succeeded"
    receipt = Invoice.objects.get(session=session)
    assert (receipt.state, receipt.total_incl_vat) == ("paid", Decimal("16.20"))
    assert charge_review_accept(charge_id=charge.pk, by=staff).status == "accepted"  # once
    entry = LogEntry.objects.get_for_object(review).latest("timestamp")
    assert entry.actor == staff and entry.changes_dict["status"] == ["held", "accepted"]


def test_correcting_reprices_to_the_cent_then_captures(stripe_server, station, gbp_tariff, staff,
                                                       django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    charge = SessionCharge.objects.get(session=session)
    with django_capture_on_commit_callbacks(execute=True):
        review = charge_review_correct(charge_id=charge.pk, corrected_energy_kwh=Decimal("0.350"), by=staff)
    charge.refresh_from_db()
    # 0.35 kWh x 0.45 = 0.1575 -> 0.16; VAT 20 % of 0.16 = 0.032 -> 0.03
    assert (charge.total_energy_kwh, charge.total_excl_vat, charge.total_vat, charge.total_incl_vat) == (
        Decimal("0.350"), Decimal("0.16"), Decimal("0.03"), Decimal("0.19"))
    assert (review.status, review.corrected_energy_kwh, review.corrected_total_incl_vat,
            review.priced_total_incl_vat) == ("corrected", Decimal("0.350"), Decimal("0.19"), Decimal("1080000.00"))
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("0.19"))
    assert not Payment.objects.filter(session=session, kind="session_extra").exists()
    receipt = Invoice.objects.get(session=session)
    assert (receipt.state, receipt.total_incl_vat) == ("paid", Decimal("0.19"))
    assert [line.amount_incl_vat for line in receipt.lines.all()] == [Decimal("0.19")]
    with pytest.raises(ConflictError):
        charge_review_correct(charge_id=charge.pk, corrected_energy_kwh=Decimal(1), by=staff)


@pytest.mark.parametrize("who", ["other_staff", "other_support", "driver"])
def test_someone_of_another_operator_or_a_driver_finds_no_such_review(
        who, stripe_server, station, gbp_tariff, other_operator, django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    charge = SessionCharge.objects.get(session=session)
    support = factories.SupportFactory()
    support.supported_operators.add(other_operator)
    user = {"other_staff": factories.OperatorStaffFactory(operator=other_operator), "other_support": support,
            "driver": session.driver}[who]
    with pytest.raises(NotFoundError):
        charge_review_accept(charge_id=charge.pk, by=user)
    with pytest.raises(NotFoundError):
        charge_review_correct(charge_id=charge.pk, corrected_energy_kwh=Decimal(1), by=user)
    assert ChargeReview.objects.get(charge=charge).status == "held"
    _nothing_taken(session)


def test_support_staff_of_the_operator_look_but_do_not_resolve(stripe_server, station, gbp_tariff, gb_operator,
                                                              django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    support = factories.SupportFactory()
    support.supported_operators.add(gb_operator)
    with pytest.raises(ReviewError):
        charge_review_accept(charge_id=session.charge.pk, by=support)
    assert ChargeReview.objects.get(charge__session=session).status == "held"


# --- The operator's cap on off-session charges --------------------------------------------------------

@pytest.fixture
def small_hold_tariff(settings, gbp_tariff):
    """The same tariff with a 5.00 GBP hold."""
    settings.PAYMENT_HOLD_DEFAULT = Decimal(5)
    return gbp_tariff


def test_an_extra_below_the_cap_is_charged_off_session(stripe_server, station, small_hold_tariff,
                                                       django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=22_000, seconds=3600)
    assert SessionCharge.objects.get(session=session).total_incl_vat == Decimal("11.88")  # 22 x 0.54
    hold = Payment.objects.get(session=session, kind="session_hold")
    extra = Payment.objects.get(session=session, kind="session_extra")
    assert (hold.status, hold.amount_captured, extra.status, extra.amount_captured) == (
        "captured", Decimal("5.00"), "captured", Decimal("6.88"))
    assert not ChargeReview.objects.exists()


def test_an_extra_above_the_cap_is_held_until_accepted(stripe_server, station, small_hold_tariff, staff,
                                                       django_capture_on_commit_callbacks):
    # 110 kWh in 6 h on 22 kW is plausible; 110 x 0.54 = 59.40, of which 54.40 above the 5.00 hold: above 50.00
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=110_000, seconds=6 * 3600)
    charge = SessionCharge.objects.get(session=session)
    assert (charge.total_incl_vat, station.location.operator.max_off_session_charge) == (Decimal("59.40"),
                                                                                         Decimal("50.00"))
    review = ChargeReview.objects.get(charge=charge)
    assert (review.status, review.reason_codes) == ("held", ["off_session_above_cap"])
    _nothing_taken(session)
    payments.payments_settle_pending()
    _nothing_taken(session)

    with django_capture_on_commit_callbacks(execute=True):
        charge_review_accept(charge_id=charge.pk, by=staff)
    hold = Payment.objects.get(session=session, kind="session_hold")
    extra = Payment.objects.get(session=session, kind="session_extra")
    assert (hold.amount_captured, extra.status, extra.amount_captured) == (Decimal("5.00"), "captured",
                                                                           Decimal("54.40"))
    assert Invoice.objects.get(session=session).state == "paid"


def test_the_cap_is_the_operators_setting(stripe_server, station, small_hold_tariff, gb_operator,
                                          django_capture_on_commit_callbacks):
    gb_operator.max_off_session_charge = Decimal("6.87")
    gb_operator.save()
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=22_000, seconds=3600)
    assert ChargeReview.objects.get(charge__session=session).reason_codes == ["off_session_above_cap"]
    _nothing_taken(session)


def test_the_receipts_sweep_decides_the_cap_before_it_issues_a_receipt(stripe_server, station, gbp_tariff):
    """A session without a hold (never authorized) whose settlement tasks were lost: the sweep that issues
    missing receipts must not hand 59.40 to the collection of unpaid receipts without a review."""
    token = factories.IdTokenFactory(operator=station.location.operator, driver=payg_driver(station.location.operator))
    start = timezone.now() - timedelta(hours=8)
    session = session_services.session_start(connector=station.connectors.first(), id_token=token, started_at=start,
                                              meter_start_wh=Decimal(0), transaction_ref="tx-lost")
    session_services.session_stop(session=session, stopped_at=start + timedelta(hours=6),
                                  meter_stop_wh=Decimal(110_000))
    settle(session_id=session.pk)  # the chained tasks never ran (no commit in this test)
    assert reconciliation.receipts_settle_pending() == 0
    assert ChargeReview.objects.get(charge__session=session).reason_codes == ["off_session_above_cap"]
    assert not Invoice.objects.exists() and not Payment.objects.exists()


def test_a_held_hold_is_renewed_not_left_to_expire(stripe_server, station, gbp_tariff,
                                                   django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    old = Payment.objects.get(session=session)
    payments.payment_holds_maintain(now=timezone.now() + timedelta(days=6))
    old.refresh_from_db()
    renewed = Payment.objects.get(session=session, status="authorized")
    assert old.status == "canceled" and renewed.pk != old.pk
    assert (renewed.amount_captured, renewed.amount_due) == (Decimal(0), None)


# --- Through the real OCPP gateway ---------------------------------------------------------------------

def _settled(session_id: int, *, within: float = 15) -> SessionCharge:
    """The session's charge once settlement (queued on the stop's commit) has stored it."""
    deadline = time.monotonic() + within
    while not (charge := SessionCharge.objects.filter(session_id=session_id).first()):
        assert time.monotonic() < deadline, f"session {session_id} was never priced"
        time.sleep(0.1)
    return charge


@pytest.mark.django_db(transaction=True)
def test_the_attack_through_an_ocpp_charger_is_held_then_corrected_and_captured(stripe_server, station, gbp_tariff,
                                                                               staff):
    """The reproduced attack: meterStart 0, meterStop 2,000,000,000 Wh 60 s later on a 22 kW connector, from the
    `ocpp` library's charger through the gateway to settlement on commit and localstripe. Priced at
    GBP 1,080,000.00 but nothing captured and nothing charged off-session; corrected, it is captured to the cent."""
    token = factories.IdTokenFactory(operator=station.location.operator, driver=payg_driver(station.location.operator))
    started = timezone.now() - timedelta(minutes=2)

    async def scenario(gw):
        async with charger(gw, station.ocpp_identity) as cp:
            auth = await cp.call(call16.Authorize(id_tag=token.uid))
            start = await cp.call(call16.StartTransaction(connector_id=1, id_tag=token.uid, meter_start=0,
                                                          timestamp=started.isoformat()))
            await cp.call(call16.StopTransaction(meter_stop=2_000_000_000, transaction_id=start.transaction_id,
                                                 timestamp=(started + timedelta(seconds=60)).isoformat()))
            return auth, start

    async def main():
        async with gateway() as gw:
            return await scenario(gw)

    auth, start = asyncio.run(main())
    assert (auth.id_tag_info["status"], start.id_tag_info["status"]) == ("Accepted", "Accepted")
    charge = _settled(start.transaction_id)
    assert (charge.currency, charge.total_incl_vat) == ("GBP", Decimal("1080000.00"))
    assert ChargeReview.objects.get(charge=charge).reason_codes == [ENERGY_ABOVE_MAX_POWER]
    held = list(Payment.objects.filter(driver=token.driver))
    assert [(p.kind, p.status, p.amount_authorized, p.amount_captured) for p in held] == [
        ("session_hold", "authorized", Decimal("30.00"), Decimal(0))]
    assert _intent_status(held[0]) == "requires_capture"  # localstripe: held, never captured
    assert not Invoice.objects.filter(session_id=start.transaction_id).exists()

    review = charge_review_correct(charge_id=charge.pk, corrected_energy_kwh=Decimal("0.350"), by=staff)
    hold = _captured(held[0].pk)
    assert (review.corrected_total_incl_vat, hold.amount_captured) == (Decimal("0.19"), Decimal("0.19"))
    intent = stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)
    charged = intent["charges"]["data"][0]
    assert charged["amount"] - charged["amount_refunded"] == 19  # partial capture: the rest refunded at once
    assert Payment.objects.filter(driver=token.driver).count() == 1  # no off-session charge


def _captured(payment_id: int, *, within: float = 15) -> Payment:
    deadline = time.monotonic() + within
    while (payment := Payment.objects.get(pk=payment_id)).status != "captured":
        assert time.monotonic() < deadline, f"payment {payment_id} is still {payment.status}"
        time.sleep(0.1)
    return payment


# --- Postpaid: held off the statement, billed once resolved -------------------------------------------

def test_a_held_postpaid_session_waits_and_lands_on_the_statement_of_the_month_it_is_resolved_in(
        stripe_server, station, gbp_tariff, staff, django_capture_on_commit_callbacks):
    operator = station.location.operator
    driver = payg_driver(operator, card=None, mode=BillingAccount.PaymentMode.POSTPAID)
    connector = station.connectors.first()
    charged_session(connector=connector, driver=driver, started_at=T0 + timedelta(days=1), energy_kwh="10",
                    components=(("ENERGY", "0.45", "20", 1),), currency="GBP")  # 4.50 + 0.90
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    held = _session(station, token, django_capture_on_commit_callbacks, wh=30_000, seconds=60, start=T0)
    march = statement_create(account_id=driver.billing_account.pk, period=T0.date())
    assert march.total_incl_vat == Decimal("5.40")
    assert not march.lines.filter(session=held).exists()

    with django_capture_on_commit_callbacks(execute=True):
        review = charge_review_accept(charge_id=held.charge.pk, by=staff)
    resolved_month = timezone.localdate(review.resolved_at, ZoneInfo("Europe/London"))
    later = statement_create(account_id=driver.billing_account.pk, period=resolved_month)
    assert later.total_incl_vat == Decimal("16.20")  # 30 kWh x 0.54
    assert list(later.lines.values_list("session_id", flat=True)) == [held.pk]
    assert not Payment.objects.filter(session=held).exists()


# --- Admin and support queue --------------------------------------------------------------------------

def test_admin_lists_held_charges_and_resolves_by_correction(stripe_server, station, gbp_tariff, staff, client,
                                                             django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    review = ChargeReview.objects.get(charge__session=session)
    client.force_login(staff)
    listed = client.get(reverse("admin:billing_app_sessioncharge_changelist") + "?review=held")
    assert listed.status_code == 200 and list(listed.context["cl"].result_list) == [session.charge]
    page = client.get(reverse("admin:billing_app_chargereview_resolve", args=[review.pk]))
    assert page.status_code == 200 and b"energy_above_max_power" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:billing_app_chargereview_resolve", args=[review.pk]),
                               {"corrected_energy_kwh": "0.350", "correct": "1"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert (review.status, review.corrected_total_incl_vat) == ("corrected", Decimal("0.19"))
    assert Payment.objects.get(session=session).amount_captured == Decimal("0.19")


def test_admin_accepts_selected_and_support_may_only_look(stripe_server, station, gbp_tariff, staff, gb_operator,
                                                          client, django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=30_000, seconds=60)
    review = ChargeReview.objects.get(charge__session=session)
    changelist = reverse("admin:billing_app_chargereview_changelist")
    support = factories.SupportFactory()
    support.supported_operators.add(gb_operator)
    client.force_login(support)
    assert client.get(reverse("admin:billing_app_chargereview_change", args=[review.pk])).status_code == 200
    refused = client.post(changelist, {"action": "accept_selected", "_selected_action": [review.pk]})
    assert refused.status_code in (200, 302) and ChargeReview.objects.get(pk=review.pk).status == "held"

    client.force_login(staff)
    assert client.get(changelist + "?status__exact=held").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "accept_selected", "_selected_action": [review.pk]})
    assert ChargeReview.objects.get(pk=review.pk).status == "accepted"
    assert Payment.objects.get(session=session).amount_captured == Decimal("16.20")


def test_admin_of_another_operator_cannot_reach_the_review(stripe_server, station, gbp_tariff, other_operator, client,
                                                           django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    review = ChargeReview.objects.get(charge__session=session)
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    url = reverse("admin:billing_app_chargereview_resolve", args=[review.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"accept": "1"}).status_code == 404
    assert ChargeReview.objects.get(pk=review.pk).status == "held"


def test_support_queue_shows_held_sessions_of_supported_operators_only(stripe_server, station, gbp_tariff,
                                                                      gb_operator, other_operator, client,
                                                                      django_capture_on_commit_callbacks):
    session = _session(station, _token(station), django_capture_on_commit_callbacks, wh=2_000_000_000, seconds=60)
    ours, theirs = factories.SupportFactory(), factories.SupportFactory()
    ours.supported_operators.add(gb_operator)
    theirs.supported_operators.add(other_operator)
    client.force_login(ours)
    page = client.get(reverse("disputes:support_queue"))
    assert [r.charge.session for r in page.context["held_reviews"]] == [session]
    assert b"Sessions held for review" in page.content
    client.force_login(theirs)
    page = client.get(reverse("disputes:support_queue"))
    assert page.context["held_reviews"] == [] and b"Sessions held for review" not in page.content
