"""CSV exports for accounting: sessions, invoices with their credit notes, and payments, for the operators
the asking user may see and the date range (and location) of the analytics filters. Rows stream from the
database in chunks, so a year of data never sits in memory.

Amounts are the stored decimals as text (never floats); a credit note is a row of its own with negative
amounts, so the invoice export's amount columns sum to the net invoiced.

Rows are typed: numbers (ids, amounts, kWh) are `int` / `Decimal` and stay numbers; every text cell, much
of it typed by drivers, chargers or operators (names, usernames, token ids, station identities), passes
through `spreadsheet_safe` on its way out, so none can start a formula in the spreadsheet it is opened in."""
from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from decimal import Decimal

from django.db.models import Q

from billing_app.models import CreditNote, Invoice, Payment
from billing_app.reporting.analytics import Filters, scoped_sessions
from sessions_app.models import IdToken, User
from sessions_app.selectors import scope_to_user

SESSION_COLUMNS = [
    "session_id", "operator", "location", "station", "connector", "driver", "token", "state", "started_at",
    "stopped_at", "energy_kwh", "currency", "total_excl_vat", "total_vat", "total_incl_vat", "tariff", "payer",
    "partner",
]
INVOICE_COLUMNS = [
    "document", "number", "kind", "state", "issued_at", "period_start", "period_end", "operator", "driver",
    "buyer_name", "buyer_vat_id", "session_id", "credits_invoice", "currency", "total_excl_vat", "total_vat",
    "total_incl_vat", "paid_at",
]
COMPANY_SESSION_COLUMNS = [
    "session_id", "started_at", "stopped_at", "driver", "card", "licence_plate", "cost_centre", "location", "station",
    "state", "energy_kwh", "currency", "total_excl_vat", "total_vat", "total_incl_vat",
]
PAYMENT_COLUMNS = [
    "payment_id", "operator", "driver", "session_id", "kind", "status", "currency", "amount_requested",
    "amount_authorized", "amount_captured", "amount_refunded", "stripe_payment_intent", "failure_code",
    "created_at", "settled_at",
]


Cell = str | int | Decimal
#: What a spreadsheet may read as the start of a formula (OWASP, CSV injection): = + - @, tab, carriage return.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: Cell) -> Cell:
    """A text cell that could start a formula, led by an apostrophe so it stays text (`=1+1` -> `'=1+1`);
    numbers are left alone (a credit note's -2.00 stays a number)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""


def sessions_rows(user: User, filters: Filters) -> Iterator[list[Cell]]:
    """A header, then one row per session started in the range (priced or not)."""
    yield SESSION_COLUMNS
    sessions = (
        scoped_sessions(user, filters)
        .select_related("operator", "connector__station__location", "driver__ocpi_partner", "id_token",
                        "charge__tariff")
        .order_by("started_at", "pk")
    )
    for s in sessions.iterator(chunk_size=2000):
        charge = getattr(s, "charge", None)
        partner = getattr(s.driver, "ocpi_partner", None) if s.driver else None  # an eMSP's roaming driver
        yield [
            s.pk, s.operator.name, s.connector.station.location.name, s.connector.station.ocpp_identity,
            s.connector.number, s.driver.username if s.driver else "", s.id_token.uid if s.id_token else "",
            s.state, _iso(s.started_at), _iso(s.stopped_at), s.energy_kwh.quantize(Decimal("0.001")),
            charge.currency if charge else "", charge.total_excl_vat if charge else "",
            charge.total_vat if charge else "", charge.total_incl_vat if charge else "",
            charge.tariff.ocpi_id if charge and charge.tariff else "",
            "roaming" if partner else "guest" if s.id_token and s.id_token.type == IdToken.Type.AD_HOC else "driver",
            partner.name if partner else "",
        ]


def company_sessions_rows(sessions) -> Iterator[list[Cell]]:
    """A header, then one row per business session of a company (the fleet portal's export: `sessions` comes
    scoped to the fleet manager's company and filtered), oldest first."""
    yield COMPANY_SESSION_COLUMNS
    for s in (sessions.select_related("driver__driver_profile", "id_token", "connector__station__location", "charge")
              .order_by("started_at", "pk").iterator(chunk_size=2000)):
        charge = getattr(s, "charge", None)
        profile = getattr(s.driver, "driver_profile", None) if s.driver else None
        yield [
            s.pk, _iso(s.started_at), _iso(s.stopped_at),
            (profile.full_name if profile else "") or (s.driver.username if s.driver else ""),
            s.id_token.uid if s.id_token else "", s.id_token.licence_plate if s.id_token else "", s.cost_centre,
            s.connector.station.location.name, s.connector.station.ocpp_identity, s.state,
            s.energy_kwh.quantize(Decimal("0.001")), charge.currency if charge else "",
            charge.total_excl_vat if charge else "", charge.total_vat if charge else "",
            charge.total_incl_vat if charge else "",
        ]


def _at_location(filters: Filters, prefix: str = "") -> Q:
    """Documents about a session at the filter's location: a receipt's session, or a statement's lines."""
    location = filters.location
    return (Q(**{f"{prefix}session__connector__station__location": location})
            | Q(**{f"{prefix}lines__session__connector__station__location": location}))


def invoices_rows(user: User, filters: Filters) -> Iterator[list[Cell]]:
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
            invoice.driver.username if invoice.driver else "", buyer.get("company_name") or buyer.get("name", ""),
            buyer.get("vat_id", ""),
            invoice.session_id or "", "", invoice.currency, invoice.total_excl_vat,
            invoice.total_vat, invoice.total_incl_vat, _iso(invoice.paid_at),
        ]
    for note in (notes.select_related("operator", "invoice__driver").order_by("issued_at", "pk")
                 .iterator(chunk_size=2000)):
        buyer = note.buyer or {}
        yield [
            "credit_note", note.number, "credit_note", note.state, _iso(note.issued_at), "", "", note.operator.name,
            note.invoice.driver.username if note.invoice.driver else "",
            buyer.get("company_name") or buyer.get("name", ""),
            buyer.get("vat_id", ""), note.invoice.session_id or "", note.invoice.number or "", note.currency,
            -note.total_excl_vat, -note.total_vat, -note.total_incl_vat, "",
        ]


def payments_rows(user: User, filters: Filters) -> Iterator[list[Cell]]:
    """A header, then every payment created in the range with what was held, captured and refunded."""
    yield PAYMENT_COLUMNS
    since, until = filters.window
    payments = scope_to_user(Payment.objects.all(), user).filter(created_at__gte=since, created_at__lt=until)
    if filters.location:
        payments = payments.filter(session__connector__station__location=filters.location)
    for p in payments.select_related("operator", "driver").order_by("created_at", "pk").iterator(chunk_size=2000):
        yield [
            p.pk, p.operator.name, p.driver.username, p.session_id or "", p.kind, p.status, p.currency,
            p.amount_requested, p.amount_authorized, p.amount_captured, p.amount_refunded,
            p.stripe_payment_intent_id or "", p.failure_code, _iso(p.created_at), _iso(p.settled_at),
        ]


EXPORTS: dict[str, Callable[[User, Filters], Iterator[list[Cell]]]] = {
    "sessions": sessions_rows,
    "invoices": invoices_rows,
    "payments": payments_rows,
}


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterator[list[Cell]]) -> Iterator[str]:
    """The rows as CSV lines, every text cell made spreadsheet-safe on the way out."""
    writer = csv.writer(_Echo())
    return (writer.writerow([spreadsheet_safe(cell) for cell in row]) for row in rows)
