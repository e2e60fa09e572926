"""Pay now in the portal: a driver pays a receipt whose card payment failed (dunning or overdue) with a saved card,
through the collection's own attempt (`invoicing.collection.receipt_pay_now`), against a real localstripe.

A repeated request never charges twice, a declined card says why in the reader's language and leaves dunning
where it was, a paid receipt stops dunning, and nobody but the receipt's driver sees or pays it."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from django.core import mail
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from billing_app.invoicing import collection
from billing_app.models import Invoice, Payment, ReceiptCollection
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add, payment_methods_list
from evbilling.errors import NotFoundError
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.disputes_app.test_german_pages import english_lines

D = Decimal
LATER = timedelta(hours=2)  # past PAYMENTS_COLLECT_AFTER_MINUTES (60)
DECLINING = "pm_card_chargeCustomerFail"

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks under concurrency need PostgreSQL"
)


def _declined_receipt(operator, connector, capture, *, retry_days: list[int]) -> Invoice:
    """A receipt the sweep tried to charge once, on a declining default card: overdue when `retry_days` is empty,
    else retrying. (The charger started the session from its local list while the driver had no card.)"""
    driver = payg_driver(operator, card=None)
    token = factories.IdTokenFactory(operator=operator, driver=driver)
    start = timezone.now() - timedelta(hours=3)
    with capture(execute=True):
        session = session_services.session_start(
            connector=connector, id_token=token, started_at=start, meter_start_wh=D(0), transaction_ref="offline"
        )
    end = start + timedelta(hours=1)
    session_services.session_record_samples(session=session, samples=[SampleIn(end, D(11000), D(11000))])
    with capture(execute=True):
        session_services.session_stop(session=session, stopped_at=end, meter_stop_wh=D(11000))
    payment_method_add(driver=driver, payment_method_id=DECLINING)
    with capture(execute=True):
        collection.receipts_collect_unpaid(now=timezone.now() + LATER)
    receipt = Invoice.objects.get(session=session, kind=Invoice.Kind.RECEIPT)
    assert receipt.collection.status == ("retrying" if retry_days else "overdue")
    return receipt


@pytest.fixture
def overdue(settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    settings.PAYMENTS_DUNNING_RETRY_DAYS = []
    return _declined_receipt(
        operator, payg_station.connectors.first(), django_capture_on_commit_callbacks, retry_days=[]
    )


@pytest.fixture
def retrying(settings, stripe_server, operator, payg_station, payg_tariff, django_capture_on_commit_callbacks):
    settings.PAYMENTS_DUNNING_RETRY_DAYS = [1, 3]
    return _declined_receipt(
        operator, payg_station.connectors.first(), django_capture_on_commit_callbacks, retry_days=[1, 3]
    )


def _pay_form(client, receipt) -> dict:
    """What the Pay now page sends back: its attempt number and the preselected card."""
    page = client.get(reverse("portal:receipt_pay", args=[receipt.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    return {"attempt": form.initial["attempt"], "payment_method": form.fields["payment_method"].initial}


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.mark.django_db
def test_pay_now_with_a_new_card_pays_an_overdue_receipt_and_stops_dunning(
    client, overdue, intents_created, django_capture_on_commit_callbacks
):
    driver = overdue.driver
    visa = payment_method_add(driver=driver, payment_method_id="pm_card_visa")
    client.force_login(driver)
    page = client.get(reverse("portal:receipt_pay", args=[overdue.pk])).content.decode()
    assert "Overdue since" in page and "Pay €5.11 now" in page and "visa •••• 4242" in page
    mail.outbox.clear()

    response = client.post(
        reverse("portal:receipt_pay", args=[overdue.pk]), {"attempt": 2, "payment_method": visa.id}, follow=True
    )
    assert _messages(response) == [f"Thank you: receipt {overdue.number} is paid."]
    assert 'id="receipt-paid"' in response.content.decode()
    overdue.refresh_from_db()
    payment = Payment.objects.get(idempotency_key=f"evb-receipt-{overdue.pk}-2")
    assert (payment.kind, payment.status, payment.amount_captured, payment.stripe_payment_method_id) == (
        "invoice",
        "captured",
        D("5.11"),
        visa.id,
    )
    intent = stripe_client.payment_intent_retrieve(payment.stripe_payment_intent_id)
    assert (intent["status"], intent["amount"]) == ("succeeded", 511)
    assert (overdue.state, overdue.payment_reference) == ("paid", payment.stripe_payment_intent_id)
    state = ReceiptCollection.objects.get(invoice=overdue)
    assert (state.status, state.attempts, state.driver_attempts) == ("collected", 2, 1)
    assert intents_created == [f"evb-receipt-{overdue.pk}-2"]  # (the sweep's declined first attempt came before)
    with django_capture_on_commit_callbacks(execute=True):  # dunning has stopped: nothing more is charged
        collection.receipts_collect_unpaid(now=timezone.now() + timedelta(days=30))
    assert len(intents_created) == 1 and mail.outbox == []
    assert overdue.number not in client.get(reverse("portal:dashboard")).content.decode()


@pytest.mark.django_db
def test_pay_now_sent_again_charges_nothing_twice(client, overdue, intents_created):
    """A double click or a browser re-sending the form: the same attempt number is the same request."""
    visa = payment_method_add(driver=overdue.driver, payment_method_id="pm_card_visa")
    client.force_login(overdue.driver)
    form = {**_pay_form(client, overdue), "payment_method": visa.id}
    first = client.post(reverse("portal:receipt_pay", args=[overdue.pk]), form, follow=True)
    again = client.post(reverse("portal:receipt_pay", args=[overdue.pk]), form, follow=True)
    assert _messages(first) == _messages(again) == [f"Thank you: receipt {overdue.number} is paid."]
    assert intents_created.count(f"evb-receipt-{overdue.pk}-2") == 1
    assert Payment.objects.filter(invoice_id=overdue.pk, status="captured").count() == 1
    # and a page shown before paying, sent later, finds the receipt paid
    stale = client.post(reverse("portal:receipt_pay", args=[overdue.pk]), {**form, "attempt": 3}, follow=True)
    assert _messages(stale) == [f"Thank you: receipt {overdue.number} is paid."]
    assert len(intents_created) == 1


@pytest.mark.django_db
def test_a_declined_pay_now_says_why_in_german_and_leaves_dunning_as_it_was(client, retrying, intents_created):
    before = ReceiptCollection.objects.get(invoice=retrying)
    driver = retrying.driver
    driver.language = "de"
    driver.save(update_fields=["language"])
    client.force_login(driver)
    form = _pay_form(client, retrying)  # the default card: the declining one
    mail.outbox.clear()

    response = client.post(reverse("portal:receipt_pay", args=[retrying.pk]), form, follow=True)
    assert _messages(response) == [
        "Die Zahlung wurde abgelehnt, es wurde nichts abgebucht. Ihre Karte wurde abgelehnt."
    ]
    page = response.content.decode()
    assert "Noch zu zahlen" in page and "5,11\u00a0€ jetzt bezahlen" in page  # and it can be tried again
    after = ReceiptCollection.objects.get(invoice=retrying)
    assert (after.status, after.next_attempt_at, after.first_failed_at) == (
        "retrying",
        before.next_attempt_at,
        before.first_failed_at,
    )
    assert (after.attempts, after.driver_attempts, after.by_driver) == (2, 1, True)
    assert Payment.objects.get(idempotency_key=f"evb-receipt-{retrying.pk}-2").status == "failed"
    assert Invoice.objects.get(pk=retrying.pk).state == "issued"
    assert mail.outbox == []  # the driver read it on the page

    # the sweep's next retry is still its first: one retry left afterwards, not overdue
    collection.receipts_collect_unpaid(now=before.next_attempt_at + timedelta(minutes=1))
    after = ReceiptCollection.objects.get(invoice=retrying)
    assert (after.status, after.attempts, after.next_attempt_at) == (
        "retrying",
        3,
        after.first_failed_at + timedelta(days=3),
    )


@pytest.mark.django_db
def test_the_pay_now_page_and_the_dashboard_in_german(client, overdue):
    driver = overdue.driver
    driver.language = "de"
    driver.save(update_fields=["language"])
    client.force_login(driver)
    for url in (
        reverse("portal:receipt_pay", args=[overdue.pk]),
        reverse("portal:dashboard"),
        reverse("portal:invoices"),
    ):
        page = client.get(url).content.decode()
        assert english_lines(page) == [], url
        assert "Jetzt bezahlen" in page or "jetzt bezahlen" in page, url
    page = client.get(reverse("portal:receipt_pay", args=[overdue.pk])).content.decode()
    assert f"Beleg {overdue.number} bezahlen" in page and "Überfällig seit" in page
    assert "Ihre Karte wurde abgelehnt" in page


@pytest.mark.django_db
def test_the_declined_reason_in_english(client, overdue):
    client.force_login(overdue.driver)
    response = client.post(reverse("portal:receipt_pay", args=[overdue.pk]), _pay_form(client, overdue), follow=True)
    assert _messages(response) == ["The payment was declined and nothing was charged. Your card was declined."]
    assert ReceiptCollection.objects.get(invoice=overdue).status == "overdue"  # still overdue, since the same day


@pytest.mark.django_db
def test_another_driver_can_neither_see_nor_pay_the_receipt(client, operator, overdue, intents_created):
    other = payg_driver(operator)
    client.force_login(other)
    url = reverse("portal:receipt_pay", args=[overdue.pk])
    assert client.get(url).status_code == 404
    card = payment_methods_list(driver=other)[0].id
    assert client.post(url, {"attempt": 2, "payment_method": card}).status_code == 404
    assert intents_created == []
    assert Invoice.objects.get(pk=overdue.pk).state == "issued"
    # nor with the service directly, nor with someone else's card on their own receipt
    with pytest.raises(NotFoundError):
        collection.receipt_pay_now(driver=other, invoice_id=overdue.pk, attempt=2, payment_method_id=card)
    with pytest.raises(NotFoundError):
        collection.receipt_pay_now(driver=overdue.driver, invoice_id=overdue.pk, attempt=2, payment_method_id=card)
    assert intents_created == []


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_pay_now_fired_ten_times_at_once_charges_once(
    settings, stripe_server, operator, payg_station, payg_tariff, intents_created
):
    settings.PAYMENTS_DUNNING_RETRY_DAYS = []
    receipt = _declined_receipt(operator, payg_station.connectors.first(), _committing, retry_days=[])
    visa = payment_method_add(driver=receipt.driver, payment_method_id="pm_card_visa")
    intents_created.clear()
    barrier, threads = Barrier(10), 10

    def pay(_):
        try:
            barrier.wait()
            return collection.receipt_pay_now(
                driver=receipt.driver, invoice_id=receipt.pk, attempt=2, payment_method_id=visa.id
            )
        except collection.ReceiptPaymentError as error:
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        results = list(pool.map(pay, range(threads)))
    assert intents_created == [f"evb-receipt-{receipt.pk}-2"]
    assert any(isinstance(r, Invoice) for r in results), results
    assert all(isinstance(r, (Invoice, collection.ReceiptPaymentInProgress)) for r in results), results
    assert Invoice.objects.get(pk=receipt.pk).state == "paid"
    assert Payment.objects.filter(invoice_id=receipt.pk, status="captured").count() == 1


class _committing:
    """A transactional test commits for real: on-commit work runs by itself."""

    def __init__(self, execute=True):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
