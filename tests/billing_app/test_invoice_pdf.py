"""PDFs (read back with pdftotext), their SHA-256 and reproducibility, the email, and who may
download them."""
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from billing_app import invoicing
from billing_app.invoicing import pdf
from billing_app.models import BillingAccount, Invoice
from sessions_app import services as session_services
from sessions_app.services import SampleIn
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session, pdf_text

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def receipt(media, connector, driver, django_capture_on_commit_callbacks):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="11", parking_hours="0.5",
                             components=(("FLAT", "0.50", "19", 1), ("ENERGY", "0.39", "19", 1),
                                         ("PARKING_TIME", "6.00", "19", 60)))
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: PDF, then email
        invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    return Invoice.objects.get(pk=invoice.pk)


def test_receipt_pdf_shows_number_lines_and_totals(receipt, operator, driver):
    text = pdf_text(invoicing.document_pdf_bytes(receipt))
    assert "Receipt VOLT-2026-000001" in text
    assert operator.legal_name in text and f"VAT id {operator.vat_id}" in text
    assert driver.driver_profile.full_name in text
    for expected in ("Session fee", "€0.50", "Energy", "11 kWh", "€4.29", "€5.11", "Parking / idle time",
                     "€3.00", "€0.57", "Total excl. VAT", "€7.79", "€1.48", "€9.27", "VAT 19 %"):
        assert expected in text, expected
    assert "Berlin" in text and "11.000 kWh" in text  # the per-session detail


def test_pdf_is_stored_with_its_sha256_and_regenerates_identically(receipt, media):
    assert receipt.pdf.name == f"invoices/{receipt.operator_id}/2026/VOLT-2026-000001.pdf"
    stored = (media / receipt.pdf.name).read_bytes()
    assert pdf.sha256(stored) == receipt.pdf_sha256
    assert pdf.document_pdf(receipt) == stored  # byte for byte
    (media / receipt.pdf.name).unlink()
    regenerated = invoicing.invoice_pdf_store(invoice_id=receipt.pk)
    assert regenerated.pdf_sha256 == receipt.pdf_sha256
    assert (media / regenerated.pdf.name).read_bytes() == stored


def test_the_email_speaks_the_drivers_language_and_the_pdf_stays_as_issued(receipt, driver):
    from django.utils import translation

    from billing_app.invoicing import delivery

    driver.language = "de"
    driver.save()
    mail.outbox.clear()
    delivery._send(receipt, to=driver.email)
    message = mail.outbox[0]
    assert message.subject == "Beleg VOLT-2026-000001 von Voltara"
    assert "Ihr Beleg VOLT-2026-000001 ist fertig: 9,27\xa0€ inkl. USt." in message.body
    assert "Das PDF ist angehängt." in message.body and 'lang="de"' in message.alternatives[0][0]
    assert pdf.sha256(message.attachments[0][1]) == receipt.pdf_sha256  # the document is not re-rendered
    assert translation.get_language() != "de"  # the override ends with the e-mail


def test_driver_gets_the_email_with_the_pdf_once(receipt, driver):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [driver.email]
    assert "VOLT-2026-000001" in message.subject and "€9.27" in message.body
    (name, content, mimetype), = message.attachments
    assert (name, mimetype) == ("VOLT-2026-000001.pdf", "application/pdf")
    assert pdf.sha256(content) == receipt.pdf_sha256
    assert invoicing.invoice_email_send(invoice_id=receipt.pk) is False
    assert len(mail.outbox) == 1
    assert Invoice.objects.get(pk=receipt.pk).emailed_at is not None


def test_driver_downloads_own_invoice_and_gets_404_for_others(client, receipt, driver, operator):
    url = reverse("invoices:invoice_pdf", args=[receipt.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(driver)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert pdf.sha256(response.content) == receipt.pdf_sha256
    client.force_login(factories.DriverFactory(operator=operator))
    assert client.get(url).status_code == 404


def test_admin_download_is_scoped_to_the_operator(client, receipt, operator, other_operator):
    url = reverse("admin:billing_app_invoice_pdf", args=[receipt.pk])
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    assert client.get(url).status_code == 200
    assert "VOLT-2026-000001.pdf" in client.get(reverse("admin:billing_app_invoice_changelist")).content.decode()
    client.force_login(factories.OperatorStaffFactory(operator=other_operator))
    assert client.get(url).status_code == 404


def test_lazy_pdf_on_first_download(media, client, connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    with invoicing.delivery_suppressed():
        invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    assert not Invoice.objects.get(pk=invoice.pk).pdf_sha256 and not mail.outbox
    client.force_login(driver)
    response = client.get(reverse("invoices:invoice_pdf", args=[invoice.pk]))
    assert "Receipt VOLT-2026-000001" in pdf_text(response.content)
    assert Invoice.objects.get(pk=invoice.pk).pdf_sha256 == pdf.sha256(response.content)


def test_statement_pdf_groups_sessions(media, operator, driver):
    account(driver, BillingAccount.PaymentMode.POSTPAID)
    vienna = factories.ConnectorFactory(station__location__operator=operator, station__location__name="Prater",
                                        station__location__time_zone="Europe/Vienna")
    berlin = factories.ConnectorFactory(station__location__operator=operator, station__location__name="Hbf")
    charged_session(connector=berlin, driver=driver, started_at=T0, energy_kwh="20")
    charged_session(connector=vienna, driver=driver, started_at=T0 + timedelta(days=3), energy_kwh="12.5",
                    components=(("ENERGY", "0.45", "20", 1),))
    invoice = invoicing.statement_create(account_id=driver.billing_account.pk, period=date(2026, 3, 1))
    text = pdf_text(invoicing.document_pdf_bytes(Invoice.objects.get(pk=invoice.pk)))
    assert "Invoice VOLT-2026-000001" in text and "1 Mar 2026 to 31 Mar 2026" in text
    assert text.index("Hbf") < text.index("Prater")
    for expected in ("VAT 19 %", "€7.80", "€1.48", "VAT 20 %", "€5.63", "€1.13", "€16.04"):
        assert expected in text, text


@pytest.mark.django_db(transaction=True)
def test_settled_payg_session_gets_its_receipt_by_email(media, connector, id_token, driver, operator):
    """End to end: stop -> settle (on commit) -> receipt issued -> PDF -> email."""
    account(driver)
    factories.energy_tariff(operator, price="0.39", vat="19")
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                              meter_start_wh=D(1000), transaction_ref="tx-receipt")
    session_services.session_record_samples(session=session, samples=[
        SampleIn(T0 + timedelta(minutes=30), D(6500), D(11000), D(16))])
    session_services.session_stop(session=session, stopped_at=T0 + timedelta(minutes=30), meter_stop_wh=D(6500))
    invoice = Invoice.objects.get(session=session)
    assert invoice.total_incl_vat == D("2.56")  # 5.5 kWh x 0.39 = 2.145 -> 2.15, VAT 0.4085 -> 0.41
    assert invoice.pdf_sha256
    assert [m.attachments[0][0] for m in mail.outbox] == ["VOLT-2026-000001.pdf"]


# --- The language a document is issued in (issue 21) -----------------------------------------------

@pytest.fixture
def german_receipt(media, connector, driver, django_capture_on_commit_callbacks):
    """The receipt of a driver who reads German: issued, stored and e-mailed in German."""
    driver.language = "de"
    driver.save(update_fields=["language"])
    return receipt.__wrapped__(media, connector, driver, django_capture_on_commit_callbacks)


def test_a_german_drivers_receipt_is_issued_in_german(german_receipt):
    assert german_receipt.language == "de"
    # one line of words: the session heading wraps where the factories' names (longer later in the suite) push it
    text = " ".join(pdf_text(invoicing.document_pdf_bytes(german_receipt)).split())
    for german in ("Beleg VOLT-2026-000001", "Ausstellungsdatum: ", "Zeitraum: 02.03.2026", "RECHNUNGSEMPFÄNGER",
                   "Startgebühr", "Energie", "Park- / Standzeit", "11 kWh", "4,29 €", "9,27 €", "USt. 19 %",
                   "Summe netto", "02.03.2026 10:00 bis 11:30 (Europe/Berlin)", "1 Ladevorgang", "1 Std. 30 Min.",
                   "BEMESSUNGSGRUNDLAGE", "Seite 1 von 1",
                   "Zahlung fällig: Wir belasten Ihr hinterlegtes Zahlungsmittel für diesen Ladevorgang."):
        assert german in text, german
    for english in ("Receipt", "Issue date", "BILL TO", "Session fee", "Total excl. VAT", "VAT 19 %", "page 1 of",
                    "Charged to your payment method"):
        assert english not in text, english


def test_a_re_render_reads_the_language_recorded_at_issue(german_receipt):
    """Render, change the driver's language, render again: the same text (and bytes), whichever way round."""
    first = pdf.document_pdf(german_receipt)
    driver = german_receipt.driver
    driver.language = "en"
    driver.save(update_fields=["language"])
    german_receipt.refresh_from_db()
    again = pdf.document_pdf(german_receipt)
    assert pdf_text(again) == pdf_text(first) and again == first
    assert pdf.sha256(again) == german_receipt.pdf_sha256


def test_an_english_receipt_stays_english_when_the_driver_turns_to_german(receipt, driver):
    assert receipt.language == "en"
    before = pdf_text(pdf.document_pdf(receipt))
    driver.language = "de"
    driver.save(update_fields=["language"])
    receipt.refresh_from_db()
    assert pdf_text(pdf.document_pdf(receipt)) == before and "Receipt VOLT-2026-000001" in before


def test_a_credit_note_is_issued_in_the_readers_language(german_receipt, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=german_receipt.pk, reason="Ladesäule defekt",
                                           amount_incl_vat=D("1.19"))
    assert note.language == "de"
    text = pdf_text(pdf.document_pdf(note))
    for german in ("Gutschrift", "Gutschrift zu Rechnung VOLT-2026-000001 (USt. 19 %)", "1,19 €",
                   "Grund: Ladesäule defekt. Diese Gutschrift korrigiert Rechnung VOLT-2026-000001.",
                   "Gutgeschrieben gesamt"):
        assert german in text, german
    assert "Credit note" not in text and "Total credited" not in text


def test_a_document_issued_before_languages_were_recorded_renders_in_the_default_language(receipt):
    Invoice.objects.filter(pk=receipt.pk).update(language="")
    receipt.refresh_from_db()
    assert "Receipt VOLT-2026-000001" in pdf_text(pdf.document_pdf(receipt))


@pytest.mark.parametrize(("stored", "german"), [
    ("Energy", "Energie"), ("Energy (VAT 19 %)", "Energie (USt. 19 %)"), ("Maximum price cap (no VAT)",
                                                                          "Höchstpreis-Deckelung (ohne MwSt.)"),
    ("Credit on invoice VOLT-2026-000001 (VAT 7.5 %)", "Gutschrift zu Rechnung VOLT-2026-000001 (USt. 7,5 %)"),
    ("Plan Plus: 2026-10-01 to 2026-10-31", "Plan Plus: 01.10.2026 bis 31.10.2026"),
    ("Plan discount energy", "Tarifrabatt auf Energie"), ("Welcome bonus", "Welcome bonus"),
])
def test_stored_line_descriptions_read_in_the_documents_language(stored, german):
    from django.utils import translation

    with translation.override("de"):
        assert pdf.line_description(stored) == german
    with translation.override("en"):
        assert pdf.line_description(stored) == stored


def test_every_engine_label_has_its_translation():
    from billing_app.invoicing.lines import LABELS

    assert {label for label, _unit in LABELS.values()} <= set(pdf._LINE_TEXTS)
    from django.utils import translation

    with translation.override("de"):
        assert pdf.credit_reason("Dispute #12: meter fault") == "Reklamation #12: meter fault"


# --- What a receipt says of its payment: only what was fixed at issue ---------------------------------------

def _card_payment(charge, status, *, settled_at=None, key="hold"):
    from billing_app.models import Payment

    captured = charge.total_incl_vat if status == Payment.Status.CAPTURED else D(0)
    return Payment.objects.create(
        operator=charge.session.operator, driver=charge.session.driver, session=charge.session,
        kind=Payment.Kind.SESSION_HOLD, status=status, currency="EUR", amount_requested=D("30.00"),
        amount_authorized=D("30.00") if captured else D(0), amount_captured=captured, settled_at=settled_at,
        idempotency_key=f"test-{charge.session_id}-{key}")


def _xml_payment(receipt) -> tuple[str, str | None, str]:
    """What the receipt's EN 16931 XML says of its payment: terms (BT-20), prepaid (BT-113), due (BT-115); the
    XML is also checked against the schema and the EN 16931 rules."""
    import facturx
    from lxml import etree

    from billing_app.invoicing.einvoice import NS, cii_xml
    from tests.billing_app.einvoice_rules import problems

    xml = cii_xml(receipt)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931") and problems(xml) == []
    root = etree.fromstring(xml)

    def text(path):
        found = root.find(path, NS)
        return None if found is None else found.text

    settlement = ".//ram:ApplicableHeaderTradeSettlement"
    sums = f"{settlement}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
    return (text(f"{settlement}/ram:SpecifiedTradePaymentTerms/ram:Description"),
            text(f"{sums}/ram:TotalPrepaidAmount"), text(f"{sums}/ram:DuePayableAmount"))


def test_a_receipt_captured_before_issue_says_charged_on_the_capture_date(connector, driver):
    from billing_app.models import Payment

    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="11")
    _card_payment(charge, Payment.Status.CAPTURED, settled_at=T0 + timedelta(hours=1, minutes=1))
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    text = " ".join(pdf_text(pdf.document_pdf(receipt)).split())
    assert "Charged to your payment method on file on 2 Mar 2026 for this session." in text
    assert "Payment due" not in text
    total = f"{receipt.total_incl_vat:.2f}"
    assert _xml_payment(receipt) == ("Paid by card", total, "0.00")  # the e-invoice says what the PDF says


def test_a_receipt_whose_card_payment_failed_says_due_and_stays_so_after_the_retry(connector, driver):
    """The hold was declined before issue; its retry captures after: the receipt says the amount is due, before
    the retry and after it (a re-render reads the same text)."""
    from billing_app.models import Payment

    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="11")
    _card_payment(charge, Payment.Status.FAILED)
    receipt = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    first = pdf_text(pdf.document_pdf(receipt))
    assert "Payment due: we will charge your payment method on file for this session." in " ".join(first.split())
    assert "Charged to" not in first
    due = ("Payment due: the payment method on file will be charged", None, f"{receipt.total_incl_vat:.2f}")
    assert _xml_payment(receipt) == due  # the e-invoice says what the PDF says
    _card_payment(charge, Payment.Status.CAPTURED, settled_at=receipt.issued_at + timedelta(days=1), key="retry")
    receipt.state = Invoice.State.PAID  # as the retry's capture marks it
    receipt.save(update_fields=["state"])
    assert pdf_text(pdf.document_pdf(receipt)) == first
    assert _xml_payment(receipt) == due
