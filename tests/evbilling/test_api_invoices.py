"""REST API for invoices and credit notes: scoping (a driver their own, staff their operator's, support the
operators they serve, someone else's is a 404), amounts as exact decimal strings, nested lines and credit
notes, payment status, filters with 400s for bad values, pagination, and the PDF over token auth."""
from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing_app import invoicing
from billing_app.models import Invoice, Payment
from evbilling.api_tokens import api_token_create
from tests import factories
from tests.evbilling.api_fixtures import T0, api_for, assert_error, issued_receipt

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def receipts(driver, other_driver, other_operator):
    """The driver's receipt (10 kWh: 3.90 + 0.74 VAT = 4.64 EUR), one of another driver of the same
    operator, and one of a driver of another operator."""
    own = issued_receipt(driver)
    same_operator = issued_receipt(other_driver, started_at=T0 + timedelta(days=3))
    foreign = issued_receipt(factories.DriverFactory(operator=other_operator), started_at=T0 + timedelta(days=5))
    return own, same_operator, foreign


def test_driver_lists_only_their_own_invoices_with_exact_amounts(driver, receipts):
    own = receipts[0]
    body = api_for(driver).get("/api/v1/invoices/").json()
    assert body["count"] == 1
    invoice = body["results"][0]
    assert invoice["id"] == own.pk and invoice["number"] == own.number == "VOLT-2026-000001"
    assert (invoice["kind"], invoice["status"], invoice["payment_status"]) == ("receipt", "issued", "unpaid")
    assert (invoice["total_excl_vat"], invoice["total_vat"], invoice["total_incl_vat"]) == ("3.90", "0.74", "4.64")
    assert invoice["currency"] == "EUR" and invoice["session"] == own.session_id
    assert [(line["kind"], line["amount_excl_vat"], line["vat_rate"]) for line in invoice["lines"]] == [
        ("ENERGY", "3.90", "19.000")]
    assert invoice["vat_per_rate"] is True
    assert invoice["vat_breakdown"] == [{"vat_rate": "19.000", "taxable_amount": "3.90", "vat_amount": "0.74"}]
    assert invoice["pdf_url"] == f"http://testserver/api/v1/invoices/{own.pk}/pdf/"
    assert invoice["credit_notes"] == []


def test_staff_see_their_operators_invoices_and_support_those_they_serve(staff, support, foreign_staff, receipts):
    own, same_operator, foreign = receipts
    for user in (staff, support):
        ids = {i["id"] for i in api_for(user).get("/api/v1/invoices/").json()["results"]}
        assert ids == {own.pk, same_operator.pk}
    assert [i["id"] for i in api_for(foreign_staff).get("/api/v1/invoices/").json()["results"]] == [foreign.pk]


@pytest.mark.parametrize("who", ["other_driver", "foreign_staff"])
def test_someone_elses_invoice_and_its_pdf_are_not_found(request, who, receipts):
    own = receipts[0]
    client = api_for(request.getfixturevalue(who))
    assert_error(client.get(f"/api/v1/invoices/{own.pk}/"), 404)
    assert_error(client.get(f"/api/v1/invoices/{own.pk}/pdf/"), 404)


def test_anonymous_gets_401(db, receipts):
    assert_error(APIClient().get("/api/v1/invoices/"), 401)
    assert_error(APIClient().get(f"/api/v1/invoices/{receipts[0].pk}/pdf/"), 401)


def test_drafts_are_not_in_the_api(driver, staff, receipts):
    draft = Invoice.objects.create(operator=driver.operator, account=driver.billing_account, driver=driver,
                                   kind=Invoice.Kind.STATEMENT, period_start=T0.date(), period_end=T0.date(),
                                   currency="EUR")
    for user in (driver, staff):
        assert_error(api_for(user).get(f"/api/v1/invoices/{draft.pk}/"), 404)
        assert draft.pk not in {i["id"] for i in api_for(user).get("/api/v1/invoices/").json()["results"]}


def test_credit_notes_are_nested_and_listed_with_their_pdf_links(driver, other_driver, receipts):
    own, same_operator, _ = receipts
    with invoicing.delivery_suppressed():
        note = invoicing.credit_note_issue(invoice_id=own.pk, reason="Goodwill", amount_incl_vat=Decimal("1.19"))
        invoicing.credit_note_issue(invoice_id=same_operator.pk, reason="Not hers")
    client = api_for(driver)
    nested = client.get(f"/api/v1/invoices/{own.pk}/").json()["credit_notes"]
    assert [(n["number"], n["total_excl_vat"], n["total_vat"], n["total_incl_vat"]) for n in nested] == [
        (note.number, "1.00", "0.19", "1.19")]
    assert nested[0]["pdf_url"] == f"http://testserver/api/v1/credit-notes/{note.pk}/pdf/"
    assert [n["id"] for n in client.get("/api/v1/credit-notes/").json()["results"]] == [note.pk]
    assert_error(api_for(other_driver).get(f"/api/v1/credit-notes/{note.pk}/"), 404)
    assert_error(api_for(other_driver).get(f"/api/v1/credit-notes/{note.pk}/pdf/"), 404)


def _payment(invoice, status, key):
    return Payment.objects.create(operator=invoice.operator, driver=invoice.driver, session=invoice.session,
                                  kind=Payment.Kind.SESSION_EXTRA, status=status, currency="EUR",
                                  idempotency_key=key)


def test_payment_status_follows_the_invoice_and_its_card_payments(driver, receipts):
    own = receipts[0]
    client = api_for(driver)

    def status():
        return client.get(f"/api/v1/invoices/{own.pk}/").json()["payment_status"]

    failed = _payment(own, Payment.Status.FAILED, "k-failed")
    assert status() == "failed"
    _payment(own, Payment.Status.AUTHORIZED, "k-open")
    assert status() == "pending"
    Payment.objects.exclude(pk=failed.pk).update(status=Payment.Status.CAPTURED)
    assert status() == "unpaid"  # captured but not reconciled yet: the invoice decides
    invoicing.invoice_mark_paid(invoice_id=own.pk, reference="pi_test")
    assert status() == "paid"


def test_filters_by_status_kind_dates_and_session(staff, receipts):
    own, same_operator, _ = receipts
    invoicing.invoice_mark_paid(invoice_id=own.pk)
    client = api_for(staff)

    def ids(**params):
        response = client.get("/api/v1/invoices/", params)
        assert response.status_code == 200, response.json()
        return {i["id"] for i in response.json()["results"]}

    assert ids(status="paid") == {own.pk}
    assert ids(status="issued") == {same_operator.pk}
    assert ids(kind="receipt") == {own.pk, same_operator.pk}
    assert ids(kind="statement") == set()
    assert ids(issued_after=(T0 + timedelta(days=1)).date().isoformat()) == {same_operator.pk}
    assert ids(issued_before=T0.date().isoformat()) == {own.pk}
    assert ids(session=same_operator.session_id) == {same_operator.pk}


@pytest.mark.parametrize(("params", "field"), [({"issued_after": "last tuesday"}, "issued_after"),
                                              ({"issued_before": "2026-13-45"}, "issued_before"),
                                              ({"status": "draft"}, "status"), ({"kind": "bogus"}, "kind"),
                                              ({"session": "abc"}, "session")])
def test_bad_filter_values_are_400_with_the_field(staff, receipts, params, field):
    assert_error(api_for(staff).get("/api/v1/invoices/", params), 400, field=field)


def test_pagination(staff, receipts):
    client = api_for(staff)
    first = client.get("/api/v1/invoices/", {"page_size": 1}).json()
    assert first["count"] == 2 and len(first["results"]) == 1 and first["next"]
    second = client.get(first["next"]).json()
    assert second["next"] is None and second["results"][0]["id"] != first["results"][0]["id"]
    assert_error(client.get("/api/v1/invoices/", {"page": 99}), 404)


def test_invoice_pdf_over_token_auth_is_the_stored_document(driver, staff, receipts):
    own = receipts[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=driver)}")
    response = client.get(f"/api/v1/invoices/{own.pk}/pdf/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    own.refresh_from_db()
    assert own.pdf_sha256  # rendered once and stored: staff get the same file
    assert api_for(staff).get(f"/api/v1/invoices/{own.pk}/pdf/").content == response.content
