"""The whole money path against a real localstripe: hold, capture, receipt paid; a dispute resolved by
refund gives the money back with a credit note, never above what was captured; re-pricing credits the
difference; a Stripe chargeback opens a ticket."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing_app.models import CreditNote, Invoice, Payment, Refund
from billing_app.payments import stripe_client
from disputes_app import services as disputes
from disputes_app.models import DisputeTicket
from disputes_app.services.resolutions import ResolutionError
from sessions_app import services as session_services
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver, payg_session_stopped, post_webhook, sign, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_session(stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    driver = payg_driver(operator)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    return payg_session_stopped(payg_station, token, ref="tx-e2e", capture=django_capture_on_commit_callbacks)


@pytest.fixture
def agent(operator):
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    return agent


def _ticket_in_progress(session, agent, reason="wrong_amount"):
    ticket = disputes.ticket_open(by=session.driver, session=session, reason=reason, description="Charged too much")
    return disputes.ticket_transition(ticket=ticket, by=agent, to_status="in_progress")


def test_capture_marks_the_receipt_paid(paid_session):
    receipt = Invoice.objects.get(session=paid_session, kind=Invoice.Kind.RECEIPT)
    assert receipt.total_incl_vat == Decimal("5.11")
    assert receipt.state == Invoice.State.PAID
    assert receipt.payment_reference.startswith("pi_")


def test_refund_resolution_refunds_the_card_with_a_credit_note(paid_session, agent,
                                                               django_capture_on_commit_callbacks):
    ticket = _ticket_in_progress(paid_session, agent)
    with django_capture_on_commit_callbacks(execute=True):
        resolved = disputes.ticket_resolve(ticket=ticket, by=agent, kind="refund", amount=Decimal("2.00"),
                                           explanation="The charger over-reported")
    assert resolved.status == "resolved"
    note = CreditNote.objects.get()
    assert note.total_incl_vat == Decimal("2.00")
    refund = Refund.objects.get()
    assert (refund.amount, refund.payment.session_id) == (Decimal("2.00"), paid_session.pk)
    hold = Payment.objects.get(session=paid_session)
    assert hold.amount_refunded == Decimal("2.00")
    assert resolved.resolution_reference["credit_note"] == note.number
    assert stripe_client.payment_intent_retrieve(hold.stripe_payment_intent_id)["status"] == "succeeded"


def test_refund_above_what_was_captured_is_refused_and_nothing_is_written(paid_session, agent):
    ticket = _ticket_in_progress(paid_session, agent)
    with pytest.raises((ResolutionError, disputes.DisputeError), match="captured"):
        disputes.ticket_resolve(ticket=ticket, by=agent, kind="refund", amount=Decimal("5.12"), explanation="x")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    assert not CreditNote.objects.exists() and not Refund.objects.exists()


def test_reprice_credits_the_difference(paid_session, agent, django_capture_on_commit_callbacks):
    ticket = _ticket_in_progress(paid_session, agent)
    with django_capture_on_commit_callbacks(execute=True):
        resolved = disputes.ticket_resolve(ticket=ticket, by=agent, kind="reprice", explanation="Meter fault",
                                           details={"corrected_energy_kwh": Decimal("10")})
    # 10 kWh x 0.39 = 3.90 + 0.74 VAT = 4.64; charged 5.11: 0.47 back
    assert resolved.resolution_reference["repriced_total"] == "4.64"
    assert CreditNote.objects.get().total_incl_vat == Decimal("0.47")
    assert Refund.objects.get().amount == Decimal("0.47")


def test_reprice_that_costs_more_is_refused(paid_session, agent):
    ticket = _ticket_in_progress(paid_session, agent)
    with pytest.raises((ResolutionError, disputes.DisputeError), match="not less"):
        disputes.ticket_resolve(ticket=ticket, by=agent, kind="reprice", explanation="x",
                                details={"corrected_energy_kwh": Decimal("12")})
    assert not CreditNote.objects.exists()


def test_evidence_includes_payments_and_invoices(paid_session, agent):
    ticket = _ticket_in_progress(paid_session, agent)
    parts = ticket.evidence.data if hasattr(ticket, "evidence") else {}
    text = str(parts)
    assert "captured" in text and Invoice.objects.get(session=paid_session).number in text


def test_chargeback_webhook_opens_a_ticket_once(client, paid_session, webhook_endpoint,
                                                django_capture_on_commit_callbacks):
    hold = Payment.objects.get(session=paid_session)
    dispute = {"id": "dp_e2e", "object": "dispute", "amount": 511, "currency": "eur", "status": "needs_response",
               "payment_intent": hold.stripe_payment_intent_id, "charge": "ch_x",
               "evidence_details": {"due_by": int((timezone.now() + timedelta(days=7)).timestamp())}}
    for event_id in ("evt_cb_1", "evt_cb_1"):
        body = stripe_event(event_id, "charge.dispute.created", dispute)
        with django_capture_on_commit_callbacks(execute=True):
            assert post_webhook(client, webhook_endpoint, body, signature=sign(body)).status_code == 200
    ticket = DisputeTicket.objects.get(stripe_dispute_id="dp_e2e")
    assert ticket.session_id == paid_session.pk
    assert ticket.chargeback_amount == Decimal("5.11")
    assert ticket.evidence_due_by is not None


def test_driver_opens_a_dispute_from_their_invoice_only(client, paid_session, operator):
    receipt = Invoice.objects.get(session=paid_session)
    client.force_login(paid_session.driver)
    response = client.post(f"/disputes/new/?invoice={receipt.pk}",
                           {"reason": "wrong_amount", "description": "Too much"})
    assert response.status_code == 302
    ticket = DisputeTicket.objects.get()
    assert (ticket.invoice_id, ticket.session_id) == (receipt.pk, paid_session.pk)
    client.force_login(factories.DriverFactory(operator=operator))
    assert client.get(f"/disputes/new/?invoice={receipt.pk}").status_code == 404
    with pytest.raises(disputes.DisputeNotFound):
        disputes.ticket_open(by=factories.DriverFactory(operator=operator), invoice_id=receipt.pk,
                             reason="other", description="not mine")


def test_support_opens_a_ticket_about_an_invoice_of_their_operator_only(paid_session, agent, other_operator):
    receipt = Invoice.objects.get(session=paid_session)
    ticket = disputes.ticket_open(by=agent, invoice_id=receipt.pk, reason="wrong_amount",
                                  description="Line doubled")
    assert (ticket.operator_id, ticket.driver_id) == (receipt.operator_id, receipt.driver_id)
    stranger = factories.SupportFactory()
    stranger.supported_operators.add(other_operator)
    with pytest.raises(disputes.DisputeNotFound):
        disputes.ticket_open(by=stranger, invoice_id=receipt.pk, reason="wrong_amount", description="x")


@pytest.fixture
def meter_proven(paid_session):
    """The paid session's meter signed its begin and end (11 kWh, as billed) and the signatures verify."""
    from sessions_app.models import MeterSignatureCheck
    from sessions_app.ocmf.signing import TestMeter

    meter = TestMeter("reprice override", serial="TM-RP")
    station = paid_session.connector.station
    session_services.meter_key_register(station=station, evse_number=None, public_key=meter.public_key_hex,
                                        meter_serial=meter.serial, valid_from=paid_session.started_at)
    records = [(paid_session.started_at, paid_session.meter_start_wh, "B"),
               (paid_session.stopped_at, paid_session.meter_stop_wh, "E")]
    session_services.session_signed_values_record(session=paid_session, readings=[session_services.SignedReadingIn(
        taken_at=at, signed_data=text, format="OCMF", encoding="plain", ocmf=text)
        for at, text in ((at, meter.reading(at=at, wh=wh, tx=tx, id_tag="T")) for at, wh, tx in records)])
    check = session_services.session_signatures_verify(session=paid_session)
    assert check.status == MeterSignatureCheck.Status.VERIFIED
    return paid_session


def test_reprice_of_energy_the_meter_proves_needs_an_override_reason(meter_proven, agent,
                                                                     django_capture_on_commit_callbacks):
    ticket = _ticket_in_progress(meter_proven, agent)
    assert ticket.evidence.data["signed_meter_values"]["billed_energy_proven"] is True
    with pytest.raises((ResolutionError, disputes.DisputeError), match="signatures prove"):
        disputes.ticket_resolve(ticket=ticket, by=agent, kind="reprice", explanation="x",
                                details={"corrected_energy_kwh": Decimal("10")})
    assert not CreditNote.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        resolved = disputes.ticket_resolve(ticket=ticket, by=agent, kind="reprice", explanation="Meter replaced",
                                           details={"corrected_energy_kwh": Decimal("10"),
                                                    "signature_override_reason": "meter found faulty on site"})
    assert resolved.resolution_reference["signature_override_reason"] == "meter found faulty on site"
    assert CreditNote.objects.get().total_incl_vat == Decimal("0.47")
