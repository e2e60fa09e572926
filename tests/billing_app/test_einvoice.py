"""EN 16931 e-invoices (issue 20, item 5, first slice): the consolidated statement and a partial credit note as
CII XML, valid against the Factur-X EN 16931 schema (`facturx.xml_check_xsd`), stating the document's own
figures (BR-CO-17 VAT per rate); the Factur-X PDF carries that XML and its printed totals equal the XML's."""
from datetime import date
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.einvoice import NS, cii_xml, facturx_pdf
from tests.billing_app.invoice_fixtures import pdf_text
from tests.billing_app.test_companies import _statement, company, fleet  # noqa: F401 - fixtures

D = Decimal
pytestmark = pytest.mark.usefixtures("no_delivery")


def _text(tree, path: str) -> str:
    return tree.findtext(path, namespaces=NS)


def test_statement_as_cii_xml_is_valid_and_states_the_documents_figures(company, fleet):  # noqa: F811
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    xml = cii_xml(statement)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert _text(tree, ".//rsm:ExchangedDocument/ram:ID") == statement.number
    assert _text(tree, ".//rsm:ExchangedDocument/ram:TypeCode") == "380"
    assert _text(tree, ".//ram:BuyerReference") == "04011000-12345-67"
    assert _text(tree, ".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID") == "DE136695976"
    assert _text(tree, ".//ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID") == "PO-4711"
    sums = ".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    assert [_text(tree, sums + name) for name in ("LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount",
                                                  "GrandTotalAmount", "DuePayableAmount")] == [
        "20.48", "20.48", "3.89", "24.37", "24.37"]
    lines = tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    assert len(lines) == 4
    assert sum(D(_text(line, ".//ram:LineTotalAmount")) for line in lines) == D("20.48")
    [tax] = tree.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)
    assert (_text(tax, "ram:BasisAmount"), _text(tax, "ram:CalculatedAmount"),
            _text(tax, "ram:RateApplicablePercent")) == ("20.48", "3.89", "19")


def test_partial_credit_note_is_381_referencing_the_invoice(company, fleet):  # noqa: F811
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    note = credit_note_issue(invoice_id=statement.pk, amount_incl_vat=D("5.95"), reason="Session 2 overcharged")
    xml = cii_xml(note)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert _text(tree, ".//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _text(tree, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == statement.number
    assert _text(tree, ".//ram:GrandTotalAmount") == "5.95"
    assert D(_text(tree, ".//ram:TaxBasisTotalAmount")) + D(_text(tree, ".//ram:TaxTotalAmount")) == D("5.95")


def test_facturx_pdf_embeds_the_xml_and_prints_the_same_totals(company, fleet, media):  # noqa: F811
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    pdf = facturx_pdf(statement)
    filename, embedded = get_facturx_xml_from_pdf(pdf)
    assert filename == "factur-x.xml" and embedded == cii_xml(statement)
    assert xml_check_xsd(embedded, flavor="factur-x", level="en16931")
    tree = etree.fromstring(embedded)
    flat = " ".join(pdf_text(pdf).split())
    assert f"Total €{_text(tree, './/ram:GrandTotalAmount')}" in flat
    assert f"VAT €{_text(tree, './/ram:TaxTotalAmount')}" in flat
    assert f"Total excl. VAT €{_text(tree, './/ram:TaxBasisTotalAmount')}" in flat


@pytest.mark.parametrize("chosen", ["facturx", "pdf"])
def test_the_email_attaches_the_format_the_company_chose(company, fleet, media, chosen):  # noqa: F811
    from django.core import mail

    from billing_app.invoicing import invoice_email_send
    from sessions_app.models import Company

    Company.objects.filter(pk=company.pk).update(invoice_format=chosen)
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert invoice_email_send(invoice_id=statement.pk)
    [message] = mail.outbox
    name, attached, _type = message.attachments[0]
    assert name == f"{statement.number}.pdf"
    embedded = get_facturx_xml_from_pdf(attached)[1]
    if chosen == "facturx":
        assert embedded == cii_xml(statement)
    else:
        assert not embedded
