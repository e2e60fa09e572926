"""VAT per rate on receipts, statements and credit notes (EN 16931 BR-CO-17), their stored per-rate rows,
the PDF's VAT table read back with pdftotext, and invoices issued before VAT per rate staying as issued."""
import importlib
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from billing_app import invoicing
from billing_app.models import BillingAccount, Invoice, InvoiceVatSubtotal
from billing_app.money import minor_unit, vat_amount, vat_of_gross
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session, pdf_text

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FEE_AND_ENERGY_19 = (("FLAT", "1.50", "19", 1), ("ENERGY", "0.35", "19", 1))
MIXED = (("FLAT", "0.99", "19", 1), ("ENERGY", "0.39", "19", 1), ("PARKING_TIME", "2.35", "7", 60))


def _rows(invoice):
    return [(row.vat_rate, row.taxable_amount, row.vat_amount) for row in invoice.vat_subtotals.all()]


def _one_spaced(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text)


@pytest.mark.usefixtures("no_delivery")
def test_receipt_of_15_92_net_at_19_percent_shows_3_02_vat_and_18_94(connector, driver):
    """A 1.50 fee and 41.2 kWh at 0.35: the lines' own VAT is 0.29 + 2.74 = 3.03; 19 % of 15.92 is 3.0248."""
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="41.2",
                             components=FEE_AND_ENERGY_19)
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert [line.vat_amount for line in receipt.lines.all()] == [D("0.29"), D("2.74")]
    assert (receipt.total_excl_vat, receipt.total_vat, receipt.total_incl_vat) == (D("15.92"), D("3.02"), D("18.94"))
    assert _rows(receipt) == [(D(19), D("15.92"), D("3.02"))]
    assert (charge.total_vat, charge.total_incl_vat) == (D("3.02"), D("18.94"))  # what the card is charged


@pytest.mark.usefixtures("no_delivery")
def test_mixed_rate_statement_takes_vat_per_rate_over_all_its_sessions(client, operator, driver):
    """Two sessions at 19 % and 7 %: one VAT amount per rate over all their lines; the admin shows the rows."""
    account(driver, BillingAccount.PaymentMode.POSTPAID)
    connector = factories.ConnectorFactory(station__location__operator=operator)
    charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="23.7", parking_hours="0.75",
                    components=MIXED)
    charged_session(connector=connector, driver=driver, started_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
                    energy_kwh="41.2", components=FEE_AND_ENERGY_19)
    draft = invoicing.statement_create(account_id=driver.billing_account.pk, period=date(2026, 3, 1), issue=False)
    # 19 %: 0.99 + 9.24 + 1.50 + 14.42 = 26.15 -> 4.9685 -> 4.97 (lines: 0.19 + 1.76 + 0.29 + 2.74 = 4.98)
    # 7 %: 45 min x 2.35 = 1.7625 -> 1.76 -> 0.1232 -> 0.12
    assert _rows(draft) == [(D(7), D("1.76"), D("0.12")), (D(19), D("26.15"), D("4.97"))]
    assert (draft.total_excl_vat, draft.total_vat, draft.total_incl_vat) == (D("27.91"), D("5.09"), D("33.00"))
    issued = invoicing.invoice_issue(invoice_id=draft.pk)
    assert _rows(issued) == [(D(7), D("1.76"), D("0.12")), (D(19), D("26.15"), D("4.97"))]
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    page = client.get(reverse("admin:billing_app_invoice_change", args=[issued.pk])).content.decode()
    assert "VAT per rate" in page and "26.15" in page and "4.97" in page
    row = issued.vat_subtotals.first()
    row.vat_amount = D("0.13")
    with pytest.raises(ValidationError, match="issued"):
        row.save()


@pytest.mark.usefixtures("no_delivery")
def test_jpy_receipt_vat_per_rate_in_whole_yen(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="7", currency="JPY",
                             components=(("FLAT", "105", "10", 1), ("ENERGY", "35", "10", 1)))
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert _rows(receipt) == [(D(10), D(350), D(35))]  # the lines' own VAT: 11 + 25 = 36
    assert (receipt.total_vat, receipt.total_incl_vat) == (D(35), D(385)) == (charge.total_vat, charge.total_incl_vat)


def test_pdf_shows_the_vat_table_per_rate(media, connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="23.7",
                             parking_hours="0.75", components=MIXED)
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    text = _one_spaced(pdf_text(invoicing.document_pdf_bytes(receipt)))
    assert "VAT RATE TAXABLE AMOUNT VAT INCL. VAT" in text  # headers in capitals (CSS)
    assert "VAT 7 % €1.76 €0.12 €1.88" in text
    assert "VAT 19 % €10.23 €1.94 €12.17" in text  # lines' own VAT: 0.19 + 1.76
    assert "Total excl. VAT €11.99" in text and "Total €14.05" in text
    assert "VAT is computed per rate on the sum of that rate's lines" in text


def _make_legacy(invoice: Invoice, *, total_vat: str) -> None:
    """Put an invoice back as it was issued before VAT per rate: VAT the sum of its lines' VAT, no rows."""
    InvoiceVatSubtotal.objects.filter(invoice=invoice).delete()
    Invoice.objects.filter(pk=invoice.pk).update(vat_per_rate=False, total_vat=D(total_vat),
                                                 total_incl_vat=invoice.total_excl_vat + D(total_vat))


def test_invoice_issued_before_vat_per_rate_keeps_its_figures(media, connector, driver):
    """The migration backfills the per-rate rows from the stored lines as they were issued (3.03 VAT);
    re-rendering and crediting the rest use those, not a recomputation (3.02)."""
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="41.2",
                             components=FEE_AND_ENERGY_19)
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    _make_legacy(receipt, total_vat="3.03")
    importlib.import_module("billing_app.migrations.0009_invoice_vat_per_rate").backfill(apps, None)
    receipt = Invoice.objects.get(pk=receipt.pk)
    assert _rows(receipt) == [(D(19), D("15.92"), D("3.03"))]
    text = _one_spaced(pdf_text(invoicing.document_pdf_bytes(receipt)))
    assert "VAT 19 % €15.92 €3.03 €18.95" in text and "Total €18.95" in text
    assert "VAT is the sum of the lines' VAT" in text and "per rate on the sum" not in text
    note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Goodwill")
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (D("15.92"), D("3.03"), D("18.95"))


@pytest.mark.usefixtures("no_delivery")
def test_partial_credit_note_takes_vat_once_per_rate(connector, driver):
    """5.00 of the mixed receipt (12.17 at 19 %, 1.88 at 7 %): 4.33 + 0.67 incl. VAT, each split once."""
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="23.7",
                             parking_hours="0.75", components=MIXED)
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    note = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Goodwill", amount_incl_vat=D("5.00"))
    lines = [(line.vat_rate, line.amount_excl_vat, line.vat_amount) for line in note.lines.all()]
    assert lines == [(D(7), D("0.63"), D("0.04")), (D(19), D("3.64"), D("0.69"))]
    for rate, net, vat in lines:
        assert vat == vat_amount(net, rate, "EUR")
    rest = invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Rest")
    assert note.total_incl_vat + rest.total_incl_vat == receipt.total_incl_vat
    assert note.total_vat + rest.total_vat == receipt.total_vat


@given(currency=st.sampled_from(["EUR", "JPY", "BHD"]), units=st.integers(min_value=0, max_value=10**7),
       rate=st.sampled_from([D(0), D("5.5"), D(7), D(10), D(19), D(20), D("25.5")]))
def test_vat_of_gross_is_vat_per_rate_whenever_a_net_amount_reaches_the_gross(currency, units, rate):
    unit = minor_unit(currency)
    net = units * unit
    gross = net + vat_amount(net, rate, currency)
    assert vat_of_gross(gross, rate, currency) == (net, vat_amount(net, rate, currency))
    split_net, split_vat = vat_of_gross(gross + unit, rate, currency)  # maybe a gross no net reaches
    assert split_net + split_vat == gross + unit
    assert abs(split_vat - vat_amount(split_net, rate, currency)) <= unit
