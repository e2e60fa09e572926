"""Reads of invoices and credit notes, scoped to who asks."""
from __future__ import annotations

from django.db.models import QuerySet

from billing_app.models import CreditNote, Invoice
from sessions_app.models import User


def invoices_for_driver(driver: User) -> QuerySet[Invoice]:
    """The driver's own issued invoices (drafts are nobody's business yet)."""
    return Invoice.objects.filter(driver=driver).exclude(state=Invoice.State.DRAFT).select_related("operator")


def credit_notes_for_driver(driver: User) -> QuerySet[CreditNote]:
    return CreditNote.objects.filter(invoice__driver=driver).select_related("operator", "invoice")
