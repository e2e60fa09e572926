"""EN 16931 business rules that Python can check on a CII document without the schematron: the mandatory fields
(BR-01..BR-11, BR-16), the totals (BR-CO-10, 13, 14, 15, 16), the VAT breakdown (BR-CO-17, BR-CO-18, and per
category the taxable amount as the sum of its lines: BR-S-8, BR-Z-8, BR-E-8, BR-AE-8, BR-O-8), the category rules
this project uses (BR-S-5, BR-Z-5, BR-E-5/10, BR-AE-2/5/10, BR-O-2/5/11) and, for XRechnung, the German rules on
what must be there (BR-DE-1..9, 15, 16, 21, 23) and BT-34 / BT-49. `problems(xml)` lists what is broken, by rule."""
from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

from billing_app.invoicing.einvoice import NS, XRECHNUNG_3

CENT = Decimal("0.01")
HEADER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
SUMS = f"{HEADER}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
SELLER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
BUYER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:BuyerTradeParty"

MANDATORY = {
    "BR-01 specification identifier (BT-24)":
        "rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID",
    "BR-02 invoice number (BT-1)": "rsm:ExchangedDocument/ram:ID",
    "BR-03 issue date (BT-2)": "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString",
    "BR-04 type code (BT-3)": "rsm:ExchangedDocument/ram:TypeCode",
    "BR-05 currency (BT-5)": f"{HEADER}/ram:InvoiceCurrencyCode",
    "BR-06 seller name (BT-27)": f"{SELLER}/ram:Name",
    "BR-07 buyer name (BT-44)": f"{BUYER}/ram:Name",
    "BR-09 seller country (BT-40)": f"{SELLER}/ram:PostalTradeAddress/ram:CountryID",
    "BR-11 buyer country (BT-55)": f"{BUYER}/ram:PostalTradeAddress/ram:CountryID",
    "BR-12 sum of line net amounts (BT-106)": f"{SUMS}/ram:LineTotalAmount",
    "BR-13 total without VAT (BT-109)": f"{SUMS}/ram:TaxBasisTotalAmount",
    "BR-14 total with VAT (BT-112)": f"{SUMS}/ram:GrandTotalAmount",
    "BR-15 amount due (BT-115)": f"{SUMS}/ram:DuePayableAmount",
}
XRECHNUNG = {
    "BR-DE-1 payment instructions (BG-16)": f"{HEADER}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode",
    "BR-DE-2/5 seller contact name (BT-41)": f"{SELLER}/ram:DefinedTradeContact/ram:PersonName",
    "BR-DE-6 seller contact telephone (BT-42)":
        f"{SELLER}/ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/ram:CompleteNumber",
    "BR-DE-7 seller contact e-mail (BT-43)":
        f"{SELLER}/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID",
    "BR-DE-3 seller city (BT-37)": f"{SELLER}/ram:PostalTradeAddress/ram:CityName",
    "BR-DE-4 seller post code (BT-38)": f"{SELLER}/ram:PostalTradeAddress/ram:PostcodeCode",
    "BR-DE-8 buyer city (BT-52)": f"{BUYER}/ram:PostalTradeAddress/ram:CityName",
    "BR-DE-9 buyer post code (BT-53)": f"{BUYER}/ram:PostalTradeAddress/ram:PostcodeCode",
    "BR-DE-15 buyer reference (BT-10)": "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/"
                                        "ram:BuyerReference",
    "BT-34 seller electronic address": f"{SELLER}/ram:URIUniversalCommunication/ram:URIID",
    "BT-49 buyer electronic address": f"{BUYER}/ram:URIUniversalCommunication/ram:URIID",
}


def _d(text: str | None) -> Decimal:
    return Decimal(text or "0")


def problems(xml: bytes) -> list[str]:
    """The EN 16931 (and, for an XRechnung document, German) rules `xml` breaks; empty when none."""
    root = etree.fromstring(xml)

    def text(path: str, at=root) -> str | None:
        return at.findtext(path, namespaces=NS)

    found = [f"{rule}: missing" for rule, path in MANDATORY.items() if not (text(path) or "").strip()]
    lines = root.findall("rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem", namespaces=NS)
    if not lines:
        found.append("BR-16 at least one invoice line: none")
    line_sum = Decimal(0)
    per_category: dict[tuple[str, Decimal | None], Decimal] = defaultdict(Decimal)
    for line in lines:
        net = _d(text("ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/"
                      "ram:LineTotalAmount", line))
        code = text("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode", line)
        rate = text("ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:RateApplicablePercent", line)
        line_sum += net
        per_category[(code, None if rate is None else Decimal(rate))] += net
        if code == "O" and rate is not None:
            found.append("BR-O-5 a line of category O has no VAT rate")
    sums = {name: _d(text(f"{SUMS}/ram:{name}")) for name in (
        "LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount", "TotalPrepaidAmount",
        "DuePayableAmount")}
    if sums["LineTotalAmount"] != line_sum:
        found.append(f"BR-CO-10 sum of lines {line_sum} != {sums['LineTotalAmount']}")
    if sums["TaxBasisTotalAmount"] != sums["LineTotalAmount"]:  # no document allowances or charges
        found.append("BR-CO-13 total without VAT != sum of lines")
    if sums["GrandTotalAmount"] != sums["TaxBasisTotalAmount"] + sums["TaxTotalAmount"]:
        found.append("BR-CO-15 total with VAT != total without VAT + VAT")
    if sums["DuePayableAmount"] != sums["GrandTotalAmount"] - sums["TotalPrepaidAmount"]:
        found.append("BR-CO-16 amount due != total with VAT - paid")
    rows = root.findall(f"{HEADER}/ram:ApplicableTradeTax", namespaces=NS)
    if not rows:
        found.append("BR-CO-18 at least one VAT breakdown: none")
    vat_sum, categories = Decimal(0), set()
    for row in rows:
        code, rate_text = text("ram:CategoryCode", row), text("ram:RateApplicablePercent", row)
        rate = None if rate_text is None else Decimal(rate_text)
        basis, vat = _d(text("ram:BasisAmount", row)), _d(text("ram:CalculatedAmount", row))
        categories.add(code)
        vat_sum += vat
        if basis != per_category.pop((code, rate), Decimal(0)):
            found.append(f"BR-{code}-8 taxable amount of {code} {rate} != sum of its lines")
        expected = (basis * (rate or 0) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        if vat != expected:
            found.append(f"BR-CO-17 VAT of {code} {rate}: {vat} != {expected}")
        if code == "S" and not rate:
            found.append("BR-S-5 category S needs a rate above 0")
        if code in ("Z", "E", "AE") and rate != 0:
            found.append(f"BR-{code}-5 category {code} has rate 0")
        if code in ("E", "AE") and not (text("ram:ExemptionReason", row) or text("ram:ExemptionReasonCode", row)):
            found.append(f"BR-{code}-10 category {code} states its exemption reason")
    if per_category:
        found.append(f"BR-CO-18 lines without a VAT breakdown row: {sorted(per_category, key=str)}")
    if vat_sum != sums["TaxTotalAmount"]:
        found.append("BR-CO-14 VAT total != sum of the breakdown's VAT")
    seller_vat = text(f"{SELLER}/ram:SpecifiedTaxRegistration/ram:ID")
    buyer_vat = text(f"{BUYER}/ram:SpecifiedTaxRegistration/ram:ID")
    if "AE" in categories and not (seller_vat and buyer_vat):
        found.append("BR-AE-2 reverse charge needs the seller's and the buyer's VAT ids")
    if "S" in categories and not seller_vat:
        found.append("BR-S-2 standard rate needs the seller's VAT id")
    if "O" in categories and (len(categories) > 1 or seller_vat or buyer_vat):
        found.append("BR-O-2/11 category O stands alone and without VAT ids")
    if text(MANDATORY["BR-01 specification identifier (BT-24)"]) == XRECHNUNG_3:
        found += [f"{rule}: missing" for rule, path in XRECHNUNG.items() if not (text(path) or "").strip()]
        if text("rsm:ExchangedDocument/ram:TypeCode") not in ("326", "380", "384", "389", "381", "875", "876", "877"):
            found.append("BR-DE-17 type code")
        if "S" in categories and not seller_vat:
            found.append("BR-DE-16 seller VAT id")
        if text(f"{HEADER}/ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode") in ("30", "58") and not text(
                f"{HEADER}/ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/"
                "ram:IBANID"):
            found.append("BR-DE-23 credit transfer needs the account (BT-84)")
    return found
