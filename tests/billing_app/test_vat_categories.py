"""Reverse charge and exempt buyers (issue 20, item 4): a reverse-charged company's statement carries the priced
net amounts with no VAT, category AE with the reason and both VAT ids; an exempt one E with the operator's reason;
a standard one S per rate, Z at 0 %, and an unrated component E beside rated ones or O alone. Exact cents, the
XML valid against the Factur-X EN 16931 schema, the PDF saying why there is no VAT."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from facturx import xml_check_xsd
from lxml import etree

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.einvoice import NS, cii_xml
from billing_app.invoicing.pdf import document_pdf
from billing_app.invoicing.vat_categories import vat_category
from sessions_app.models import Company
from tests import factories
from tests.billing_app.einvoice_rules import problems
from tests.billing_app.invoice_fixtures import charged_session, pdf_text
from tests.billing_app.test_companies import BUSINESS, OCT, _statement, company, fleet  # noqa: F401 - fixtures

D = Decimal
pytestmark = pytest.mark.usefixtures("no_delivery")
RC = Company.VatTreatment.REVERSE_CHARGE


def _breakdown(tree) -> list[tuple]:
    return [(t.findtext("ram:CategoryCode", namespaces=NS), t.findtext("ram:RateApplicablePercent", namespaces=NS),
             t.findtext("ram:BasisAmount", namespaces=NS), t.findtext("ram:CalculatedAmount", namespaces=NS),
             t.findtext("ram:ExemptionReasonCode", namespaces=NS))
            for t in tree.findall(".//ram:ApplicableHeaderTradeSettlement/ram:ApplicableTradeTax", namespaces=NS)]


def _sums(tree) -> list[str]:
    return [tree.findtext(f".//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:{name}", namespaces=NS)
            for name in ("LineTotalAmount", "TaxBasisTotalAmount", "TaxTotalAmount", "GrandTotalAmount")]


def test_reverse_charged_statement_is_net_with_ae_and_both_vat_ids(company, fleet, media):  # noqa: F811
    Company.objects.filter(pk=company.pk).update(vat_treatment=RC)
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    # the same four sessions as at 19 % (20.48 net, 3.89 VAT): the buyer accounts for the VAT
    assert (statement.total_excl_vat, statement.total_vat, statement.total_incl_vat) == (
        D("20.48"), D("0.00"), D("20.48"))
    assert {(line.vat_rate, line.vat_amount) for line in statement.lines.all()} == {(D("0"), D("0.00"))}
    xml = cii_xml(statement)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931") and problems(xml) == []
    tree = etree.fromstring(xml)
    assert _breakdown(tree) == [("AE", "0", "20.48", "0.00", "VATEX-EU-AE")]
    assert {c.text for c in tree.findall(".//ram:IncludedSupplyChainTradeLineItem//ram:CategoryCode",
                                         namespaces=NS)} == {"AE"}
    assert _sums(tree) == ["20.48", "20.48", "0.00", "20.48"]
    assert tree.findtext(".//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS) == \
        statement.seller["vat_id"]
    assert tree.findtext(".//ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID", namespaces=NS) == "DE136695976"
    assert "Reverse charge" in tree.findtext(".//ram:ExemptionReason", namespaces=NS)
    flat = " ".join(pdf_text(document_pdf(statement)).split())
    assert "Reverse charge €20.48 €0.00 €20.48" in flat and "Total €20.48" in flat
    assert f"Supplier's VAT id {statement.seller['vat_id']}, recipient's VAT id DE136695976." in flat
    assert "§13b UStG" in flat


def test_partial_credit_note_of_a_reverse_charged_statement_has_no_vat(company, fleet):  # noqa: F811
    Company.objects.filter(pk=company.pk).update(vat_treatment=RC)
    billing_run(period=date(2026, 10, 1))
    note = credit_note_issue(invoice_id=_statement(company).pk, amount_incl_vat=D("5.95"), reason="Overcharged")
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (D("5.95"), D("0.00"), D("5.95"))
    tree = etree.fromstring(cii_xml(note))
    assert xml_check_xsd(etree.tostring(tree), flavor="factur-x", level="en16931")
    assert problems(etree.tostring(tree)) == []
    assert _breakdown(tree) == [("AE", "0", "5.95", "0.00", "VATEX-EU-AE")]


def test_exempt_buyer_gets_e_with_the_operators_reason(company, fleet):  # noqa: F811
    Company.objects.filter(pk=company.pk).update(
        vat_treatment=Company.VatTreatment.EXEMPT, vat_exemption_code="VATEX-EU-151-1E",
        vat_exemption_reason="Supply to a diplomatic mission, exempt under Art. 151(1)(a) Directive 2006/112/EC")
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert (statement.total_vat, statement.total_incl_vat) == (D("0.00"), D("20.48"))
    tree = etree.fromstring(cii_xml(statement))
    assert xml_check_xsd(etree.tostring(tree), flavor="factur-x", level="en16931")
    assert problems(etree.tostring(tree)) == []
    assert _breakdown(tree) == [("E", "0", "20.48", "0.00", "VATEX-EU-151-1E")]
    assert tree.findtext(".//ram:ExemptionReason", namespaces=NS).startswith("Supply to a diplomatic mission")


def test_standard_statement_at_19_and_7_percent_with_an_unrated_fee(company, operator, connector):  # noqa: F811
    """Energy at 19 %, parking at 7 %, a session fee priced without VAT and one at 0 %: S 19, S 7, Z, and the
    unrated fee E (not subject to VAT) because O may not stand beside other categories (BR-O-11)."""
    driver = factories.DriverFactory(operator=operator, company=company)
    card = factories.IdTokenFactory(operator=operator, driver=driver, company=company, charging=BUSINESS)
    components = (("ENERGY", "0.39", "19", 1), ("PARKING_TIME", "1.20", "7", 1), ("FLAT", "0.50", None, 1))
    charged_session(connector=connector, driver=driver, id_token=card, started_at=OCT, energy_kwh="11.11",
                    parking_hours="0.5", components=components)
    charged_session(connector=connector, driver=driver, id_token=card, started_at=OCT + timedelta(days=1),
                    energy_kwh="3", components=(("FLAT", "1.00", "0", 1),))
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    # 11.11 x 0.39 = 4.3329 -> 4.33 (VAT 0.8227 -> 0.82); 0.5 h x 1.20 = 0.60 (VAT 0.042 -> 0.04); 0.50; 1.00
    assert (statement.total_excl_vat, statement.total_vat, statement.total_incl_vat) == (
        D("6.43"), D("0.86"), D("7.29"))
    tree = etree.fromstring(cii_xml(statement))
    assert xml_check_xsd(etree.tostring(tree), flavor="factur-x", level="en16931")
    assert problems(etree.tostring(tree)) == []
    assert _breakdown(tree) == [("Z", "0", "1.00", "0.00", None), ("S", "7", "0.60", "0.04", None),
                                ("S", "19", "4.33", "0.82", None), ("E", "0", "0.50", "0.00", None)]
    assert _sums(tree) == ["6.43", "6.43", "0.86", "7.29"]


def test_a_document_priced_without_vat_throughout_is_o_without_vat_ids():
    assert vat_category(None, buyer={}, only_unrated=True).code == "O"
    assert vat_category(None, buyer={}, only_unrated=True).rate is None
    assert vat_category(D("19.000"), buyer={"vat_treatment": "standard"}).rate == D("19")


def test_reverse_charge_needs_both_vat_ids_and_exempt_a_reason(operator):
    reseller = factories.CompanyFactory.build(operator=operator, vat_treatment=RC, vat_id="")
    with pytest.raises(ValidationError, match="buyer's VAT id"):
        reseller.full_clean()
    operator.vat_id = ""
    reseller.vat_id = "DE136695976"
    with pytest.raises(ValidationError, match="operator's own VAT id"):
        reseller.full_clean()
    exempt = factories.CompanyFactory.build(operator=operator, vat_treatment=Company.VatTreatment.EXEMPT)
    with pytest.raises(ValidationError, match="must state why"):
        exempt.full_clean()
    exempt.vat_exemption_code = "151E"
    with pytest.raises(ValidationError, match="VATEX"):
        exempt.full_clean()
