"""EN 16931 e-invoices: an issued invoice or credit note as UN/CEFACT Cross Industry Invoice XML (the CII syntax
of Factur-X / ZUGFeRD profile EN 16931, and of XRechnung CII), and the Factur-X PDF that carries it.

The XML's human texts (line names BT-153, notes BT-22, payment terms BT-20, our exemption reasons BT-120) are in
the language the document was issued in, translated by the same functions as its PDF (`pdf.line_description`,
`pdf.credit_reason`, `pdf.category_text`), so both say the same; a document issued in English reads as stored.
The XML states exactly the document's stored figures: its lines (net, rounded once), the VAT breakdown per rate
the document stores (BR-CO-17), and its totals; nothing is computed again here. A credit note is type code 381
and names the invoice it corrects (BT-25). Factur-X: the PDF with the XML embedded as `factur-x.xml`
(`facturx.generate_from_binary`, which checks the XML against the schema before it embeds it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import translation
from django.utils.translation import gettext
from lxml import etree

from billing_app.invoicing.pdf import (
    category_text,
    credit_reason,
    document_language,
    document_pdf,
    line_description,
    receipt_charged_on,
)
from billing_app.invoicing.vat_categories import STANDARD, VatCategory, document_treatment, vat_category
from billing_app.models import CreditNote, Invoice
from evbilling.errors import NotFoundError
from sessions_app.selectors import operator_time_zone

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}
EN16931 = "urn:cen.eu:en16931:2017"
XRECHNUNG_3 = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PEPPOL_BILLING = "urn:fdc:peppol.eu:2017:poacc:billing:01.0"
SEPA_CREDIT_TRANSFER, BANK_CARD = "58", "48"
INVOICE, CREDIT_NOTE = "380", "381"
UNITS = {"kWh": "KWH", "h": "HUR", "min": "MIN", "session": "C62", "period": "C62", "reservation": "C62"}

Document = Invoice | CreditNote


def _el(parent, tag: str, text: str | None = None, **attrib) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{NS[prefix]}}}{name}", **attrib)
    if text is not None:
        element.text = text
    return element


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def _date(parent, tag: str, day: date, *, qualified: bool = False) -> None:
    _el(_el(parent, tag), "qdt:DateTimeString" if qualified else "udt:DateTimeString", day.strftime("%Y%m%d"),
        format="102")


def _percent(rate: Decimal) -> str:
    return format(Decimal(rate).normalize(), "f") if rate else "0"


def _trade_tax(parent, category: VatCategory, *, amounts: tuple[Decimal, Decimal] | None = None) -> None:
    """An ApplicableTradeTax in the schema's order; `amounts` (taxable, VAT) on a VAT breakdown row (BG-23), which
    also carries the exemption reason (BT-120/121) of the categories that need one."""
    tax = _el(parent, "ram:ApplicableTradeTax")
    if amounts is not None:
        _el(tax, "ram:CalculatedAmount", _amount(amounts[1]))
    _el(tax, "ram:TypeCode", "VAT")
    exempted = amounts is not None and category.code in ("AE", "E", "O", "K", "G")
    if exempted and category.reason:
        _el(tax, "ram:ExemptionReason", category_text(category.reason))
    if amounts is not None:
        _el(tax, "ram:BasisAmount", _amount(amounts[0]))
    _el(tax, "ram:CategoryCode", category.code)
    if exempted and category.reason_code:
        _el(tax, "ram:ExemptionReasonCode", category.reason_code)
    if category.rate is not None:
        _el(tax, "ram:RateApplicablePercent", _percent(category.rate))


def _party(parent, tag: str, details: dict, *, vat_id: bool = True) -> None:
    party = _el(parent, tag)
    name = details.get("company_name") or details.get("legal_name") or details.get("name") or "-"
    _el(party, "ram:Name", name)
    if details.get("phone"):  # the seller's contact (BG-6): its trading name, telephone and e-mail
        contact = _el(party, "ram:DefinedTradeContact")
        _el(contact, "ram:PersonName", details.get("name") or name)
        _el(_el(contact, "ram:TelephoneUniversalCommunication"), "ram:CompleteNumber", details["phone"])
        if details.get("email"):
            _el(_el(contact, "ram:EmailURIUniversalCommunication"), "ram:URIID", details["email"])
    address = _el(party, "ram:PostalTradeAddress")
    street = (details.get("address") or "").strip().splitlines()
    if details.get("postal_code"):
        _el(address, "ram:PostcodeCode", details["postal_code"])
    if street:
        _el(address, "ram:LineOne", street[0])
    if details.get("city"):
        _el(address, "ram:CityName", details["city"])
    _el(address, "ram:CountryID", (details.get("country") or "").upper() or "DE")
    if details.get("email"):
        _el(_el(party, "ram:URIUniversalCommunication"), "ram:URIID", details["email"], schemeID="EM")
    if vat_id and details.get("vat_id"):
        _el(_el(party, "ram:SpecifiedTaxRegistration"), "ram:ID", details["vat_id"], schemeID="VA")


def _payment_means(settlement, document: Document, seller: dict) -> None:
    """BG-16: a receipt was paid by card; a statement (and a credit note: the refund) by SEPA credit transfer to the
    operator's IBAN, when the operator has given one."""
    if isinstance(document, Invoice) and document.kind == Invoice.Kind.RECEIPT:
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", BANK_CARD)
    elif seller.get("iban"):
        means = _el(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _el(means, "ram:TypeCode", SEPA_CREDIT_TRANSFER)
        _el(_el(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID", seller["iban"])


def _lines(document: Document) -> list:
    return list(document.lines.all())


def _vat_rows(document: Document, lines: list) -> list[tuple]:
    """(rate, taxable, VAT) per rate as the document stores them."""
    if isinstance(document, CreditNote):
        return [(line.vat_rate, line.amount_excl_vat, line.vat_amount) for line in lines]
    return [(row.vat_rate, row.taxable_amount, row.vat_amount) for row in document.vat_subtotals.all()]


def cii_xml(document: Document, *, xrechnung: bool = False) -> bytes:
    """The issued invoice or credit note as CII XML, profile EN 16931, in the language it was issued in (as its
    PDF); `xrechnung`: as XRechnung 3.0 (its specification identifier BT-24 and business process BT-23; the buyer
    reference BT-10 is the Leitweg-ID)."""
    if not document.number:
        raise ValueError(f"{document} is a draft: drafts have no e-invoice.")
    with translation.override(document_language(document)):
        return _cii_xml(document, xrechnung=xrechnung)


def _cii_xml(document: Document, *, xrechnung: bool) -> bytes:
    is_note = isinstance(document, CreditNote)
    issued = document.issued_at.astimezone(operator_time_zone(document.operator_id)).date()
    seller, buyer = document.seller or {}, document.buyer or {}
    lines = _lines(document)
    unrated = all(line.vat_rate is None for line in lines)
    root = etree.Element(f"{{{NS['rsm']}}}CrossIndustryInvoice", nsmap=NS)
    context = _el(root, "rsm:ExchangedDocumentContext")
    if xrechnung:
        _el(_el(context, "ram:BusinessProcessSpecifiedDocumentContextParameter"), "ram:ID", PEPPOL_BILLING)
    _el(_el(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", XRECHNUNG_3 if xrechnung else EN16931)
    header = _el(root, "rsm:ExchangedDocument")
    _el(header, "ram:ID", document.number)
    _el(header, "ram:TypeCode", CREDIT_NOTE if is_note else INVOICE)
    _date(header, "ram:IssueDateTime", issued)
    if is_note:
        _el(_el(header, "ram:IncludedNote"), "ram:Content", gettext("Reason: %(reason)s") % {
            "reason": credit_reason(document.reason)})
    if document_treatment(buyer) != STANDARD:  # the invoice says why it carries no VAT (BT-22 as well as BT-120)
        _el(_el(header, "ram:IncludedNote"), "ram:Content", category_text(vat_category(None, buyer=buyer).reason))
    transaction = _el(root, "rsm:SupplyChainTradeTransaction")
    for position, line in enumerate(lines, start=1):
        item = _el(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _el(_el(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", str(position))
        _el(_el(item, "ram:SpecifiedTradeProduct"), "ram:Name", line_description(line.description))
        quantity = getattr(line, "quantity", Decimal(1))
        price = getattr(line, "unit_price", line.amount_excl_vat)
        if price < 0:  # a discount: positive price, negative quantity (BR-27: a net price is never negative)
            price, quantity = -price, -quantity
        _el(_el(_el(item, "ram:SpecifiedLineTradeAgreement"), "ram:NetPriceProductTradePrice"), "ram:ChargeAmount",
            format(Decimal(price).normalize(), "f") if Decimal(price) else "0")
        _el(_el(item, "ram:SpecifiedLineTradeDelivery"), "ram:BilledQuantity",
            format(Decimal(quantity).normalize(), "f"), unitCode=UNITS.get(getattr(line, "unit", ""), "C62"))
        settlement = _el(item, "ram:SpecifiedLineTradeSettlement")
        _trade_tax(settlement, vat_category(line.vat_rate, buyer=buyer, only_unrated=unrated))
        _el(_el(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation"), "ram:LineTotalAmount",
            _amount(line.amount_excl_vat))
    agreement = _el(transaction, "ram:ApplicableHeaderTradeAgreement")
    if buyer.get("buyer_reference"):
        _el(agreement, "ram:BuyerReference", buyer["buyer_reference"])
    _party(agreement, "ram:SellerTradeParty", seller, vat_id=not unrated)  # BR-O-2: no VAT ids outside VAT
    _party(agreement, "ram:BuyerTradeParty", buyer, vat_id=not unrated)
    if buyer.get("purchase_order"):
        _el(_el(agreement, "ram:BuyerOrderReferencedDocument"), "ram:IssuerAssignedID", buyer["purchase_order"])
    invoice = document.invoice if is_note else document
    delivery = _el(transaction, "ram:ApplicableHeaderTradeDelivery")  # BT-72: the last day charged
    _date(_el(delivery, "ram:ActualDeliverySupplyChainEvent"), "ram:OccurrenceDateTime", invoice.period_end)
    settlement = _el(transaction, "ram:ApplicableHeaderTradeSettlement")
    _el(settlement, "ram:PaymentReference", document.number)
    _el(settlement, "ram:InvoiceCurrencyCode", document.currency)
    _payment_means(settlement, document, seller)
    for rate, taxable, vat in _vat_rows(document, lines):
        _trade_tax(settlement, vat_category(rate, buyer=buyer, only_unrated=unrated), amounts=(taxable, vat))
    charged_at_issue = (not is_note and document.kind == Invoice.Kind.RECEIPT
                        and receipt_charged_on(document) is not None)
    if not is_note:
        period = _el(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", document.period_start)
        _date(period, "ram:EndDateTime", document.period_end)
        terms = _el(settlement, "ram:SpecifiedTradePaymentTerms")
        days = int(buyer.get("payment_terms_days") or 14)
        if document.kind == Invoice.Kind.RECEIPT and charged_at_issue:
            _el(terms, "ram:Description", gettext("Paid by card"))
        elif document.kind == Invoice.Kind.RECEIPT:  # as the PDF says: due, the card on file will be charged
            _el(terms, "ram:Description", gettext("Payment due: the payment method on file will be charged"))
        else:
            _el(terms, "ram:Description", gettext("Payable within %(days)s days of the issue date") % {"days": days})
            _date(terms, "ram:DueDateDateTime", issued + timedelta(days=days))
    sums = _el(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(sums, "ram:LineTotalAmount", _amount(sum((line.amount_excl_vat for line in lines), Decimal(0))))
    _el(sums, "ram:TaxBasisTotalAmount", _amount(document.total_excl_vat))
    _el(sums, "ram:TaxTotalAmount", _amount(document.total_vat), currencyID=document.currency)
    _el(sums, "ram:GrandTotalAmount", _amount(document.total_incl_vat))
    # a receipt states what was fixed at its issue (as its PDF does); other invoices their state when written
    paid = charged_at_issue if not is_note and document.kind == Invoice.Kind.RECEIPT else (
        not is_note and document.state == Invoice.State.PAID)
    if paid:
        _el(sums, "ram:TotalPrepaidAmount", _amount(document.total_incl_vat))
    _el(sums, "ram:DuePayableAmount", _amount(Decimal(0) if paid else document.total_incl_vat))
    if is_note:
        reference = _el(settlement, "ram:InvoiceReferencedDocument")
        _el(reference, "ram:IssuerAssignedID", document.invoice.number)
        _date(reference, "ram:FormattedIssueDateTime",
              document.invoice.issued_at.astimezone(operator_time_zone(document.operator_id)).date(), qualified=True)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def facturx_pdf(document: Document) -> bytes:
    """The document's PDF (PDF/A-3b) with its CII XML embedded (Factur-X, level EN 16931); the XML is checked
    against the Factur-X schema first (an invalid one raises)."""
    from facturx import generate_from_binary  # imported late: only for documents asked as Factur-X

    metadata = {"author": (document.seller or {}).get("legal_name", ""), "keywords": "Factur-X",
                "title": document.number, "subject": f"Invoice {document.number}"}
    return generate_from_binary(document_pdf(document, pdf_a=True), cii_xml(document), flavor="factur-x",
                                level="en16931", check_xsd=True, pdf_metadata=metadata)


# --- Files: what the portals, the API and the e-mail hand out ------------------------------------------------

class EInvoiceUnavailable(NotFoundError):
    """The document cannot be had in this format (an unknown one, or XRechnung without a Leitweg-ID)."""


@dataclass(frozen=True, slots=True)
class EInvoiceFile:
    content: bytes
    filename: str
    content_type: str


FORMATS = {  # format -> (file name after the document number, content type)
    "facturx": ("-factur-x.pdf", "application/pdf"),
    "cii": ("-en16931.xml", "application/xml"),
    "xrechnung": ("-xrechnung.xml", "application/xml"),
}
SELLER_FOR_XRECHNUNG = {"vat_id": "VAT id", "postal_code": "postal code", "city": "city", "email": "e-mail",
                        "phone": "phone", "iban": "IBAN"}


def einvoice_formats(document: Document) -> list[str]:
    """The formats `document` can be had in: Factur-X and the EN 16931 XML always, XRechnung when its buyer has a
    buyer reference (Leitweg-ID) and the frozen seller details have what XRechnung needs."""
    seller, buyer = document.seller or {}, document.buyer or {}
    xrechnung = bool(buyer.get("buyer_reference")) and all(seller.get(key) for key in SELLER_FOR_XRECHNUNG)
    return [fmt for fmt in FORMATS if fmt != "xrechnung" or xrechnung]


def einvoice_file(document: Document, fmt: str) -> EInvoiceFile:
    """The issued `document` as an e-invoice file in `fmt` (a key of FORMATS); EInvoiceUnavailable when it cannot
    be had so. Callers have found `document` inside what the asking user owns."""
    if fmt not in einvoice_formats(document):
        if fmt == "xrechnung":
            missing = [label for key, label in SELLER_FOR_XRECHNUNG.items() if not (document.seller or {}).get(key)]
            raise EInvoiceUnavailable(
                f"{document.number} has no XRechnung: " + ("its buyer has no Leitweg-ID (buyer reference)."
                                                            if not (document.buyer or {}).get("buyer_reference")
                                                            else f"the seller's {', '.join(missing)} were missing "
                                                                 "at issue."))
        raise EInvoiceUnavailable(f"Unknown e-invoice format {fmt!r}: one of {', '.join(FORMATS)}.")
    suffix, content_type = FORMATS[fmt]
    content = facturx_pdf(document) if fmt == "facturx" else cii_xml(document, xrechnung=fmt == "xrechnung")
    return EInvoiceFile(content, f"{document.number}{suffix}", content_type)
