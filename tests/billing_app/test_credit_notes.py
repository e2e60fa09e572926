"""Credit notes: full or partial, shared over VAT rates to the cent, never above what remains,
their own number sequence, the signal sent on commit (webhooks), and the PDF. Refunds: test_credit_note_refunds."""
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_app import invoicing
from billing_app.invoicing import CreditNoteError, credit_note_issued, invoice_remaining
from billing_app.models import BillingAccount, CreditNote, CreditNoteLine
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session, pdf_text

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def statement(operator, driver):
    """16.04 EUR: 7.80 + 1.48 VAT at 19 % (Berlin) and 5.63 + 1.13 VAT at 20 % (Vienna)."""
    account(driver, BillingAccount.PaymentMode.POSTPAID)
    berlin = factories.ConnectorFactory(station__location__operator=operator)
    vienna = factories.ConnectorFactory(station__location__operator=operator,
                                        station__location__time_zone="Europe/Vienna")
    charged_session(connector=berlin, driver=driver, started_at=T0, energy_kwh="20")
    charged_session(connector=vienna, driver=driver, started_at=T0, energy_kwh="12.5",
                    components=(("ENERGY", "0.45", "20", 1),))
    with invoicing.delivery_suppressed():
        return invoicing.statement_create(account_id=driver.billing_account.pk, period=date(2026, 3, 1))


def _lines(note):
    return [(line.vat_rate, line.amount_excl_vat, line.vat_amount, line.amount_incl_vat)
            for line in note.lines.order_by("position")]


pytestmark = pytest.mark.usefixtures("media")


def test_full_credit_note_mirrors_the_invoice(statement):
    note = invoicing.credit_note_issue(invoice_id=statement.pk, reason="Charger fault")
    assert note.number == "VOLT-CN-2026-000001"
    assert _lines(note) == [(D(19), D("7.80"), D("1.48"), D("9.28")), (D(20), D("5.63"), D("1.13"), D("6.76"))]
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (D("13.43"), D("2.61"), D("16.04"))
    assert invoice_remaining(statement) == D("0.00")


def test_partial_credit_note_is_shared_over_vat_rates_to_the_cent(statement):
    note = invoicing.credit_note_issue(invoice_id=statement.pk, reason="Goodwill", amount_incl_vat=D("5.00"))
    # 500 cents in proportion 9.28 : 6.76 -> 289.28 / 210.72 -> 289 + 211 (largest remainder)
    # 2.89 gross at 19 % -> 2.43 net + 0.46 VAT; 2.11 gross at 20 % -> 1.76 net + 0.35 VAT
    assert _lines(note) == [(D(19), D("2.43"), D("0.46"), D("2.89")), (D(20), D("1.76"), D("0.35"), D("2.11"))]
    assert (note.total_excl_vat, note.total_vat, note.total_incl_vat) == (D("4.19"), D("0.81"), D("5.00"))
    assert invoice_remaining(statement) == D("11.04")
    rest = invoicing.credit_note_issue(invoice_id=statement.pk, reason="Rest")
    assert rest.number == "VOLT-CN-2026-000002"
    assert _lines(rest) == [(D(19), D("5.37"), D("1.02"), D("6.39")), (D(20), D("3.87"), D("0.78"), D("4.65"))]
    assert invoice_remaining(statement) == D("0.00")


def test_credit_note_never_exceeds_what_remains(statement):
    invoicing.credit_note_issue(invoice_id=statement.pk, reason="First", amount_incl_vat=D("10.00"))
    with pytest.raises(CreditNoteError, match="above what remains"):
        invoicing.credit_note_issue(invoice_id=statement.pk, reason="Too much", amount_incl_vat=D("6.05"))
    assert CreditNote.objects.count() == 1 and CreditNoteLine.objects.count() == 2
    for bad in (D("0"), D("-1.00"), D("0.001")):
        with pytest.raises(CreditNoteError):
            invoicing.credit_note_issue(invoice_id=statement.pk, reason="Bad", amount_incl_vat=bad)
    assert CreditNote.objects.count() == 1
    assert invoicing.credit_note_issue(invoice_id=statement.pk, reason="Exactly the rest",
                                       amount_incl_vat=D("6.04")).total_incl_vat == D("6.04")


def test_gbp_partial_credit_note(other_operator, no_delivery):
    driver = factories.DriverFactory(operator=other_operator)
    account(driver)
    london = factories.ConnectorFactory(station__location__operator=other_operator,
                                        station__location__time_zone="Europe/London")
    charge = charged_session(connector=london, driver=driver, started_at=T0, energy_kwh="7.3", currency="GBP",
                             components=(("FLAT", "1.00", "20", 1), ("ENERGY", "0.55", "20", 1)))
    invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    note = invoicing.credit_note_issue(invoice_id=invoice.pk, reason="Overcharge", amount_incl_vat=D("1.99"))
    assert note.number == "BRL-CN-2026-000001" and note.currency == "GBP"
    assert _lines(note) == [(D(20), D("1.66"), D("0.33"), D("1.99"))]  # 1.99 / 1.2 = 1.6583 -> 1.66
    assert invoice_remaining(invoice) == D("4.03")


def test_draft_or_void_invoices_take_no_credit_note(connector, driver, no_delivery):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0)
    draft = invoicing.invoice_create_for_session(session_id=charge.session_id)
    with pytest.raises(CreditNoteError, match="draft"):
        invoicing.credit_note_issue(invoice_id=draft.pk, reason="x")
    invoicing.invoice_issue(invoice_id=draft.pk)
    invoicing.invoice_void(invoice_id=draft.pk, reason="error")
    with pytest.raises(CreditNoteError, match="void"):
        invoicing.credit_note_issue(invoice_id=draft.pk, reason="x")


def test_credit_note_issued_signal_is_sent_on_commit(statement, django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, credit_note, refund, **kwargs):
        received.append((credit_note.number, refund))

    credit_note_issued.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoicing.credit_note_issue(invoice_id=statement.pk, reason="Goodwill", amount_incl_vat=D("1.00"))
        assert received == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert received == [("VOLT-CN-2026-000001", False)]
    finally:
        credit_note_issued.disconnect(receiver)


def test_credit_note_pdf_and_email(media, statement, driver, django_capture_on_commit_callbacks, mailoutbox):
    with django_capture_on_commit_callbacks(execute=True):
        note = invoicing.credit_note_issue(invoice_id=statement.pk, reason="Goodwill", amount_incl_vat=D("5.00"))
    note = CreditNote.objects.get(pk=note.pk)
    assert note.pdf_sha256
    text = pdf_text(invoicing.document_pdf_bytes(note))
    for expected in ("Credit note VOLT-CN-2026-000001", "Credits invoice: VOLT-2026-000001", "Goodwill",
                     "€2.43", "€0.46", "€1.76", "€0.35", "€5.00"):
        assert expected in text, expected
    assert [m.attachments[0][0] for m in mailoutbox] == ["VOLT-CN-2026-000001.pdf"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=-100, max_value=1200), min_size=1, max_size=6))
def test_credit_notes_never_exceed_the_invoice(statement, cents_list):
    CreditNoteLine.objects.all().delete()
    CreditNote.objects.all().delete()
    credited = D("0.00")
    for cents in cents_list:
        amount = D(cents) / 100
        try:
            note = invoicing.credit_note_issue(invoice_id=statement.pk, reason="p", amount_incl_vat=amount)
        except CreditNoteError:
            assert amount <= 0 or credited + amount > statement.total_incl_vat
            continue
        credited += note.total_incl_vat
        assert note.total_incl_vat == amount == sum(line.amount_incl_vat for line in note.lines.all())
        assert note.total_excl_vat + note.total_vat == note.total_incl_vat
    assert credited <= statement.total_incl_vat
    assert invoice_remaining(statement) == statement.total_incl_vat - credited
