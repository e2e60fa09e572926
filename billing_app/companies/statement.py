"""The consolidated monthly statement of a company: its lines regrouped per cost centre, per driver and per
session, with subtotals, and the credit notes of the month.

Net amounts are never computed anew: a session's net is the sum of its rounded invoice lines, a subtotal the sum
of its sessions. VAT is the document's, per rate (EN 16931 BR-CO-17, `invoicing.lines.document_vat`): each rate's
VAT is shared out over the sessions (and the lines on no session) in proportion to their net at that rate, in
whole cents (`money.share_out`, largest remainder). So every subtotal, net, VAT and gross, adds up to the
invoice's totals to the cent, even where the lines' own VAT (information only) would not. Above the company's
`statement_session_lines` (frozen in the buyer snapshot at issue) the PDF shows the subtotals only and the
session list travels beside it as CSV (`session_list_rows`): attached to the e-mail, downloadable in the fleet
portal.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from billing_app.invoicing.lines import document_vat
from billing_app.models import CreditNote, Invoice
from billing_app.money import quantize_money, share_out
from billing_app.reporting.exports import csv_lines
from sessions_app.models import ChargingSession
from sessions_app.selectors import operator_time_zone

NO_COST_CENTRE = "(no cost centre)"
SESSION_LIST_COLUMNS = [
    "session_id", "started_at", "stopped_at", "time_zone", "driver", "card", "licence_plate", "cost_centre",
    "location", "station", "energy_kwh", "currency", "total_excl_vat", "total_vat", "total_incl_vat",
]


@dataclass(slots=True)
class Sums:
    """Sums of rounded invoice lines (never rounded again)."""

    excl: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    sessions: int = 0
    energy_kwh: Decimal = Decimal(0)

    def add(self, excl: Decimal, vat: Decimal) -> None:
        self.excl += excl
        self.vat += vat

    @property
    def incl(self) -> Decimal:
        return self.excl + self.vat


@dataclass(slots=True)
class SessionRow:
    session: ChargingSession
    local_start: object
    local_stop: object
    driver: str
    card: str
    plate: str
    cost_centre: str
    sums: Sums = field(default_factory=Sums)


@dataclass(slots=True)
class StatementLayout:
    sessions: list[SessionRow]
    cost_centres: list[tuple[str, Sums]]
    drivers: list[tuple[str, Sums]]
    other_lines: list  # plan fees and what else is on no session
    credit_notes: list[CreditNote]
    summary_only: bool
    limit: int


def is_company_statement(invoice: Invoice) -> bool:
    return invoice.kind == Invoice.Kind.STATEMENT and bool((invoice.buyer or {}).get("company_id"))


def _driver_name(session: ChargingSession) -> str:
    driver = session.driver
    if driver is None:
        return "-"
    profile = getattr(driver, "driver_profile", None)
    return (profile.full_name if profile else "") or driver.get_full_name() or driver.username


def _rate_key(rate) -> Decimal | None:
    return None if rate is None else Decimal(rate)  # equal rates hash alike (19 == 19.000)


def statement_layout(invoice: Invoice, lines: Iterable) -> StatementLayout:
    """The statement's lines per session, cost centre and driver, in session order."""
    lines = list(lines)
    currency = invoice.currency
    ids = {line.session_id for line in lines if line.session_id}
    sessions = {s.pk: s for s in ChargingSession.objects.filter(pk__in=ids).select_related(
        "driver__driver_profile", "id_token", "connector__station__location")}
    rows: dict[int, SessionRow] = {}
    other = []
    net_at_rate: dict[object, dict[Decimal | None, Decimal]] = {}
    for index, line in enumerate(lines):
        session = sessions.get(line.session_id) if line.session_id else None
        key = session.pk if session is not None else ("line", index)
        rates = net_at_rate.setdefault(key, {})
        rates[_rate_key(line.vat_rate)] = rates.get(_rate_key(line.vat_rate), Decimal(0)) + line.amount_excl_vat
        if session is None:
            other.append(line)
            continue
        row = rows.get(session.pk)
        if row is None:
            zone = ZoneInfo(session.connector.station.location.time_zone)
            row = rows[session.pk] = SessionRow(
                session=session, local_start=timezone.localtime(session.started_at, zone),
                local_stop=timezone.localtime(session.stopped_at, zone), driver=_driver_name(session),
                card=session.id_token.uid if session.id_token else "-",
                plate=session.id_token.licence_plate if session.id_token else "",
                cost_centre=session.cost_centre or NO_COST_CENTRE)
            row.sums.sessions = 1
            row.sums.energy_kwh = session.energy_kwh
        row.sums.add(line.amount_excl_vat, Decimal(0))
    keys = list(net_at_rate)
    for subtotal in document_vat(lines, currency).subtotals:
        weights = [max(net_at_rate[key].get(_rate_key(subtotal.rate), Decimal(0)), Decimal(0)) for key in keys]
        for key, part in zip(keys, share_out(subtotal.vat_amount, weights, currency), strict=True):
            if key in rows:
                rows[key].sums.vat += part
    ordered = sorted(rows.values(), key=lambda r: (r.session.stopped_at, r.session.pk))
    by_centre: dict[str, Sums] = {}
    by_driver: dict[str, Sums] = {}
    for row in ordered:
        for key, table in ((row.cost_centre, by_centre), (row.driver, by_driver)):
            sums = table.setdefault(key, Sums())
            sums.add(row.sums.excl, row.sums.vat)
            sums.sessions += 1
            sums.energy_kwh += row.sums.energy_kwh
    limit = int((invoice.buyer or {}).get("statement_session_lines") or 0) or len(ordered) or 1
    tz = operator_time_zone(invoice.operator_id)
    since = datetime.combine(invoice.period_start, time(), tz)
    until = datetime.combine(invoice.period_end + timedelta(days=1), time(), tz)
    notes = list(CreditNote.objects.filter(invoice__account_id=invoice.account_id, issued_at__gte=since,
                                           issued_at__lt=until).order_by("issued_at", "pk"))
    return StatementLayout(sessions=ordered, cost_centres=sorted(by_centre.items()), drivers=sorted(by_driver.items()),
                           other_lines=other, credit_notes=notes, summary_only=len(ordered) > limit, limit=limit)


def session_list_name(invoice: Invoice) -> str:
    return f"{invoice.number}-sessions.csv"


def session_list_rows(invoice: Invoice) -> Iterator[list]:
    """A header, then one row per session of the statement with its amounts (sums of its rounded lines)."""
    yield SESSION_LIST_COLUMNS
    layout = statement_layout(invoice, invoice.lines.all())
    currency = invoice.currency
    for row in layout.sessions:  # VAT: the session's share of the document's VAT per rate
        location = row.session.connector.station.location
        yield [row.session.pk, row.local_start.isoformat(), row.local_stop.isoformat(), location.time_zone,
               row.driver, row.card, row.plate, row.session.cost_centre, location.name,
               row.session.connector.station.ocpp_identity, row.sums.energy_kwh.quantize(Decimal("0.001")),
               currency, quantize_money(row.sums.excl, currency), quantize_money(row.sums.vat, currency),
               quantize_money(row.sums.incl, currency)]


def session_list_csv(invoice: Invoice) -> str:
    """The session list as CSV text (spreadsheet-safe cells, `reporting.exports.csv_lines`)."""
    return "".join(csv_lines(session_list_rows(invoice)))
