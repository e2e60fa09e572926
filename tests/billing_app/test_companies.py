"""Company (fleet) accounts: business cards billed to the company on one consolidated monthly statement
(subtotals per cost centre and per driver, exact cents, read back from the PDF), private cards paid by the
driver as before, no card hold for business charging, monthly caps with one notice, VAT ids checked per
country, and today's postpaid accounts migrated to companies without losing history."""
import csv
import importlib
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.core import mail
from django.core.exceptions import ValidationError

from billing_app.companies.caps import CAP_REACHED, card_cap_check, card_cap_standing
from billing_app.invoicing.billing_run import billing_run
from billing_app.invoicing.documents import receipt_issue_for_session
from billing_app.invoicing.pdf import document_pdf
from billing_app.models import BillingAccount, CardCapNotice, Invoice, Payment
from billing_app.payments.services import token_payment_standing
from billing_app.payments.session_holds import session_hold_claim
from billing_app.settlement.services import session_settle
from sessions_app import services as session_services
from sessions_app.models import ChargingSession, Company, IdToken
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session, pdf_text

D = Decimal
POSTPAID = BillingAccount.PaymentMode.POSTPAID
BUSINESS = IdToken.Charging.BUSINESS
OCT = datetime(2026, 10, 6, 8, tzinfo=UTC)


@pytest.fixture
def company(operator):
    company = factories.CompanyFactory(
        operator=operator, legal_name="Acme Logistik GmbH", vat_id="DE136695976",
        buyer_reference="04011000-12345-67", purchase_order="PO-4711", payment_terms_days=30)
    BillingAccount.objects.create(company=company, operator=operator, payment_mode=POSTPAID)
    return company


@pytest.fixture
def fleet(operator, company, connector):
    """Three member drivers (own pay-as-you-go accounts for their private cards), two cost centres; in October
    four business sessions and one private one."""
    names = ["Anna Novak", "Ben Schmidt", "Clara Byrne"]
    drivers = [factories.DriverFactory(operator=operator, company=company, profile__full_name=n) for n in names]
    for driver in drivers:
        account(driver)
    cards = {
        "anna": factories.IdTokenFactory(operator=operator, driver=drivers[0], company=company, charging=BUSINESS,
                                         cost_centre="Sales", licence_plate="B-AC 1001", uid="04BUSANNA"),
        "ben": factories.IdTokenFactory(operator=operator, driver=drivers[1], company=company, charging=BUSINESS,
                                        cost_centre="Service", uid="04BUSBEN"),
        "clara": factories.IdTokenFactory(operator=operator, driver=drivers[2], company=company, charging=BUSINESS,
                                          cost_centre="Sales", uid="04BUSCLARA"),
        "anna_private": factories.IdTokenFactory(operator=operator, driver=drivers[0], company=company,
                                                 uid="04PRIVANNA"),
    }
    sessions = {
        "anna1": charged_session(connector=connector, driver=drivers[0], id_token=cards["anna"], started_at=OCT,
                                 energy_kwh="10"),
        "anna2": charged_session(connector=connector, driver=drivers[0], id_token=cards["anna"],
                                 started_at=OCT + timedelta(days=1), energy_kwh="20"),
        "ben": charged_session(connector=connector, driver=drivers[1], id_token=cards["ben"],
                               started_at=OCT + timedelta(days=2), energy_kwh="15"),
        "clara": charged_session(connector=connector, driver=drivers[2], id_token=cards["clara"],
                                 started_at=OCT + timedelta(days=3), energy_kwh="7.5"),
        "private": charged_session(connector=connector, driver=drivers[0], id_token=cards["anna_private"],
                                   started_at=OCT + timedelta(days=4), energy_kwh="12"),
    }
    return {"drivers": drivers, "cards": cards, "charges": sessions}


def _statement(company) -> Invoice:
    return Invoice.objects.get(account__company=company, kind=Invoice.Kind.STATEMENT)


@pytest.mark.usefixtures("no_delivery")
def test_statement_bills_the_business_sessions_of_all_members_to_the_company(company, fleet):
    results = billing_run(period=date(2026, 10, 1))
    assert results[0].issued == 1  # the company's; the drivers' own accounts pay as they go
    statement = _statement(company)
    assert statement.driver is None
    assert {line.session_id for line in statement.lines.all()} == {
        fleet["charges"][k].session_id for k in ("anna1", "anna2", "ben", "clara")}
    # 52.5 kWh x 0.39 at 19 %: 3.90 + 7.80 + 5.85 + 2.93 (7.5 kWh: 2.925 rounded once) = 20.48 net
    assert (statement.total_excl_vat, statement.total_vat, statement.total_incl_vat) == (
        D("20.48"), D("3.89"), D("24.37"))
    assert statement.buyer["company_name"] == "Acme Logistik GmbH"
    assert statement.buyer["vat_id"] == "DE136695976"
    assert statement.buyer["buyer_reference"] == "04011000-12345-67"
    assert statement.buyer["email"] == company.billing_email


@pytest.mark.usefixtures("no_delivery")
def test_private_card_sessions_stay_the_drivers(company, fleet):
    private = fleet["charges"]["private"].session
    business = fleet["charges"]["anna1"].session
    assert private.company_id is None and business.company_id == company.pk
    receipt = receipt_issue_for_session(session_id=private.pk)
    assert receipt.driver == fleet["drivers"][0] and receipt.total_incl_vat == D("5.57")  # 4.68 + 0.89
    assert receipt_issue_for_session(session_id=business.pk) is None
    billing_run(period=date(2026, 10, 1))
    assert not _statement(company).lines.filter(session=private).exists()


def test_a_german_companys_statement_is_issued_in_german(company, fleet, media):
    """The company's language, not its members', decides its statement's (issue 21)."""
    company.language = "de"
    company.save(update_fields=["language"])
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert statement.language == "de"
    flat = " ".join(pdf_text(document_pdf(statement)).split())
    for german in ("Rechnung", "USt-IdNr. DE136695976", "Käuferreferenz 04011000-12345-67",
                   "Bestellnummer PO-4711", "Zahlbar innerhalb von 30 Tagen", "Sales 3 37,500 14,63 € 2,78 € 17,41 €",
                   "Nach Kostenstelle", "Nach Fahrer"):
        assert german in flat, german
    assert "Payable within" not in flat and "Per cost centre" not in flat


def test_statement_pdf_has_subtotals_per_cost_centre_and_driver_to_the_cent(company, fleet, media, connector):
    billing_run(period=date(2026, 10, 1))
    text = pdf_text(document_pdf(_statement(company)))
    flat = " ".join(text.split())
    assert "Acme Logistik GmbH" in flat and "VAT id DE136695976" in flat and "LOCATION" in flat
    assert "Buyer reference 04011000-12345-67" in flat and "Purchase order PO-4711" in flat
    assert "Payable within 30 days" in flat
    # Sales: Anna 4.64 + 9.28, Clara 3.49 = 17.41; Service: Ben 6.96
    assert "Sales 3 37.500 €14.63 €2.78 €17.41" in flat
    assert "Service 1 15.000 €5.85 €1.11 €6.96" in flat
    assert "Anna Novak 2 30.000 €11.70 €2.22 €13.92" in flat
    assert "Ben Schmidt 1 15.000 €5.85 €1.11 €6.96" in flat
    assert "Clara Byrne 1 7.500 €2.93 €0.56 €3.49" in flat
    rows = [" ".join(line.split()) for line in text.splitlines() if "04BUS" in line]
    session, site = fleet["charges"]["anna1"].session_id, connector.station.location.name
    assert rows[0] == f"{session} 6 Oct 2026 10:00 Anna Novak 04BUSANNA · B-AC 1001 Sales {site} 10.000 €3.90 €4.64"
    assert len(rows) == 4 and rows[3].endswith(f"Clara Byrne 04BUSCLARA Sales {site} 7.500 €2.93 €3.49")
    assert "Attn." not in flat
    assert "Total €24.37" in flat and "VAT 19 % €20.48 €3.89 €24.37" in flat
    assert "04PRIVANNA" not in flat


def test_above_the_size_limit_the_statement_summarises_and_attaches_the_session_list(
        company, fleet, media, django_capture_on_commit_callbacks):
    Company.objects.filter(pk=company.pk).update(statement_session_lines=3)
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: PDF rendered and e-mailed on commit
        billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    flat = " ".join(pdf_text(document_pdf(statement)).split())
    assert "4 sessions (more than 3)" in flat and f"{statement.number}-sessions.csv" in flat
    assert "04BUSANNA" not in flat and "Sales 3 37.500 €14.63 €2.78 €17.41" in flat
    [message] = mail.outbox
    assert message.to == [company.billing_email]
    names = [name for name, _content, _type in message.attachments]
    assert names == [f"{statement.number}.pdf", f"{statement.number}-sessions.csv"]
    rows = list(csv.DictReader(io.StringIO(message.attachments[1][1])))
    assert len(rows) == 4 and sum(D(r["total_incl_vat"]) for r in rows) == statement.total_incl_vat
    assert {r["cost_centre"] for r in rows} == {"Sales", "Service"}


@pytest.mark.usefixtures("no_delivery")
def test_business_cards_get_no_card_hold(company, fleet, connector):
    card = fleet["cards"]["ben"]
    assert token_payment_standing(id_token=card, station=connector.station, at=OCT) is None
    session = session_services.session_start(connector=connector, id_token=card, started_at=OCT + timedelta(days=9),
                                             meter_start_wh=D(0), transaction_ref="tx-business")
    assert session.company_id == company.pk and session.cost_centre == "Service"
    assert session_hold_claim(session=session) is None
    assert not Payment.objects.exists()


@pytest.mark.usefixtures("no_delivery")
def test_a_card_at_its_monthly_cap_is_refused_and_the_company_told_once(
        company, fleet, connector, django_capture_on_commit_callbacks):
    manager = factories.FleetManagerFactory(company=company, email="fm@acme.example", language="de")
    company.language = "de"  # the billing address reads German; the driver (no language set) the default
    company.save(update_fields=["language"])
    card = fleet["cards"]["anna"]  # spent 4.64 + 9.28 = 13.92 in October
    IdToken.objects.filter(pk=card.pk).update(monthly_cap=D("13.92"))
    card.refresh_from_db()
    assert card_cap_standing(id_token=card, at=OCT + timedelta(days=20)) == CAP_REACHED
    assert token_payment_standing(id_token=card, station=connector.station, at=OCT + timedelta(days=20)) == CAP_REACHED
    assert card_cap_standing(id_token=card, at=datetime(2026, 11, 1, 8, tzinfo=UTC)) is None  # a new month
    with django_capture_on_commit_callbacks(execute=True):
        notice = card_cap_check(session=fleet["charges"]["anna2"].session)
        assert card_cap_check(session=fleet["charges"]["anna1"].session) == notice
    assert CardCapNotice.objects.count() == 1 and notice.spent == D("13.92") and notice.month == date(2026, 10, 1)
    assert sorted(m.to for m in mail.outbox) == sorted(
        [[company.billing_email], [manager.email], [fleet["drivers"][0].email]])
    sent = {m.to[0]: m for m in mail.outbox}
    for german in (company.billing_email, manager.email):
        assert sent[german].subject == "Karte 04BUSANNA hat ihr Monatslimit erreicht"
        assert "13,92\xa0€" in sent[german].body and "Oktober 2026" in sent[german].body
    english = sent[fleet["drivers"][0].email]
    assert "04BUSANNA" in english.subject and "€13.92" in english.body and "October 2026" in english.body
    IdToken.objects.filter(pk=card.pk).update(monthly_cap=D("13.93"))
    card.refresh_from_db()
    assert card_cap_standing(id_token=card, at=OCT + timedelta(days=20)) is None


@pytest.mark.django_db(transaction=True)
def test_settling_a_business_session_checks_the_cap(operator, company, connector):
    factories.energy_tariff(operator, price="0.39", vat="19")
    driver = factories.DriverFactory(operator=operator, company=company)
    card = factories.IdTokenFactory(operator=operator, driver=driver, company=company, charging=BUSINESS,
                                    monthly_cap=D("4.00"))
    session = session_services.session_start(connector=connector, id_token=card, started_at=OCT,
                                             meter_start_wh=D(1000), transaction_ref="tx-cap")
    session_services.session_stop(session=session, stopped_at=OCT + timedelta(hours=1), meter_stop_wh=D(11000))
    charge = session_settle(session_id=session.pk)
    assert charge.total_incl_vat == D("4.64")
    assert CardCapNotice.objects.get(id_token=card).spent == D("4.64")
    assert sorted(m.to for m in mail.outbox) == sorted([[company.billing_email], [driver.email]])  # one each


def test_vat_ids_are_checked_by_the_companys_country(operator):
    company = factories.CompanyFactory.build(operator=operator, vat_id="de 136 695 976")
    company.full_clean()
    assert company.vat_id == "DE136695976"
    for vat_id, country, message in [("DE136695977", "DE", "not a valid VAT id"),
                                      ("FR40303265045", "DE", "not a VAT id of DE"),
                                      ("123", "US", "cannot be checked")]:
        bad = factories.CompanyFactory.build(operator=operator, vat_id=vat_id, country=country)
        with pytest.raises(ValidationError, match=message) as raised:
            bad.full_clean()
        assert "vat_id" in raised.value.message_dict


@pytest.mark.usefixtures("no_delivery")
def test_migration_turns_postpaid_accounts_into_companies_keeping_history(operator, connector):
    """The data migration (billing_app 0012) run on today's shape: a postpaid fleet driver with an issued
    statement, a receipt from before they were postpaid, and a pay-as-you-go driver who is left alone."""
    migration = importlib.import_module("billing_app.migrations.0012_postpaid_accounts_to_companies")
    fleet_driver = factories.DriverFactory(operator=operator, profile__company_name="Fleetwise Logistics",
                                           profile__full_name="Felix Weber")
    payg_driver = factories.DriverFactory(operator=operator)
    old_account = account(fleet_driver)
    account(payg_driver)
    card = factories.IdTokenFactory(operator=operator, driver=fleet_driver)
    receipt_charge = charged_session(connector=connector, driver=fleet_driver, started_at=OCT - timedelta(days=60))
    receipt = receipt_issue_for_session(session_id=receipt_charge.session_id)
    BillingAccount.objects.filter(pk=old_account.pk).update(payment_mode=POSTPAID)
    billed = charged_session(connector=connector, driver=fleet_driver, started_at=OCT)
    statement = billing_run(period=date(2026, 10, 1)) and Invoice.objects.get(kind=Invoice.Kind.STATEMENT)

    migration.postpaid_accounts_to_companies(apps, None)

    company = Company.objects.get()
    assert (company.legal_name, company.operator, company.billing_email) == (
        "Fleetwise Logistics", operator, fleet_driver.email)
    moved = BillingAccount.objects.get(pk=old_account.pk)
    assert (moved.company, moved.driver, moved.payment_mode) == (company, None, POSTPAID)
    statement.refresh_from_db()
    assert statement.account == moved and statement.driver == fleet_driver  # still the driver's history too
    fleet_driver.refresh_from_db()
    card.refresh_from_db()
    assert fleet_driver.company == company and (card.company, card.charging) == (company, BUSINESS)
    assert ChargingSession.objects.get(pk=billed.session_id).company == company
    assert ChargingSession.objects.get(pk=receipt.session_id).company is None  # paid by the driver's card
    assert BillingAccount.objects.get(driver=payg_driver).company is None
    migration.postpaid_accounts_to_companies(apps, None)  # twice changes nothing
    assert Company.objects.count() == 1

    accounts = importlib.import_module("billing_app.migrations.0015_member_private_accounts")
    accounts.member_private_accounts(apps, None)  # the migrated driver gets a private account of their own
    private = BillingAccount.objects.get(driver=fleet_driver)
    assert (private.payment_mode, private.company, private.operator) == (BillingAccount.PaymentMode.PAY_AS_YOU_GO,
                                                                         None, operator)
    accounts.member_private_accounts(apps, None)  # twice changes nothing
    assert BillingAccount.objects.filter(driver__in=[fleet_driver, payg_driver]).count() == 2
    accounts.member_private_accounts_remove(apps, None)
    assert not BillingAccount.objects.filter(driver=fleet_driver).exists()
    assert BillingAccount.objects.filter(driver=payg_driver).exists()  # not a member: untouched

    migration.companies_to_postpaid_accounts(apps, None)
    moved.refresh_from_db()
    card.refresh_from_db()
    assert (moved.driver, moved.company) == (fleet_driver, None) and not Company.objects.exists()
    assert card.charging == IdToken.Charging.PRIVATE


@pytest.mark.usefixtures("no_delivery")
def test_subtotals_share_the_documents_vat_per_rate_to_the_cent(company, operator, connector):
    """Five sessions of 0.05 kWh (0.02 net each): each line's own VAT rounds to 0.00, the document's VAT at
    19 % on 0.10 is 0.02 (BR-CO-17). The cost centres and drivers carry shares of that 0.02, never 0.00."""
    from billing_app.companies.statement import statement_layout

    driver = factories.DriverFactory(operator=operator, company=company)
    cards = [factories.IdTokenFactory(operator=operator, driver=driver, company=company, charging=BUSINESS,
                                      cost_centre=centre) for centre in ("North", "South")]
    for n in range(5):
        charged_session(connector=connector, driver=driver, id_token=cards[n % 2], started_at=OCT + timedelta(hours=n),
                        energy_kwh="0.05")
    billing_run(period=date(2026, 10, 1))
    statement = _statement(company)
    assert (statement.total_excl_vat, statement.total_vat) == (D("0.10"), D("0.02"))
    assert sum(line.vat_amount for line in statement.lines.all()) == D("0.00")
    layout = statement_layout(statement, statement.lines.all())
    for table in (layout.cost_centres, layout.drivers):
        assert sum(sums.excl for _, sums in table) == D("0.10")
        assert sum(sums.vat for _, sums in table) == D("0.02")
    assert [(name, sums.excl, sums.vat) for name, sums in layout.cost_centres] == [
        ("North", D("0.06"), D("0.01")), ("South", D("0.04"), D("0.01"))]
    assert sum(row.sums.incl for row in layout.sessions) == statement.total_incl_vat
