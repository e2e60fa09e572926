"""A refund owed is never lost (issue 15, item 3): a credit note with a refund stores what it owes the card
(amount, status) in its issuing transaction; a retried task sends it and a beat sweep sends what a lost task,
a crash or an unreachable Stripe left, each refund once (key per credit note and payment). Plan-fee invoices
paid by card are refunded the same way. All against a real localstripe."""
import os
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from celery.exceptions import Retry
from celery.signals import task_retry
from django.urls import reverse

from billing_app import invoicing
from billing_app.invoicing import CreditNoteError
from billing_app.invoicing import refunds as credit_note_refunds
from billing_app.models import CreditNote, Invoice, Payment, PaymentCustomer, Refund
from billing_app.payments import services as payments
from billing_app.payments import stripe_client
from billing_app.plans import services as plans
from disputes_app import services as disputes
from sessions_app import services as session_services
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver, payg_session_stopped
from tests.billing_app.plan_fixtures import make_plan
from tests.evbilling.api_fixtures import api_for

D = Decimal
DOWN = "http://127.0.0.1:9"  # nothing listens: Stripe unreachable
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_delivery")]


@pytest.fixture
def receipt(stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks) -> Invoice:
    """A paid pay-as-you-go receipt: 11 kWh at 0.39 + 19 % = 5.11 EUR captured from the hold."""
    driver = payg_driver(operator)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    assert session_services.token_authorize(station=payg_station, uid=token.uid).accepted
    session = payg_session_stopped(payg_station, token, ref="tx-refund", capture=django_capture_on_commit_callbacks)
    receipt = Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)
    assert (receipt.state, receipt.total_incl_vat) == (Invoice.State.PAID, D("5.11"))
    return receipt


def _hold(receipt) -> Payment:
    return Payment.objects.get(session_id=receipt.session_id, kind=Payment.Kind.SESSION_HOLD)


def _refunded_at_stripe(payment) -> int:
    """What Stripe (localstripe) says was refunded of the payment's capture, in cents (localstripe counts the
    part of a hold left uncaptured as refunded too: that part is taken off)."""
    payment.refresh_from_db()
    intent = stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)
    uncaptured = int((payment.amount_authorized - payment.amount_captured) * 100)
    return sum(charge["amount_refunded"] for charge in intent["charges"]["data"]) - uncaptured


def test_credit_note_stores_the_refund_it_owes_and_the_task_sends_it(receipt, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Goodwill", amount_incl_vat=D("2.00"),
                                           refund=True)
    assert (note.refund_amount, note.refund_status) == (D("2.00"), "pending")  # as written when issued
    note.refresh_from_db()
    assert note.refund_status == CreditNote.RefundStatus.SUCCEEDED
    hold = _hold(receipt)
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status) == (hold.pk, D("2.00"), "succeeded")
    assert refund.idempotency_key == f"credit-note-{note.pk}-payment-{hold.pk}"
    assert _refunded_at_stripe(hold) == 200


def test_credit_note_without_refund_owes_nothing(receipt):
    note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Kept as credit", amount_incl_vat=D("1.00"))
    assert (note.refund_amount, note.refund_status) == (D("0.00"), CreditNote.RefundStatus.NONE)
    assert credit_note_refunds.credit_notes_refund_pending() == 0
    assert not Refund.objects.exists()


def test_a_lost_task_leaves_the_refund_pending_and_the_sweep_sends_it_once(receipt,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):  # the process dies before its on-commit hooks
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund", amount_incl_vat=D("2.50"),
                                           refund=True)
    assert CreditNote.objects.get(pk=note.pk).refund_status == "pending" and not Refund.objects.exists()
    assert credit_note_refunds.credit_notes_refund_pending() == 1
    assert credit_note_refunds.credit_notes_refund_pending() == 0
    assert CreditNote.objects.get(pk=note.pk).refund_status == "succeeded"
    assert Refund.objects.get().amount == D("2.50")
    assert _refunded_at_stripe(_hold(receipt)) == 250


def test_stripe_down_keeps_the_refund_reserved_and_retries_send_it_once(settings, receipt,
                                                                       django_capture_on_commit_callbacks):
    up = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = DOWN
    with django_capture_on_commit_callbacks(execute=False) as hooks:
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund", amount_incl_vat=D("3.00"),
                                           refund=True)
    with pytest.raises(Retry):
        for hook in hooks:
            hook()  # the task asks to be retried; the refund stays reserved for the retry and the sweep
    assert CreditNote.objects.get(pk=note.pk).refund_status == "pending"
    refund = Refund.objects.get()
    assert (refund.status, refund.amount) == ("pending", D("3.00"))
    assert _hold(receipt).amount_refunded == D("3.00")  # reserved: nothing else can take it meanwhile
    assert credit_note_refunds.credit_notes_refund_pending() == 0  # still down: the sweep waits
    settings.STRIPE_API_HOST = up
    assert credit_note_refunds.credit_notes_refund_pending() == 1
    assert CreditNote.objects.get(pk=note.pk).refund_status == "succeeded"
    assert Refund.objects.get().status == "succeeded" and Refund.objects.count() == 1
    assert _refunded_at_stripe(_hold(receipt)) == 300


def test_the_refund_task_is_retried_while_stripe_is_unreachable():
    task = credit_note_refunds.credit_note_refund_send_task
    assert stripe_client.StripeUnavailable in task.autoretry_for
    assert stripe_client.StripeInProgress in task.autoretry_for


def test_the_sweep_is_on_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert credit_note_refunds.credit_notes_refund_pending_task.name in tasks


def test_a_refund_above_what_the_card_can_still_give_back_is_refused_and_nothing_is_written(
        receipt, django_capture_on_commit_callbacks):
    payments.payment_refund(payment=_hold(receipt), amount=D("3.00"), reason="goodwill", idempotency_key="direct")
    with django_capture_on_commit_callbacks(execute=False):  # owed, not sent yet: it still counts
        invoicing.credit_note_issue(invoice_id=receipt.pk, reason="First", amount_incl_vat=D("2.00"), refund=True)
    assert credit_note_refunds.invoice_refundable(receipt) == D("0.11")  # 5.11 - 3.00 refunded - 2.00 owed
    with pytest.raises(CreditNoteError, match=r"At most 0\.11 EUR"):
        invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Second", amount_incl_vat=D("1.00"), refund=True)
    assert CreditNote.objects.count() == 1
    assert credit_note_refunds.credit_notes_refund_pending() == 1
    assert credit_note_refunds.invoice_refundable(receipt) == D("0.11")
    assert _hold(receipt).amount_refunded == D("5.00")


def test_a_statement_nobody_paid_by_card_takes_no_refund(operator, connector, driver):
    from tests.billing_app.invoice_fixtures import account, charged_session

    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    unpaid = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    with pytest.raises(CreditNoteError, match="Nothing paid by card"):
        invoicing.credit_note_issue(invoice_id=unpaid.pk, reason="x", amount_incl_vat=D("1.00"), refund=True)
    assert not CreditNote.objects.exists()


def test_a_permanent_refusal_fails_the_refund_with_the_reason_for_the_admin(
        receipt, operator, client, django_capture_on_commit_callbacks):
    hold = _hold(receipt)
    Payment.objects.filter(pk=hold.pk).update(stripe_payment_intent_id="pi_unknown_to_stripe")
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund", amount_incl_vat=D("1.00"),
                                           refund=True)
    note.refresh_from_db()
    assert note.refund_status == CreditNote.RefundStatus.FAILED
    assert note.refund_failure_message.startswith("1.00 EUR not refunded")
    assert Refund.objects.get().status == "failed"
    assert _hold(receipt).amount_refunded == D("0.00")  # the refused refund no longer holds the amount
    assert credit_note_refunds.credit_notes_refund_pending() == 0  # failed is final: the sweep leaves it

    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(reverse("admin:billing_app_creditnote_changelist"), {"refund_status": "failed"})
    assert page.status_code == 200 and note.number in page.content.decode()
    assert "Refund failed" in page.content.decode()


def test_the_api_shows_the_refund_and_its_status(receipt, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund", amount_incl_vat=D("2.00"),
                                           refund=True)
    body = api_for(receipt.driver).get(f"/api/v1/credit-notes/{note.pk}/").json()
    assert (body["refund_amount"], body["refund_status"]) == ("2.00", "succeeded")


# --- Plan fees paid by card --------------------------------------------------------------------------

@pytest.fixture
def plan_fee_invoice(stripe_server, operator, connector) -> Invoice:
    """The paid plan-fee invoice of a first period: 9.90 + 19 % = 11.78 EUR charged to the card."""
    driver = payg_driver(operator)
    method = PaymentCustomer.objects.get(driver=driver).default_payment_method_id
    subscription = plans.plan_subscribe(driver=driver, plan=make_plan(operator), payment_method_id=method,
                                        now=datetime(2026, 3, 10, 11, tzinfo=UTC))
    invoice = subscription.periods.get().invoice
    assert (invoice.kind, invoice.state, invoice.total_incl_vat) == (Invoice.Kind.PLAN_FEE, "paid", D("11.78"))
    return invoice


def test_a_plan_fee_paid_by_card_is_refunded(plan_fee_invoice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=plan_fee_invoice.pk, reason="Plan refund", refund=True)
    note.refresh_from_db()
    assert (note.refund_amount, note.refund_status) == (D("11.78"), "succeeded")
    payment = Payment.objects.get(invoice_id=plan_fee_invoice.pk)
    assert (payment.kind, payment.amount_refunded) == (Payment.Kind.INVOICE, D("11.78"))
    assert _refunded_at_stripe(payment) == 1178


def test_a_dispute_about_a_plan_fee_is_resolved_by_refund(plan_fee_invoice, operator,
                                                          django_capture_on_commit_callbacks):
    agent = factories.SupportFactory()
    agent.supported_operators.add(operator)
    ticket = disputes.ticket_open(by=plan_fee_invoice.driver, invoice_id=plan_fee_invoice.pk, reason="other",
                                  description="I cancelled before the renewal")
    ticket = disputes.ticket_transition(ticket=ticket, by=agent, to_status="in_progress")
    with django_capture_on_commit_callbacks(execute=True):
        resolved = disputes.ticket_resolve(ticket=ticket, by=agent, kind="refund", amount=D("5.00"),
                                           explanation="Half the month back")
    note = CreditNote.objects.get(invoice=plan_fee_invoice)
    assert resolved.resolution_reference["credit_note"] == note.number
    assert (note.refund_amount, note.refund_status) == (D("5.00"), "succeeded")
    assert Payment.objects.get(invoice_id=plan_fee_invoice.pk).amount_refunded == D("5.00")


# --- Through the real queue -----------------------------------------------------------------------------

@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL), as in CI")
@pytest.mark.django_db(transaction=True)
def test_the_worker_retries_the_refund_until_stripe_is_back(settings, receipt, celery_worker_redis):
    retried = threading.Event()

    def on_retry(sender=None, **kwargs):
        if sender.name == credit_note_refunds.credit_note_refund_send_task.name:
            retried.set()

    task_retry.connect(on_retry, weak=False)
    up = settings.STRIPE_API_HOST
    settings.STRIPE_API_HOST = DOWN
    try:
        note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Refund", amount_incl_vat=D("1.50"),
                                           refund=True)  # committed: the task goes to the worker through Redis
        assert retried.wait(timeout=20), "the worker never retried the refund"
        assert CreditNote.objects.get(pk=note.pk).refund_status == "pending"  # the first try found Stripe down
        assert Refund.objects.get().status == "pending"
    finally:
        settings.STRIPE_API_HOST = up
        task_retry.disconnect(on_retry)
    deadline = time.monotonic() + 30
    while CreditNote.objects.get(pk=note.pk).refund_status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert CreditNote.objects.get(pk=note.pk).refund_status == "succeeded"  # a retry sent it
    assert Refund.objects.get().status == "succeeded"
    assert _refunded_at_stripe(_hold(receipt)) == 150
