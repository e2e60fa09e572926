"""Calibration-law mode (German Eichrecht, issue 18): at such a location the energy billed is exactly what
the meter signed (end - begin), and a session whose signed readings are missing or invalid is priced but held
for review: nothing is captured at localstripe, nothing invoiced, until the operator decides. Outside the
mode the signatures are checked for information only."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_app.models import ChargeReview, Invoice, Payment, SessionCharge
from billing_app.payments import stripe_client
from billing_app.settlement.review import charge_review_accept
from sessions_app import services as session_services
from sessions_app.models import MeterSignatureCheck
from sessions_app.ocmf.signing import TestMeter
from sessions_app.services import SampleIn, SignedReadingIn
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver

pytestmark = pytest.mark.django_db
METER = TestMeter("calibration-law tests", serial="TM-CAL")


@pytest.fixture
def station(operator):
    connector = factories.ConnectorFactory(station__location__operator=operator,
                                           station__location__calibration_law=True)
    session_services.meter_key_register(station=connector.station, evse_number=None, public_key=METER.public_key_hex,
                                        meter_serial="TM-CAL", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    return connector.station


@pytest.fixture
def eur_tariff(settings, operator):
    settings.PAYMENT_HOLD_DEFAULT = Decimal(30)
    return factories.energy_tariff(operator, price="0.45", vat="19")


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


def _session(station, capture, *, measured_wh: str, signed: tuple[int, int] | None, tamper: bool = False):
    """One hour on the station from register 0, the charger reporting `measured_wh` at its stop and its meter
    signing `signed` (begin, end Wh) unless None; settlement, receipt and payment run on commit."""
    operator = station.location.operator
    token = factories.IdTokenFactory(operator=operator, driver=payg_driver(operator))
    assert session_services.token_authorize(station=station, uid=token.uid).accepted
    start = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    stop = start + timedelta(hours=1)
    session = session_services.session_start(connector=station.connectors.first(), id_token=token, started_at=start,
                                              meter_start_wh=Decimal(0), transaction_ref="tx-cal")
    session_services.session_record_samples(session=session, samples=[SampleIn(start + timedelta(minutes=30),
                                                                                Decimal(measured_wh) / 2)])
    if signed is not None:
        begin = METER.reading(at=start, wh=signed[0], tx="B", id_tag=token.uid)
        end = METER.reading(at=stop, wh=signed[1], tx="E", id_tag=token.uid)
        if tamper:
            end = end.replace(f'"RV":{Decimal(signed[1]) / 1000:.3f}', '"RV":99.000')
        readings = [begin, end]
        session_services.session_signed_values_record(session=session, readings=[
            SignedReadingIn(taken_at=at, signed_data=text, format="OCMF", encoding="plain", ocmf=text, context=ctx)
            for at, text, ctx in ((start, readings[0], "Transaction.Begin"), (stop, readings[1], "Transaction.End"))])
    with capture(execute=True):
        session_services.session_stop(session=session, stopped_at=stop, meter_stop_wh=Decimal(measured_wh))
    return session


def _nothing_taken(session):
    (hold,) = Payment.objects.filter(session=session)
    assert (hold.kind, hold.status, hold.amount_captured) == ("session_hold", "authorized", Decimal(0))
    assert stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)["status"] == "requires_capture"
    assert not Invoice.objects.filter(session=session).exists()


def test_the_energy_billed_is_the_signed_difference(stripe_server, station, eur_tariff,
                                                    django_capture_on_commit_callbacks):
    # the charger's own register says 11,000.4 Wh; the meter signed 11.000 kWh (1 Wh resolution): billed 11.000
    session = _session(station, django_capture_on_commit_callbacks, measured_wh="11000.4", signed=(0, 11_000))
    charge = SessionCharge.objects.get(session=session)
    assert session.signature_check.status == MeterSignatureCheck.Status.VERIFIED
    assert (charge.total_energy_kwh, charge.total_incl_vat) == (Decimal("11.000"), Decimal("5.89"))  # 4.95 + 0.94
    assert not ChargeReview.objects.exists()
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.89"))


def test_an_unsigned_session_is_held_and_not_captured_until_accepted(stripe_server, station, eur_tariff, staff,
                                                                     django_capture_on_commit_callbacks):
    session = _session(station, django_capture_on_commit_callbacks, measured_wh="11000", signed=None)
    review = ChargeReview.objects.get(charge__session=session)
    assert (review.status, review.reason_codes) == ("held", ["meter_unsigned"])
    _nothing_taken(session)
    with django_capture_on_commit_callbacks(execute=True):
        charge_review_accept(charge_id=review.charge_id, by=staff)
    hold = Payment.objects.get(session=session)
    assert (hold.status, hold.amount_captured) == ("captured", Decimal("5.89"))


def test_a_tampered_signed_reading_is_held_with_its_reasons(stripe_server, station, eur_tariff,
                                                            django_capture_on_commit_callbacks):
    session = _session(station, django_capture_on_commit_callbacks, measured_wh="11000", signed=(0, 11_000),
                       tamper=True)
    review = ChargeReview.objects.get(charge__session=session)
    assert {"signature_invalid", "energy_mismatch"} <= set(review.reason_codes)
    _nothing_taken(session)


def test_a_gap_between_signed_and_measured_energy_is_held(stripe_server, station, eur_tariff,
                                                          django_capture_on_commit_callbacks):
    session = _session(station, django_capture_on_commit_callbacks, measured_wh="12000", signed=(0, 11_000))
    assert ChargeReview.objects.get(charge__session=session).reason_codes == ["energy_mismatch"]
    _nothing_taken(session)


def test_outside_the_mode_an_unsigned_session_is_billed_and_its_check_stored(stripe_server, station, eur_tariff,
                                                                              django_capture_on_commit_callbacks):
    station.location.calibration_law = False
    station.location.save()
    session = _session(station, django_capture_on_commit_callbacks, measured_wh="11000", signed=None)
    assert session.signature_check.status == MeterSignatureCheck.Status.UNSIGNED
    assert not ChargeReview.objects.exists()
    assert Payment.objects.get(session=session).status == "captured"
