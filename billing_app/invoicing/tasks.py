"""Celery tasks for invoices: thin, take ids, safe to run twice (the services are idempotent)."""
import logging
from datetime import date

from celery import shared_task
from django.db import OperationalError

from billing_app.invoicing import billing_run as runs
from billing_app.invoicing import collection, reconciliation

logger = logging.getLogger(__name__)

RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(name="billing_app.tasks.invoice_receipt_issue", autoretry_for=(OperationalError,), **RETRY)
def invoice_receipt_issue(session_id: int) -> str | None:
    invoice = reconciliation.receipt_settle(session_id=session_id)
    return invoice.number if invoice else None


@shared_task(name="billing_app.tasks.receipts_issue_pending", autoretry_for=(OperationalError,), **RETRY)
def receipts_issue_pending() -> int:
    return reconciliation.receipts_settle_pending()


@shared_task(name="billing_app.tasks.receipts_collect_unpaid")
def receipts_collect_unpaid() -> int:
    """Beat: charge receipts no payment covered, with dunning (a run Stripe stops is resumed by the next)."""
    return collection.receipts_collect_unpaid()


@shared_task(name="billing_app.tasks.billing_run", autoretry_for=(OperationalError,), **RETRY)
def billing_run(period: str | None = None) -> int:
    """Close the previous month (in each operator's time zone) or `period` ("2026-10"); a `period` that
    has not ended for every operator fails with PeriodNotEndedError (not retried: nothing was issued)."""
    month = date.fromisoformat(f"{period}-01") if period else None
    results = runs.billing_run(period=month)
    return sum(result.issued for result in results)
