"""EN 16931 e-invoices (issue 20, item 5, first slice): the consolidated statement and a partial credit note as
CII XML, valid against the Factur-X EN 16931 schema (`facturx.xml_check_xsd`), stating the document's own
figures (BR-CO-17 VAT per rate); the Factur-X PDF carries that XML and its printed totals equal the XML's."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from facturx import get_facturx_xml_from_pdf, xml_check_xsd
from lxml import etree

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.einvoice import NS, cii_xml, facturx_pdf
from tests.billing_app.einvoice_rules import problems
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
    assert problems(xml) == []
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
    assert problems(xml) == []
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


# --- XRechnung (item 5) -------------------------------------------------------------------------------------

LEITWEG = "04011000-1234512345-06"


@pytest.fixture
def xrechnung_ready(operator, company):  # noqa: F811
    """The operator with what XRechnung needs of a seller, the company a public buyer with a Leitweg-ID."""
    from sessions_app.models import Company, Operator

    Operator.objects.filter(pk=operator.pk).update(postal_code="10115", city="Berlin", phone="+49 30 5550 1120",
                                                   iban="DE89370400440532013000", email="billing@voltara.example")
    Company.objects.filter(pk=company.pk).update(buyer_reference=LEITWEG, invoice_format="xrechnung")


@pytest.mark.usefixtures("xrechnung_ready")
def test_xrechnung_statement_and_credit_note(company, fleet):  # noqa: F811
    from billing_app.invoicing.einvoice import XRECHNUNG_3, einvoice_file, einvoice_formats

    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert einvoice_formats(statement) == ["facturx", "cii", "xrechnung"]
    file = einvoice_file(statement, "xrechnung")
    assert (file.filename, file.content_type) == (f"{statement.number}-xrechnung.xml", "application/xml")
    assert xml_check_xsd(file.content, flavor="factur-x", level="en16931")
    assert problems(file.content) == []
    tree = etree.fromstring(file.content)
    assert _text(tree, ".//ram:GuidelineSpecifiedDocumentContextParameter/ram:ID") == XRECHNUNG_3
    assert _text(tree, ".//ram:BuyerReference") == LEITWEG
    assert _text(tree, ".//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == "58"
    assert _text(tree, ".//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == "DE89370400440532013000"
    assert _text(tree, ".//ram:SellerTradeParty/ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/"
                       "ram:CompleteNumber") == "+49 30 5550 1120"
    assert _text(tree, ".//ram:GrandTotalAmount") == "24.37"
    note = credit_note_issue(invoice_id=statement.pk, amount_incl_vat=D("5.95"), reason="Session 2 overcharged")
    note_xml = einvoice_file(note, "xrechnung").content
    assert xml_check_xsd(note_xml, flavor="factur-x", level="en16931") and problems(note_xml) == []
    note_tree = etree.fromstring(note_xml)
    assert _text(note_tree, ".//rsm:ExchangedDocument/ram:TypeCode") == "381"
    assert _text(note_tree, ".//ram:InvoiceReferencedDocument/ram:IssuerAssignedID") == statement.number


def test_no_xrechnung_without_a_leitweg_id(company, fleet):  # noqa: F811
    from billing_app.invoicing.einvoice import EInvoiceUnavailable, einvoice_file, einvoice_formats
    from sessions_app.models import Company

    Company.objects.filter(pk=company.pk).update(buyer_reference="")
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert einvoice_formats(statement) == ["facturx", "cii"]
    with pytest.raises(EInvoiceUnavailable, match="no Leitweg-ID"):
        einvoice_file(statement, "xrechnung")
    with pytest.raises(EInvoiceUnavailable, match="Unknown e-invoice format"):
        einvoice_file(statement, "ubl")


@pytest.mark.usefixtures("xrechnung_ready")
def test_the_email_attaches_xrechnung_xml_when_chosen(company, fleet, media):  # noqa: F811
    from django.core import mail

    from billing_app.invoicing import invoice_email_send

    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert invoice_email_send(invoice_id=statement.pk)
    [message] = mail.outbox
    (name, attached, content_type), (csv_name, _csv, _type) = message.attachments
    assert (name, content_type) == (f"{statement.number}-xrechnung.xml", "application/xml")
    assert attached == cii_xml(statement, xrechnung=True)
    assert csv_name.endswith(".csv")
    assert "XRechnung XML) is attached" in message.body


def test_xrechnung_needs_a_valid_leitweg_id_and_the_sellers_details(operator, company):  # noqa: F811
    from django.core.exceptions import ValidationError

    company.invoice_format = "xrechnung"
    company.buyer_reference = "04011000-12345-67"  # check digits wrong
    with pytest.raises(ValidationError, match="check digits"):
        company.full_clean()
    company.buyer_reference = "991-33333test-33"  # KoSIT's test id; letters count as 10..35
    with pytest.raises(ValidationError, match="XRechnung needs the operator's postal code, city, e-mail, phone, IBAN"):
        company.full_clean()
    operator.postal_code, operator.city, operator.phone = "10115", "Berlin", "+49 30 1"
    operator.iban, operator.email = "DE89370400440532013000", "billing@voltara.example"
    company.full_clean()
    assert company.buyer_reference == "991-33333TEST-33"
    operator.iban = "DE00370400440532013000"
    with pytest.raises(ValidationError, match="not a valid IBAN"):
        operator.full_clean()


# --- Receipts, and every download scoped to its owner (item 5) -------------------------------------------------

def test_a_receipt_and_its_credit_note_as_facturx_for_their_driver_only(operator, connector, client, media):
    from django.urls import reverse

    from billing_app.invoicing.documents import receipt_issue_for_session
    from tests import factories
    from tests.billing_app.invoice_fixtures import account, charged_session

    driver, stranger = (factories.DriverFactory(operator=operator) for _ in range(2))
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=datetime(2026, 10, 6, 8, tzinfo=UTC),
                             energy_kwh="11.11", components=(("ENERGY", "0.39", "19", 1), ("FLAT", "1.00", "7", 1)))
    receipt = receipt_issue_for_session(session_id=charge.session_id)
    note = credit_note_issue(invoice_id=receipt.pk, amount_incl_vat=D("1.00"), reason="Goodwill")
    xml = cii_xml(receipt)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") and problems(xml) == []
    tree = etree.fromstring(xml)
    # 4.33 at 19 % (0.82) and 1.00 at 7 % (0.07): 6.22
    assert [_text(tree, ".//ram:" + n) for n in ("TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount")] == [
        "5.33", "0.89", "6.22"]
    assert _text(tree, ".//ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") == "48"
    client.force_login(driver)
    url = reverse("invoices:invoice_einvoice", args=[receipt.pk, "facturx"])
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Disposition"].endswith(
        f'filename="{receipt.number}-factur-x.pdf"')
    assert response["Cache-Control"] == "private, no-store"
    assert get_facturx_xml_from_pdf(response.content)[1] == xml
    note_url = reverse("invoices:credit_note_einvoice", args=[note.pk, "cii"])
    assert problems(client.get(note_url).content) == []
    assert client.get(reverse("invoices:invoice_einvoice", args=[receipt.pk, "xrechnung"])).status_code == 404
    client.force_login(stranger)
    assert client.get(url).status_code == 404 and client.get(note_url).status_code == 404


def test_api_lists_and_serves_the_einvoices_of_the_caller_only(company, fleet, client):  # noqa: F811
    from tests import factories

    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    manager = factories.FleetManagerFactory(company=company)
    outsider = factories.FleetManagerFactory(company=factories.CompanyFactory(operator=company.operator))
    client.force_login(manager)
    body = client.get(f"/api/v1/invoices/{statement.pk}/").json()
    assert sorted(body["einvoice_urls"]) == ["cii", "facturx"]  # no XRechnung: the seller lacks its details
    response = client.get(f"/api/v1/invoices/{statement.pk}/e-invoice/cii/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 200 and response.content == cii_xml(statement)
    assert client.get(f"/api/v1/invoices/{statement.pk}/e-invoice/ubl/").status_code == 404
    client.force_login(outsider)
    assert client.get(f"/api/v1/invoices/{statement.pk}/").status_code == 404
    assert client.get(f"/api/v1/invoices/{statement.pk}/e-invoice/cii/").status_code == 404
    assert client.get(f"/api/v1/invoices/{statement.pk}/e-invoice/facturx/").status_code == 404


# --- The language the document was issued in (issues 20 and 21) ----------------------------------------------

def _names(tree) -> list[str]:
    return [line.findtext(".//ram:SpecifiedTradeProduct/ram:Name", namespaces=NS)
            for line in tree.findall(".//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)]


def test_an_english_documents_xml_states_its_texts_as_stored(company, fleet):  # noqa: F811
    """English is the language the texts are stored in: the XML reads exactly as before languages were recorded."""
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    note = credit_note_issue(invoice_id=statement.pk, amount_incl_vat=D("5.95"), reason="Dispute #12: meter fault")
    assert (statement.language, note.language) == ("en", "en")
    tree, note_tree = etree.fromstring(cii_xml(statement)), etree.fromstring(cii_xml(note))
    assert _names(tree) == [line.description for line in statement.lines.all()] == ["Energy"] * 4
    assert _text(tree, ".//ram:SpecifiedTradePaymentTerms/ram:Description") == (
        "Payable within 30 days of the issue date")
    assert _names(note_tree) == ["Credit on invoice VOLT-2026-000001 (VAT 19 %)"]
    assert _text(note_tree, ".//ram:IncludedNote/ram:Content") == "Reason: Dispute #12: meter fault"


def test_a_german_statements_xml_says_what_its_pdf_says(operator, connector, driver):
    """A German driver's statement: its line names and payment terms in German, the same words as its PDF, and
    the same XML after the driver turns to English (the language recorded at issue decides)."""
    from billing_app.invoicing.pdf import document_pdf
    from billing_app.models import BillingAccount, Invoice
    from tests.billing_app.invoice_fixtures import account, charged_session

    driver.language = "de"
    driver.save(update_fields=["language"])
    account(driver, mode=BillingAccount.PaymentMode.POSTPAID)
    charged_session(connector=connector, driver=driver, started_at=datetime(2026, 10, 6, 8, tzinfo=UTC),
                    energy_kwh="11", parking_hours="0.5", components=(
                        ("FLAT", "0.50", "7", 1), ("ENERGY", "0.39", "19", 1), ("PARKING_TIME", "6.00", "19", 60)))
    billing_run(period=date(2026, 10, 1))
    statement = Invoice.objects.get(account__driver=driver, kind=Invoice.Kind.STATEMENT)
    assert statement.language == "de"
    xml = cii_xml(statement)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") and problems(xml) == []
    tree = etree.fromstring(xml)
    flat = " ".join(pdf_text(document_pdf(statement)).split())
    assert sorted(_names(tree)) == ["Energie", "Park- / Standzeit", "Startgebühr"]
    for name in _names(tree):
        assert name in flat, name
    terms = _text(tree, ".//ram:SpecifiedTradePaymentTerms/ram:Description")
    assert terms == "Zahlbar innerhalb von 14 Tagen ab Ausstellungsdatum" and terms in flat
    assert b">Energy<" not in xml and b">Payable within" not in xml
    driver.language = "en"
    driver.save(update_fields=["language"])
    statement.refresh_from_db()
    assert cii_xml(statement) == xml


def test_a_german_credit_note_and_reverse_charge_statement_in_german(company, fleet, connector):  # noqa: F811
    """The credit note's line names and reason (BT-22) and our reverse-charge reason (BT-22, BT-120) in German,
    as their PDFs print them; the operator's own exemption reason would stay as typed."""
    from django.utils import translation

    from billing_app.invoicing.pdf import document_pdf
    from billing_app.invoicing.vat_categories import REVERSE_CHARGE_REASON
    from sessions_app.models import Company

    Company.objects.filter(pk=company.pk).update(language="de", vat_treatment=Company.VatTreatment.REVERSE_CHARGE)
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    note = credit_note_issue(invoice_id=statement.pk, amount_incl_vat=D("2.00"), reason="Dispute #12: meter fault")
    assert (statement.language, note.language) == ("de", "de")
    with translation.override("de"):
        german_reason = translation.gettext(REVERSE_CHARGE_REASON)
    assert german_reason != REVERSE_CHARGE_REASON
    for document in (statement, note):
        xml = cii_xml(document)
        assert xml_check_xsd(xml, flavor="factur-x", level="en16931") and problems(xml) == [], document.number
        tree = etree.fromstring(xml)
        flat = " ".join(pdf_text(document_pdf(document)).split())
        assert {reason.text for reason in tree.iterfind(".//ram:ExemptionReason", namespaces=NS)} == {german_reason}
        assert german_reason in [content.text for content in tree.iterfind(".//ram:Content", namespaces=NS)]
        assert german_reason in flat
    note_tree = etree.fromstring(cii_xml(note))
    [name] = _names(note_tree)
    assert name == f"Gutschrift zu Rechnung {statement.number} (USt. 0 %)"
    assert name in " ".join(pdf_text(document_pdf(note)).split())
    assert _text(note_tree, ".//ram:IncludedNote/ram:Content") == "Grund: Reklamation #12: meter fault"
