"""Celery tasks for invoices: thin, take ids, safe to run twice (the services are idempotent)."""
import logging
from datetime import date

from celery import shared_task
from django.db import OperationalError

from .. import billing_run as runs
from .. import invoicing, reconciliation

logger = logging.getLogger(__name__)

__all__ = [
    "billing_run",
    "credit_note_email_send",
    "credit_note_pdf_render",
    "invoice_email_send",
    "invoice_pdf_render",
    "invoice_receipt_issue",
    "receipts_issue_pending",
]

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(name="billing_app.tasks.invoice_receipt_issue", autoretry_for=(OperationalError,), **RETRY)
def invoice_receipt_issue(session_id: int) -> str | None:
    invoice = invoicing.receipt_issue_for_session(session_id=session_id)
    if invoice is not None:
        reconciliation.receipt_reconcile(session_id=session_id)
    return invoice.number if invoice else None


@shared_task(name="billing_app.tasks.invoice_pdf_render", autoretry_for=(OperationalError, OSError), **RETRY)
def invoice_pdf_render(invoice_id: int) -> str:
    invoice = invoicing.invoice_pdf_store(invoice_id=invoice_id)
    invoice_email_send.delay(invoice_id)
    return invoice.pdf_sha256


@shared_task(name="billing_app.tasks.invoice_email_send", autoretry_for=(OperationalError, OSError), **RETRY)
def invoice_email_send(invoice_id: int) -> bool:
    return invoicing.invoice_email_send(invoice_id=invoice_id)


@shared_task(name="billing_app.tasks.credit_note_pdf_render", autoretry_for=(OperationalError, OSError), **RETRY)
def credit_note_pdf_render(credit_note_id: int) -> str:
    note = invoicing.credit_note_pdf_store(credit_note_id=credit_note_id)
    credit_note_email_send.delay(credit_note_id)
    return note.pdf_sha256


@shared_task(name="billing_app.tasks.credit_note_email_send", autoretry_for=(OperationalError, OSError), **RETRY)
def credit_note_email_send(credit_note_id: int) -> bool:
    return invoicing.credit_note_email_send(credit_note_id=credit_note_id)


@shared_task(name="billing_app.tasks.receipts_issue_pending", autoretry_for=(OperationalError,), **RETRY)
def receipts_issue_pending() -> int:
    issued = invoicing.receipts_issue_pending()
    reconciliation.receipts_reconcile_pending()
    return issued


@shared_task(name="billing_app.tasks.billing_run", autoretry_for=(OperationalError,), **RETRY)
def billing_run(period: str | None = None) -> int:
    """Close the previous month (in each operator's time zone) or `period` ("2026-10")."""
    month = date.fromisoformat(f"{period}-01") if period else None
    results = runs.billing_run(period=month)
    return sum(result.issued for result in results)
