"""The demo's guest charging: Voltara's ad hoc tariff and the connector `make run` prints."""
from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from guests_app import prices
from guests_app.demo import demo_connector, load_guest_tariff
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_demo_ad_hoc_tariff_prices_the_demo_connector(guest_connector):
    operator = factories.OperatorFactory(name="Voltara Charging", invoice_prefix="VOLTD")
    factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOLT-01-01",
                               station__location__calibration_law=True)  # Berlin: signed readings needed
    connector = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOLT-02-01")
    assert load_guest_tariff() is True and load_guest_tariff() is False  # once
    assert demo_connector() == connector
    price = prices.connector_price(connector)
    assert price.tariff_id == "VOLTARA-AD-HOC" and price.hold == "50.00"
    out = StringIO()
    call_command("guest_demo", "--setup", stdout=out)
    assert "http://127.0.0.1:8000/charge/VOLT-02-01/1/" in out.getvalue()


def test_the_setup_goes_on_without_the_demo_operator():
    out = StringIO()
    call_command("guest_demo", "--setup", stdout=out)
    assert "no demo charger" in out.getvalue()


def test_past_guests_of_the_demo_paid_by_card_with_dated_receipts(client):
    from datetime import timedelta

    from billing_app.models import Invoice, Payment
    from billing_app.payments.services import RefundError, payment_refund
    from guests_app.demo import GUEST_HISTORY, load_guest_history
    from guests_app.models import GuestSession

    operator = factories.OperatorFactory(name="Voltara Charging", invoice_prefix="VOLTD")
    connector = factories.ConnectorFactory(station__location__operator=operator, station__ocpp_identity="VOLT-02-01")
    load_guest_tariff()
    assert load_guest_history() == len(GUEST_HISTORY) and load_guest_history() == 0  # once
    guests = GuestSession.objects.filter(connector=connector, state=GuestSession.State.ENDED)
    assert guests.count() == len(GUEST_HISTORY)
    for guest in guests.select_related("session", "payment"):
        receipt = Invoice.objects.get(session=guest.session)
        assert receipt.state == Invoice.State.PAID and receipt.driver_id == guest.driver_id
        assert receipt.issued_at == guest.session.stopped_at + timedelta(minutes=2)
        captured = sum(p.amount_captured for p in Payment.objects.filter(session=guest.session, status="captured"))
        assert captured == receipt.total_incl_vat and guest.payment.session_id == guest.session_id
        assert guest.payment.amount_requested == guest.hold_amount
    page = client.get("/charge-session/demo-guest-1/")
    assert page.status_code == 200 and b"/charge-session/demo-guest-1/receipt.pdf" in page.content
    with pytest.raises(RefundError, match="recorded without a Stripe PaymentIntent"):
        payment_refund(payment=guests.first().payment, amount=Decimal("0.10"), reason="t", idempotency_key="g-1")
