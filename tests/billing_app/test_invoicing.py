"""Receipts and statements: lines from the pricing breakdown to the cent, VAT per rate, numbering,
states, and immutability once issued."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from hypothesis import given
from hypothesis import strategies as st

from billing_app import invoicing
from billing_app.invoicing import documents
from billing_app.invoicing.lines import document_vat, line_priced, totals
from billing_app.models import BillingAccount, Invoice, InvoiceLine, NumberSequence
from billing_app.money import share_out, vat_amount
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
POSTPAID = BillingAccount.PaymentMode.POSTPAID
pytestmark = pytest.mark.usefixtures("no_delivery")


def _amounts(invoice):
    return [(line.description, line.vat_rate, line.amount_excl_vat, line.vat_amount, line.amount_incl_vat)
            for line in invoice.lines.order_by("position")]


def test_receipt_lines_come_from_the_breakdown_to_the_cent(connector, driver, operator):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="11", hours="1",
                             parking_hours="0.5", components=(("FLAT", "0.50", "19", 1), ("ENERGY", "0.39", "19", 1),
                                                              ("PARKING_TIME", "6.00", "19", 60)))
    invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert invoice.number == "VOLT-2026-000001"
    assert invoice.kind == Invoice.Kind.RECEIPT and invoice.state == Invoice.State.ISSUED
    assert _amounts(invoice) == [
        ("Session fee", D("19"), D("0.50"), D("0.10"), D("0.60")),  # 0.095 VAT rounds half up
        ("Energy", D("19"), D("4.29"), D("0.82"), D("5.11")),
        ("Parking / idle time", D("19"), D("3.00"), D("0.57"), D("3.57")),
    ]
    # VAT per rate: 19 % of 7.79 is 1.4801 -> 1.48 (the lines' own VAT adds up to 1.49)
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("7.79"), D("1.48"), D("9.27"))
    assert invoice.total_incl_vat == charge.total_incl_vat and invoice.vat_per_rate
    line = invoice.lines.get(kind="ENERGY")
    assert (line.session_id, line.session_charge_id, line.source_index) == (charge.session_id, charge.pk, 1)
    assert (line.quantity, line.unit, line.unit_price) == (D("11"), "kWh", D("0.39"))
    assert invoice.seller["vat_id"] == operator.vat_id and invoice.seller["legal_name"] == operator.legal_name
    assert invoice.buyer["name"] == driver.driver_profile.full_name
    assert invoice.period_start == invoice.period_end == date(2026, 3, 2)


def test_statement_with_mixed_vat_rates_sums_rounded_lines(operator, driver):
    account(driver, POSTPAID)
    berlin = factories.ConnectorFactory(station__location__operator=operator)
    vienna = factories.ConnectorFactory(station__location__operator=operator, station__location__country="AT",
                                        station__location__time_zone="Europe/Vienna", station__location__city="Wien")
    charged_session(connector=berlin, driver=driver, started_at=T0, energy_kwh="20")
    charged_session(connector=vienna, driver=driver, started_at=datetime(2026, 3, 20, 17, tzinfo=UTC),
                    energy_kwh="12.5", components=(("ENERGY", "0.45", "20", 1),))
    invoice = invoicing.statement_create(account_id=driver.billing_account.pk, period=date(2026, 3, 1))
    assert _amounts(invoice) == [
        ("Energy", D("19"), D("7.80"), D("1.48"), D("9.28")),
        ("Energy", D("20"), D("5.63"), D("1.13"), D("6.76")),  # 5.625 rounds half up, VAT on the rounded line
    ]
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("13.43"), D("2.61"), D("16.04"))
    summary = [(row.vat_rate, row.taxable_amount, row.vat_amount, row.gross_amount)
               for row in invoice.vat_subtotals.all()]
    assert summary == [(D("19"), D("7.80"), D("1.48"), D("9.28")), (D("20"), D("5.63"), D("1.13"), D("6.76"))]
    assert (invoice.period_start, invoice.period_end) == (date(2026, 3, 1), date(2026, 3, 31))


def test_gbp_receipt_of_another_operator_has_its_own_sequence(operator, other_operator, connector, driver):
    account(driver)
    charged_session(connector=connector, driver=driver, started_at=T0)
    london = factories.ConnectorFactory(station__location__operator=other_operator,
                                        station__location__time_zone="Europe/London")
    gb_driver = factories.DriverFactory(operator=other_operator)
    account(gb_driver)
    charge = charged_session(connector=london, driver=gb_driver, started_at=T0, energy_kwh="7.3", currency="GBP",
                             components=(("FLAT", "1.00", "20", 1), ("ENERGY", "0.55", "20", 1)))
    invoicing.receipts_issue_pending()
    invoice = Invoice.objects.get(session_id=charge.session_id)
    assert invoice.number == "BRL-2026-000001"
    assert invoice.currency == "GBP"
    assert _amounts(invoice) == [("Session fee", D("20"), D("1.00"), D("0.20"), D("1.20")),
                                 ("Energy", D("20"), D("4.02"), D("0.80"), D("4.82"))]  # 4.015 -> 4.02
    assert (invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat) == (D("5.02"), D("1.00"), D("6.02"))
    assert Invoice.objects.get(operator=operator).number == "VOLT-2026-000001"


def test_max_price_cap_is_shared_over_mixed_vat_rates(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="20", hours="1",
                             parking_hours="1", max_price="12.00",
                             components=(("ENERGY", "0.50", "19", 1), ("PARKING_TIME", "4.00", "7", 1)))
    invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert _amounts(invoice) == [
        ("Energy", D("19"), D("10.00"), D("1.90"), D("11.90")),
        ("Parking / idle time", D("7"), D("4.00"), D("0.28"), D("4.28")),
        ("Maximum price cap (VAT 7 %)", D("7"), D("-0.57"), D("-0.04"), D("-0.61")),
        ("Maximum price cap (VAT 19 %)", D("19"), D("-1.43"), D("-0.27"), D("-1.70")),
    ]  # the engine shares the cap over the rates; each line's own VAT is information
    assert [(row.vat_rate, row.taxable_amount, row.vat_amount) for row in invoice.vat_subtotals.all()] == [
        (D(7), D("3.43"), D("0.24")), (D(19), D("8.57"), D("1.63"))]
    assert (invoice.total_excl_vat, invoice.total_incl_vat) == (D("12.00"), D("13.87")) == (
        charge.total_excl_vat, charge.total_incl_vat)


def test_numbers_are_sequential_per_operator_and_local_year(connector, driver):
    account(driver)
    charges = [charged_session(connector=connector, driver=driver, started_at=T0) for _ in range(3)]
    for charge in charges[:2]:
        invoicing.receipt_issue_for_session(session_id=charge.session_id)
    new_year_in_berlin = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2027 in Berlin
    late = invoicing.receipt_issue_for_session(session_id=charges[2].session_id, now=new_year_in_berlin)
    assert list(Invoice.objects.order_by("issued_at").values_list("number", flat=True)) == [
        "VOLT-2026-000001", "VOLT-2026-000002", "VOLT-2027-000001"]
    assert late.number_year == 2027
    assert NumberSequence.objects.get(year=2026, kind="invoice").last_value == 2


def test_receipt_is_issued_once_per_session(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    first = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert invoicing.receipt_issue_for_session(session_id=charge.session_id).pk == first.pk
    assert invoicing.receipts_issue_pending() == 0
    with pytest.raises(IntegrityError), transaction.atomic():
        Invoice.objects.create(operator=first.operator, account=first.account, driver=driver, kind="receipt",
                               session_id=charge.session_id, period_start=T0.date(), period_end=T0.date(),
                               currency="EUR")
    assert Invoice.objects.count() == 1


def test_no_receipt_for_postpaid_or_accountless_drivers(connector, driver, operator):
    account(driver, POSTPAID)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    stranger = factories.DriverFactory(operator=operator)
    other = charged_session(connector=connector, driver=stranger, started_at=T0)
    assert invoicing.receipt_issue_for_session(session_id=charge.session_id) is None
    assert invoicing.receipt_issue_for_session(session_id=other.session_id) is None
    assert invoicing.receipts_issue_pending() == 0
    assert not Invoice.objects.exists()


def test_issued_invoice_is_immutable(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    invoice = Invoice.objects.get(pk=invoicing.receipt_issue_for_session(session_id=charge.session_id).pk)
    invoice.total_incl_vat += 1
    with pytest.raises(ValidationError, match="cannot change"):
        invoice.save()
    line = InvoiceLine.objects.get(invoice=invoice)
    line.amount_excl_vat = D("0.01")
    with pytest.raises(ValidationError, match="issued"):
        line.save()
    with pytest.raises(ValidationError, match="issued"):
        line.delete()
    again = invoicing.invoice_issue(invoice_id=invoice.pk)
    assert again.number == "VOLT-2026-000001"
    fresh = Invoice.objects.get(pk=invoice.pk)
    assert fresh.total_incl_vat == charge.total_incl_vat and fresh.lines.count() == 1


def test_draft_then_issue_then_paid_or_void(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    draft = invoicing.invoice_create_for_session(session_id=charge.session_id)
    assert draft.state == "draft" and draft.number is None
    line = draft.lines.get()
    line.description = "Energy (corrected)"
    line.save()  # drafts may still change
    issued = invoicing.invoice_issue(invoice_id=draft.pk)
    assert issued.number == "VOLT-2026-000001" and issued.seller["name"] == "Voltara"
    paid = invoicing.invoice_mark_paid(invoice_id=issued.pk, reference="pi_123")
    assert paid.state == "paid" and invoicing.invoice_mark_paid(invoice_id=issued.pk).state == "paid"
    with pytest.raises(invoicing.InvoicingError, match="only an issued, unpaid"):
        invoicing.invoice_void(invoice_id=issued.pk, reason="oops")


def test_void_keeps_the_number(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    voided = invoicing.invoice_void(invoice_id=invoice.pk, reason="issued in error")
    assert (voided.state, voided.number) == ("void", "VOLT-2026-000001")
    with pytest.raises(invoicing.InvoicingError):
        invoicing.invoice_mark_paid(invoice_id=invoice.pk)


def test_statement_carries_the_plan_fee_lines(monkeypatch, operator, driver):
    monkeypatch.setattr(documents, "plan_statement_lines", plan_fee)
    account(driver, BillingAccount.PaymentMode.SUBSCRIPTION)
    invoice = invoicing.statement_create(account_id=driver.billing_account.pk, period=date(2026, 3, 1))
    assert _amounts(invoice) == [("Plan Plus, March 2026", D("19"), D("9.99"), D("1.90"), D("11.89"))]


def plan_fee(*, account, period_start, period_end, currency):
    return [line_priced(kind="PLAN_FEE", description=f"Plan Plus, {period_start:%B %Y}", quantity=D(1), unit="month",
                        unit_price=D("9.99"), vat_rate=D(19), currency=currency)]


MONEY = st.decimals(min_value=D("-50"), max_value=D("500"), places=6, allow_nan=False, allow_infinity=False)
RATES = st.one_of(st.none(), st.sampled_from([D(0), D(5), D(7), D("7.7"), D(19), D(20), D(21), D(25)]))


@given(st.lists(st.tuples(st.decimals(min_value=D("0.0001"), max_value=D(200), places=4), MONEY, RATES),
                min_size=1, max_size=25), st.sampled_from(["EUR", "GBP", "SEK"]))
def test_lines_are_rounded_once_and_totals_are_their_sums(raw, currency):
    lines = [line_priced(kind="X", description="x", quantity=q, unit="u", unit_price=p, vat_rate=r, currency=currency)
             for q, p, r in raw]
    for line in lines:
        assert line.amount_excl_vat == line.amount_excl_vat.quantize(D("0.01"))
        assert line.vat_amount == line.vat_amount.quantize(D("0.01"))
    excl, vat, incl = totals(lines, currency)
    assert excl == sum(line.amount_excl_vat for line in lines) and incl == excl + vat
    summary = document_vat(lines, currency).subtotals
    assert sum(row.vat_amount for row in summary) == vat
    for row in summary:
        assert row.vat_amount == (D(0) if row.rate is None else vat_amount(row.taxable_amount, row.rate, currency))
        members = [line for line in lines if line.vat_rate == row.rate]
        assert abs(row.vat_amount - sum(line.vat_amount for line in members)) <= D("0.005") * len(members)


@given(st.decimals(min_value=D("-1000"), max_value=D("1000"), places=2),
       st.lists(st.decimals(min_value=D(0), max_value=D(1000), places=2), min_size=1, max_size=8))
def test_share_out_parts_add_up_exactly(amount, weights):
    parts = share_out(amount, weights, "EUR")
    assert sum(parts) == amount
    assert all(part == part.quantize(D("0.01")) for part in parts)
