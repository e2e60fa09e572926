"""Invoicing services: receipts and monthly statements (`documents`), credit notes, lines and
rounding (`lines`), PDF storage and email (`delivery`), reads for views (`selectors`)."""
from .credit_notes import CreditNoteError, credit_note_issue, credit_note_issued, invoice_remaining
from .delivery import (
    credit_note_email_send,
    credit_note_pdf_store,
    document_pdf_bytes,
    invoice_email_send,
    invoice_pdf_store,
)
from .documents import (
    InvoicingError,
    delivery_suppressed,
    invoice_create_for_session,
    invoice_issue,
    invoice_mark_paid,
    invoice_void,
    operator_time_zone,
    receipt_issue_for_session,
    receipts_issue_pending,
    statement_create,
)
from .lines import LineIn, line_priced

__all__ = [
    "CreditNoteError",
    "InvoicingError",
    "LineIn",
    "credit_note_email_send",
    "credit_note_issue",
    "credit_note_issued",
    "credit_note_pdf_store",
    "delivery_suppressed",
    "document_pdf_bytes",
    "invoice_create_for_session",
    "invoice_email_send",
    "invoice_issue",
    "invoice_mark_paid",
    "invoice_pdf_store",
    "invoice_remaining",
    "invoice_void",
    "line_priced",
    "operator_time_zone",
    "receipt_issue_for_session",
    "receipts_issue_pending",
    "statement_create",
]
