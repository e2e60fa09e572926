"""Numbering under concurrency (PostgreSQL: real row locks): 20 threads issuing at once get a
gapless sequence without duplicates, and concurrent credit notes never exceed the invoice."""
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from threading import Barrier

import pytest
from django.db import connection, connections

from billing_app import invoicing
from billing_app.invoicing.numbering import number_format
from billing_app.models import CreditNote, Invoice
from tests.billing_app.invoice_fixtures import account, charged_session

D = Decimal
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
THREADS = 20

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql",
                                    reason="row locks under concurrency need PostgreSQL")


def _in_threads(function, args):
    barrier = Barrier(len(args))

    def run(arg):
        try:
            barrier.wait()
            with invoicing.delivery_suppressed():
                return function(arg)
        except Exception as error:  # the test inspects what each thread got
            return error
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(args)) as pool:
        return list(pool.map(run, args))


def test_number_format():
    assert number_format(prefix="VOLT", year=2026, sequence=123, kind="invoice") == "VOLT-2026-000123"
    assert number_format(prefix="VOLT", year=2026, sequence=1, kind="credit_note") == "VOLT-CN-2026-000001"


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_get_gapless_unique_numbers(connector, driver):
    account(driver)
    charges = [charged_session(connector=connector, driver=driver, started_at=T0 + timedelta(hours=i))
               for i in range(THREADS)]
    results = _in_threads(lambda charge: invoicing.receipt_issue_for_session(session_id=charge.session_id), charges)
    assert all(isinstance(r, Invoice) for r in results), results
    sequences = sorted(Invoice.objects.values_list("number_sequence", flat=True))
    assert sequences == list(range(1, THREADS + 1))
    numbers = set(Invoice.objects.values_list("number", flat=True))
    assert numbers == {f"VOLT-2026-{n:06d}" for n in range(1, THREADS + 1)}


@needs_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_credit_notes_never_exceed_the_invoice(connector, driver):
    account(driver)
    charge = charged_session(connector=connector, driver=driver, started_at=T0, energy_kwh="30")  # 13.92 EUR
    with invoicing.delivery_suppressed():
        invoice = invoicing.receipt_issue_for_session(session_id=charge.session_id)
    results = _in_threads(lambda _: invoicing.credit_note_issue(invoice_id=invoice.pk, reason="race",
                                                                amount_incl_vat=D("1.00")), range(THREADS))
    issued = [r for r in results if isinstance(r, CreditNote)]
    assert len(issued) == 13
    assert all(isinstance(r, invoicing.CreditNoteError) for r in results if r not in issued)
    assert sorted(n.number_sequence for n in issued) == list(range(1, 14))
    assert invoicing.invoice_remaining(invoice) == D("0.92")
