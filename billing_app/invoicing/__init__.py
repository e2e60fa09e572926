"""Invoicing services: receipts and monthly statements (`documents`), credit notes, lines and
rounding (`lines`), PDF storage and email (`delivery`), reads for views (`selectors`)."""
from billing_app.invoicing.credit_notes import credit_note_issue, credit_note_issued, invoice_remaining
from billing_app.invoicing.delivery import (
    credit_note_email_send,
    credit_note_pdf_store,
    document_pdf_bytes,
    invoice_email_send,
    invoice_pdf_store,
)
from billing_app.invoicing.documents import (
    delivery_suppressed,
    invoice_create_for_session,
    invoice_issue,
    invoice_mark_paid,
    invoice_void,
    receipt_issue_for_session,
    receipts_issue_pending,
    statement_create,
)
from billing_app.invoicing.errors import CreditNoteError, InvoicingError
from billing_app.invoicing.lines import LineIn, line_priced

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
    "receipt_issue_for_session",
    "receipts_issue_pending",
    "statement_create",
]
