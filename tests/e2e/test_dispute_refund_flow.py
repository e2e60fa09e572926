"""The whole self-service path in a real browser (Debian chromium via Playwright) against a live server and
a real localstripe: a driver signs in, finds a paid session, downloads its receipt PDF and disputes the
charge; a support agent answers and resolves by refund; the driver sees the credit note and the outcome.
Every page is screenshotted into the artifacts directory."""
from __future__ import annotations

import re
import shutil
import subprocess
from decimal import Decimal

import pytest

from billing_app.models import CreditNote, Invoice, Payment, Refund
from disputes_app.models import DisputeTicket
from tests.e2e.stories import expect_ok, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

def test_driver_disputes_a_paid_session_and_sees_the_refund(new_page, shot, paid_session, agent, artifacts_dir):
    driver = paid_session.driver
    receipt = Invoice.objects.get(session=paid_session, kind=Invoice.Kind.RECEIPT)

    # --- the driver: sign in, find the session, download its receipt, dispute it ---------------------
    page = new_page()
    sign_in(page, shot, driver.username, lands_on="/portal/")
    page.get_by_role("link", name=re.compile("sessions", re.I)).first.click()
    page.wait_for_url(re.compile(r"/portal/sessions/$"))
    shot(page, "sessions")
    page.click(f"a[href='/portal/sessions/{paid_session.pk}/']")
    page.wait_for_url(re.compile(rf"/portal/sessions/{paid_session.pk}/$"))
    assert "5.11" in page.content()
    shot(page, "session-detail")

    with page.expect_download() as download_info:
        page.click(f"a[href='/invoices/{receipt.pk}/pdf/']")
    download = download_info.value
    assert download.suggested_filename == f"{receipt.number}.pdf"
    pdf = artifacts_dir / download.suggested_filename
    download.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert receipt.number in text

    page.click(f"a[href='/disputes/new/?session={paid_session.pk}']")
    page.wait_for_url(re.compile(r"/disputes/new/\?session="))
    shot(page, "dispute-new")
    page.select_option("select[name=reason]", "wrong_amount")
    page.fill("textarea[name=description]", "My car shows 9 kWh, not 11.")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/disputes/\d+/$"))
    ticket = DisputeTicket.objects.get(driver=driver)
    assert ticket.session_id == paid_session.pk
    assert "My car shows 9 kWh" in page.content()
    shot(page, "dispute-opened")

    # --- the support agent: answer, then resolve by a 2.00 EUR refund ---------------------------------
    staff = new_page()
    sign_in(staff, shot, agent.username, lands_on="/support/tickets/")
    staff.click(f"a[href='/support/tickets/{ticket.pk}/']")
    staff.wait_for_url(re.compile(rf"/support/tickets/{ticket.pk}/$"))
    shot(staff, "support-ticket")
    staff.fill("textarea[name=message-body]", "Sorry about that: the charger over-reported. Refunding 2.00 EUR.")
    staff.click("form:has(input[name=action][value=message]) button[type=submit]")
    staff.wait_for_url(re.compile(rf"/support/tickets/{ticket.pk}/$"))
    assert "Refunding 2.00 EUR" in staff.content()
    shot(staff, "support-answered")
    staff.select_option("select[name=resolve-kind]", "refund")
    staff.fill("input[name=resolve-amount]", "2.00")
    staff.fill("textarea[name=resolve-explanation]", "The charger over-reported; 2.00 EUR back on your card.")
    staff.click("form:has(input[name=action][value=resolve]) button[type=submit]")
    staff.wait_for_url(re.compile(rf"/support/tickets/{ticket.pk}/$"))
    shot(staff, "support-resolved")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution_kind) == ("resolved", "refund"), staff.content()
    note = CreditNote.objects.get(invoice=receipt)
    assert note.total_incl_vat == Decimal("2.00")
    assert Refund.objects.get().amount == Decimal("2.00")
    assert Payment.objects.get(session=paid_session).amount_refunded == Decimal("2.00")

    # --- the driver sees the credit note and the outcome ----------------------------------------------
    expect_ok(page.goto("/portal/invoices/"))
    credit_row = page.locator("tr", has_text=note.number)
    assert credit_row.count() == 1 and "2.00" in credit_row.inner_text() and receipt.number in credit_row.inner_text()
    shot(page, "invoices-with-credit-note")
    with page.expect_download() as note_download:
        page.click(f"a[href='/invoices/credit-notes/{note.pk}/pdf/']")
    note_pdf = artifacts_dir / f"{note.number}.pdf"
    note_download.value.save_as(note_pdf)
    assert note_pdf.read_bytes().startswith(b"%PDF")

    expect_ok(page.goto(f"/disputes/{ticket.pk}/"))
    outcome = page.locator(".card", has_text="Outcome").first.inner_text()
    assert "Refund" in outcome and "2.00" in outcome
    assert "Refunding 2.00 EUR" in page.content()  # the agent's public answer
    shot(page, "dispute-outcome")
    assert len(list(artifacts_dir.glob("*.png"))) >= 10
