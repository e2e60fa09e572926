"""Refusals of invoicing operations (the application error family, evbilling.errors)."""
from evbilling.errors import ApplicationError


class InvoicingError(ApplicationError):
    """An operation the invoice's state or data does not allow; the message says why."""


class CreditNoteError(InvoicingError):
    """A credit note the invoice does not allow (not issued, above what remains, not in cents)."""


class PeriodNotEndedError(InvoicingError):
    """A billing run asked for a month that has not ended yet in the operator's time zone."""
