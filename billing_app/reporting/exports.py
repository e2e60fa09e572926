"""CSV exports for accounting: sessions, invoices with their credit notes, and payments, for the operators
the asking user may see and the date range (and location) of the analytics filters. Rows stream from the
database in chunks, so a year of data never sits in memory.

Amounts are the stored decimals as text (never floats); a credit note is a row of its own with negative
amounts, so the invoice export's amount columns sum to the net invoiced."""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterator

from django.db.models import Q

from billing_app.models import CreditNote, Invoice, Payment
from billing_app.reporting.analytics import Filters, scoped_sessions
from sessions_app.models import User
from sessions_app.selectors import scope_to_user

SESSION_COLUMNS = [
    "session_id", "operator", "location", "station", "connector", "driver", "token", "state", "started_at",
    "stopped_at", "energy_kwh", "currency", "total_excl_vat", "total_vat", "total_incl_vat", "tariff",
]
INVOICE_COLUMNS = [
    "document", "number", "kind", "state", "issued_at", "period_start", "period_end", "operator", "driver",
    "buyer_name", "buyer_vat_id", "session_id", "credits_invoice", "currency", "total_excl_vat", "total_vat",
    "total_incl_vat", "paid_at",
]
PAYMENT_COLUMNS = [
    "payment_id", "operator", "driver", "session_id", "kind", "status", "currency", "amount_requested",
    "amount_authorized", "amount_captured", "amount_refunded", "stripe_payment_intent", "failure_code",
    "created_at", "settled_at",
]


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def sessions_rows(user: User, filters: Filters) -> Iterator[list[str]]:
    """A header, then one row per session started in the range (priced or not)."""
    yield SESSION_COLUMNS
    sessions = (
        scoped_sessions(user, filters)
        .select_related("operator", "connector__station__location", "driver", "id_token", "charge__tariff")
        .order_by("started_at", "pk")
    )
    for s in sessions.iterator(chunk_size=2000):
        charge = getattr(s, "charge", None)
        yield [
            str(s.pk), s.operator.name, s.connector.station.location.name, s.connector.station.ocpp_identity,
            str(s.connector.number), s.driver.username if s.driver else "", s.id_token.uid if s.id_token else "",
            s.state, _iso(s.started_at), _iso(s.stopped_at), f"{s.energy_kwh:.3f}",
            charge.currency if charge else "", str(charge.total_excl_vat) if charge else "",
            str(charge.total_vat) if charge else "", str(charge.total_incl_vat) if charge else "",
            charge.tariff.ocpi_id if charge and charge.tariff else "",
        ]


def _at_location(filters: Filters, prefix: str = "") -> Q:
    """Documents about a session at the filter's location: a receipt's session, or a statement's lines."""
    location = filters.location
    return (Q(**{f"{prefix}session__connector__station__location": location})
            | Q(**{f"{prefix}lines__session__connector__station__location": location}))


def invoices_rows(user: User, filters: Filters) -> Iterator[list[str]]:
    """A header, then every invoice and credit note issued in the range, in issue order per kind
    (drafts have no number and are not accounting documents yet)."""
    yield INVOICE_COLUMNS
    since, until = filters.window
    invoices = scope_to_user(Invoice.objects.all(), user).filter(issued_at__gte=since, issued_at__lt=until)
    notes = scope_to_user(CreditNote.objects.all(), user).filter(issued_at__gte=since, issued_at__lt=until)
    if filters.location:
        invoices = invoices.filter(_at_location(filters)).distinct()
        notes = notes.filter(_at_location(filters, "invoice__")).distinct()
    for invoice in (invoices.select_related("operator", "driver").order_by("issued_at", "pk")
                    .iterator(chunk_size=2000)):
        buyer = invoice.buyer or {}
        yield [
            "invoice", invoice.number or "", invoice.kind, invoice.state, _iso(invoice.issued_at),
            invoice.period_start.isoformat(), invoice.period_end.isoformat(), invoice.operator.name,
            invoice.driver.username, buyer.get("company_name") or buyer.get("name", ""), buyer.get("vat_id", ""),
            str(invoice.session_id or ""), "", invoice.currency, str(invoice.total_excl_vat),
            str(invoice.total_vat), str(invoice.total_incl_vat), _iso(invoice.paid_at),
        ]
    for note in (notes.select_related("operator", "invoice__driver").order_by("issued_at", "pk")
                 .iterator(chunk_size=2000)):
        buyer = note.buyer or {}
        yield [
            "credit_note", note.number, "credit_note", note.state, _iso(note.issued_at), "", "", note.operator.name,
            note.invoice.driver.username, buyer.get("company_name") or buyer.get("name", ""),
            buyer.get("vat_id", ""), str(note.invoice.session_id or ""), note.invoice.number or "", note.currency,
            str(-note.total_excl_vat), str(-note.total_vat), str(-note.total_incl_vat), "",
        ]


def payments_rows(user: User, filters: Filters) -> Iterator[list[str]]:
    """A header, then every payment created in the range with what was held, captured and refunded."""
    yield PAYMENT_COLUMNS
    since, until = filters.window
    payments = scope_to_user(Payment.objects.all(), user).filter(created_at__gte=since, created_at__lt=until)
    if filters.location:
        payments = payments.filter(session__connector__station__location=filters.location)
    for p in payments.select_related("operator", "driver").order_by("created_at", "pk").iterator(chunk_size=2000):
        yield [
            str(p.pk), p.operator.name, p.driver.username, str(p.session_id or ""), p.kind, p.status, p.currency,
            str(p.amount_requested), str(p.amount_authorized), str(p.amount_captured), str(p.amount_refunded),
            p.stripe_payment_intent_id or "", p.failure_code, _iso(p.created_at), _iso(p.settled_at),
        ]


EXPORTS: dict[str, Callable[[User, Filters], Iterator[list[str]]]] = {
    "sessions": sessions_rows,
    "invoices": invoices_rows,
    "payments": payments_rows,
}


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    return (writer.writerow(row) for row in rows)
