"""The EN 16931 schematron over every kind of e-invoice this project writes (issue 20, item 6): statements at one
rate and at several (19 %, 7 %, 0 %, unrated), reverse-charged and exempt, a receipt, partial credit notes, and
XRechnung, all validated in one Saxon run (`tests/billing_app/schematron.py`). No finding at all, fatal or warning.
Skips without Saxon-HE outside CI (`make install` installs it; `.ci/run` requires it)."""
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.credit_notes import credit_note_issue
from billing_app.invoicing.documents import receipt_issue_for_session
from billing_app.invoicing.einvoice import EN16931, XRECHNUNG_3, cii_xml
from billing_app.models import BillingAccount, Invoice
from sessions_app.models import Company, Operator
from tests import factories
from tests.billing_app.einvoice_rules import problems
from tests.billing_app.invoice_fixtures import account, charged_session
from tests.billing_app.schematron import saxon_jar, schematron_check
from tests.billing_app.test_companies import BUSINESS, OCT, company, fleet  # noqa: F401 - fixtures

D = Decimal
pytestmark = pytest.mark.usefixtures("no_delivery")


def _company(operator, connector, name: str, components, **fields) -> Company:
    buyer = factories.CompanyFactory(operator=operator, legal_name=name, vat_id="DE136695976", **fields)
    BillingAccount.objects.create(company=buyer, operator=operator, payment_mode="postpaid")
    driver = factories.DriverFactory(operator=operator, company=buyer)
    card = factories.IdTokenFactory(operator=operator, driver=driver, company=buyer, charging=BUSINESS)
    for day, kwh in ((0, "11.11"), (3, "3")):
        charged_session(connector=connector, driver=driver, id_token=card, started_at=OCT + timedelta(days=day),
                        energy_kwh=kwh, parking_hours="0.5", components=components)
    return buyer


def _documents(operator, company, connector) -> dict[str, bytes]:  # noqa: F811
    Operator.objects.filter(pk=operator.pk).update(postal_code="10115", city="Berlin", phone="+49 30 5550 1120",
                                                   iban="DE89370400440532013000", email="billing@voltara.example")
    Company.objects.filter(pk=company.pk).update(buyer_reference="04011000-1234512345-06")
    mixed = _company(operator, connector, "Mixed Rates GmbH", (
        ("ENERGY", "0.39", "19", 1), ("PARKING_TIME", "1.20", "7", 1), ("FLAT", "0.50", None, 1)))
    zero = _company(operator, connector, "Zero Rate GmbH", (("ENERGY", "0.30", "0", 1),))
    reseller = _company(operator, connector, "Reseller eMSP GmbH", (("ENERGY", "0.39", "19", 1),),
                        vat_treatment=Company.VatTreatment.REVERSE_CHARGE)
    exempt = _company(operator, connector, "Mission GmbH", (("ENERGY", "0.39", "19", 1),),
                      vat_treatment=Company.VatTreatment.EXEMPT, vat_exemption_code="VATEX-EU-151-1A",
                      vat_exemption_reason="Supply to a diplomatic mission (Art. 151(1)(a) Directive 2006/112/EC)")
    driver = factories.DriverFactory(operator=operator)
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=datetime(2026, 10, 9, 8, tzinfo=UTC),
                             energy_kwh="11.11", components=(("ENERGY", "0.39", "19", 1), ("FLAT", "1.00", "7", 1)))
    receipt = receipt_issue_for_session(session_id=charge.session_id)
    billing_run(period=date(2026, 10, 1))

    def statement(of: Company) -> Invoice:
        return Invoice.objects.get(account__company=of, kind=Invoice.Kind.STATEMENT)

    fleet_statement, reseller_statement = statement(company), statement(reseller)
    notes = {name: credit_note_issue(invoice_id=invoice.pk, amount_incl_vat=D("2.00"), reason="Overcharged")
             for name, invoice in (("fleet", fleet_statement), ("reseller", reseller_statement),
                                   ("mixed", statement(mixed)))}
    receipt_note = credit_note_issue(invoice_id=receipt.pk, amount_incl_vat=D("1.00"), reason="Goodwill")
    return {
        "statement-19": cii_xml(fleet_statement), "statement-xrechnung": cii_xml(fleet_statement, xrechnung=True),
        "credit-note-19": cii_xml(notes["fleet"]), "credit-note-xrechnung": cii_xml(notes["fleet"], xrechnung=True),
        "statement-mixed": cii_xml(statement(mixed)), "credit-note-mixed": cii_xml(notes["mixed"]),
        "statement-zero": cii_xml(statement(zero)),
        "statement-reverse-charge": cii_xml(reseller_statement), "credit-note-reverse-charge": cii_xml(
            notes["reseller"]),
        "statement-exempt": cii_xml(statement(exempt)),
        "receipt": cii_xml(receipt), "credit-note-receipt": cii_xml(receipt_note),
    }


def test_every_kind_of_einvoice_passes_the_en16931_schematron(operator, company, fleet, connector,  # noqa: F811
                                                               tmp_path):
    if saxon_jar() is None:
        if os.environ.get("CI"):
            pytest.fail("Saxon-HE is missing: apt-get install libsaxonhe-java")
        pytest.skip("Saxon-HE is not installed (apt-get install libsaxonhe-java)")
    documents = _documents(operator, company, connector)
    (tmp_path / "xml").mkdir()
    for name, xml in documents.items():
        assert problems(xml) == [], name
        if name.endswith("xrechnung"):  # Factur-X's schematron admits only its own BT-24; the EN 16931 rules are
            xml = xml.replace(XRECHNUNG_3.encode(), EN16931.encode())  # XRechnung's too (BR-DE-*: einvoice_rules)
        (tmp_path / "xml" / f"{name}.xml").write_bytes(xml)
    findings, fired = schematron_check(tmp_path)
    assert "\n".join(str(finding) for finding in findings) == ""
    assert fired > 50 * len(documents)  # the rules did run on every document
