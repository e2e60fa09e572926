"""Monthly settlement with each roaming partner: what the eMSP owes us for the CDRs we sent it.

Once a month has ended in the operator's time zone, each partner gets **one settlement invoice** for that
month (unique per (its company account, month) in the database), numbered in the operator's invoice sequence:

- every CDR issued up to the month's end that the partner has (acknowledged, or `sent` for it to pull) and
  that is on no invoice yet: one line per CDR and VAT rate, net as the CDR was issued (`net_by_rate`, the
  engine's rounded lines, so the VAT rate is the one the charging location's tariff carries); VAT per rate on
  the document (`money.vat_breakdown`, EN 16931 BR-CO-17), through billing's `settlement_issue`;
- the CDR list as a CSV attachment (`<number>-cdrs.csv`, the CDR ids), stored with the invoice and e-mailed
  with it; the PDF and the e-invoice are billing's own (`invoicing.pdf`, `invoicing.einvoice`).

Every **credit CDR** up to the month's end becomes a credit note on the invoice that holds the CDR it
cancels, for exactly that CDR's net amounts per rate (`credit_note_issue(net_by_rate=...)`): an issued
invoice is never edited. A credit CDR whose CDR is on no invoice yet waits for it.

**Nothing to bill, no invoice**: a month whose CDRs and the credit CDRs cancelling them (up to its end) add up to
nothing at every rate (all cancelled within the month, or 0.00) gets no invoice; those CDRs record the month
(`CdrRecord.nothing_to_bill_period`) and go on no document later. The result says so.

Idempotent: the partner row is locked for the run, each CDR records the document it is on
(`CdrRecord.invoice` / `credit_note`), and a month's invoice is made once; a re-run finds nothing new. CDRs
the partner does not have (pending, failed) stay off the invoice and come on the first invoice after they
are acknowledged (the reconciliation view lists them).
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from billing_app.companies.services import company_account_open
from billing_app.invoicing import CreditNoteError, LineIn, credit_note_issue
from billing_app.invoicing.billing_run import period_check_ended, previous_month
from billing_app.invoicing.documents import month_bounds, settlement_issue
from billing_app.invoicing.vat_categories import STANDARD, document_treatment
from billing_app.models import CreditNote, Invoice, SessionCharge
from billing_app.money import quantize_money, vat_amount
from billing_app.pricing import ocpi
from billing_app.reporting.exports import spreadsheet_safe
from evbilling.errors import ApplicationError
from sessions_app.models import Operator
from sessions_app.selectors import operator_time_zone

from .cdrs import cdr_corrections_sweep, charge_net_by_rate
from .models import CdrRecord, Partner

logger = logging.getLogger(__name__)

INVOICED_STATES = (CdrRecord.State.ACKNOWLEDGED, CdrRecord.State.SENT)
CSV_HEADER = ["cdr_id", "session_id", "start_date_time", "end_date_time", "location", "evse_id", "energy_kwh",
              "vat_rate", "net", "currency"]


class SettlementError(ApplicationError):
    """A settlement that cannot be made; the message says why."""


@dataclass(slots=True)
class SettlementResult:
    partner: Partner
    period: date
    invoice: Invoice | None = None
    credit_notes: list[CreditNote] = field(default_factory=list)
    waiting: int = 0  # CDRs issued by the month's end that are on no document yet (not acknowledged, ...)
    nothing_to_bill: int = 0  # CDRs (and credit CDRs) this run found cancelling out: no invoice for them

    def __str__(self) -> str:
        if self.invoice is not None:
            invoice = gettext("invoice %(number)s (%(total)s %(currency)s)") % {
                "number": self.invoice.number, "total": self.invoice.total_incl_vat, "currency": self.invoice.currency}
        elif self.nothing_to_bill:
            invoice = ngettext("no invoice: nothing to bill (%(count)d CDR cancels out)",
                               "no invoice: nothing to bill (%(count)d CDRs cancel out)",
                               self.nothing_to_bill) % {"count": self.nothing_to_bill}
        else:
            invoice = gettext("no invoice: nothing to bill")
        return gettext("%(partner)s %(period)s: %(invoice)s, %(notes)d credit note(s), %(waiting)d CDR(s) "
                       "waiting") % {"partner": self.partner.name, "period": f"{self.period:%Y-%m}", "invoice": invoice,
                                     "notes": len(self.credit_notes), "waiting": self.waiting}


def _rate(key: str) -> Decimal | None:
    return None if key == "" else Decimal(key)


def cdr_net_by_rate(record: CdrRecord) -> dict[Decimal | None, Decimal]:
    """The CDR's net amount per VAT rate as issued. CDRs issued before the amounts were stored take the
    charge's lines when they still add up to the CDR (else they cannot be settled and raise)."""
    stored = record.net_by_rate
    if not stored and record.kind == CdrRecord.Kind.CREDIT and record.credit_reference_id:
        return {rate: -net for rate, net in cdr_net_by_rate(record.credit_reference).items()}
    if not stored:
        charge = SessionCharge.objects.filter(session_id=record.session_id).first()
        stored = charge_net_by_rate(charge) if charge is not None else {}
    amounts = {_rate(key): Decimal(value) for key, value in stored.items()}
    if sum(amounts.values(), Decimal(0)) != record.total_excl_vat:
        raise SettlementError(f"CDR {record.cdr_id}: its net amounts per VAT rate are not known.")
    return amounts


def _cdr_lines(record: CdrRecord, charge_id: int | None, currency: str) -> list[LineIn]:
    body = ocpi.loads(record.body)
    energy = Decimal(str(body.get("total_energy", 0)))
    lines = []
    for rate, net in sorted(cdr_net_by_rate(record).items(), key=lambda item: (item[0] is None, item[0] or 0)):
        net = quantize_money(net, currency)
        lines.append(LineIn(kind="CDR", description=f"CDR {record.cdr_id} ({energy.normalize():f} kWh)",
                            quantity=Decimal(1), unit="session", unit_price=net, vat_rate=rate,
                            amount_excl_vat=net, vat_amount=vat_amount(net, rate or Decimal(0), currency),
                            session_id=record.session_id, session_charge_id=charge_id))
    return lines


def cdr_list_csv(records: list[CdrRecord]) -> str:
    """The CDR list a settlement invoice carries: a row per CDR and VAT rate (the invoice's lines), the CDR ids
    first; times as issued (UTC, ISO 8601), plain decimals, cells spreadsheet-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for record in records:
        body = ocpi.loads(record.body)
        where = body.get("cdr_location") or {}
        for rate, net in sorted(cdr_net_by_rate(record).items(), key=lambda item: (item[0] is None, item[0] or 0)):
            writer.writerow([spreadsheet_safe(cell) for cell in (
                record.cdr_id, record.session_id, body.get("start_date_time", ""), body.get("end_date_time", ""),
                where.get("name", ""), where.get("evse_id", ""), body.get("total_energy", ""),
                "" if rate is None else f"{rate.normalize():f}", f"{net:.2f}", record.currency)])
    return out.getvalue()


def _nets_to_nothing(records: list[CdrRecord], credits: list[CdrRecord]) -> bool:
    """Whether the month's CDRs and the credit CDRs cancelling them add up to nothing at every VAT rate."""
    sums: dict[Decimal | None, Decimal] = {}
    for record in (*records, *credits):
        for rate, net in cdr_net_by_rate(record).items():
            sums[rate] = sums.get(rate, Decimal(0)) + net
    return not any(sums.values())


def _invoice_month(*, partner: Partner, account, period: date, end: datetime,
                   now: datetime) -> tuple[Invoice | None, int]:
    """The month's invoice (issued now, or found), and how many CDRs were found to cancel out instead.

    Nothing to bill: when the month's CDRs and the credit CDRs (up to the month's end) cancelling them add up to
    nothing at every rate (all cancelled, or 0.00), no invoice is issued (a 0.00 invoice helps no one) and each
    of them records the month (`nothing_to_bill_period`), so no later run invoices or credits them: they are
    settled, with nothing to bill."""
    existing = Invoice.objects.filter(kind=Invoice.Kind.SETTLEMENT, account=account, period_start=period).first()
    if existing is not None:
        return existing, 0
    currency = partner.operator.default_currency
    records = list(CdrRecord.objects.select_for_update(of=("self",))
                   .filter(partner=partner, kind=CdrRecord.Kind.CDR, invoice__isnull=True, credit_note__isnull=True,
                           nothing_to_bill_period__isnull=True, state__in=INVOICED_STATES, last_updated__lt=end,
                           currency=currency)
                   .order_by("last_updated", "pk"))
    if not records:
        return None, 0
    charges = dict(SessionCharge.objects.filter(session_id__in={r.session_id for r in records})
                   .values_list("session_id", "pk"))
    lines, settled = [], []
    for record in records:
        try:
            lines += _cdr_lines(record, charges.get(record.session_id), currency)
        except SettlementError as error:  # one CDR we cannot split by VAT rate waits; the others are invoiced
            logger.warning("%s", error.message)
            continue
        settled.append(record)
    records = settled
    if not records:
        return None, 0
    credits = list(CdrRecord.objects.select_for_update(of=("self",))
                   .filter(kind=CdrRecord.Kind.CREDIT, credit_reference__in=records, credit_note__isnull=True,
                           nothing_to_bill_period__isnull=True, last_updated__lt=end))
    try:
        nothing = _nets_to_nothing(records, credits)
    except SettlementError as error:  # a credit CDR whose split is unknown: invoiced and credited as usual
        logger.warning("%s", error.message)
        nothing = False
    if nothing:
        CdrRecord.objects.filter(pk__in=[r.pk for r in (*records, *credits)]).update(nothing_to_bill_period=period)
        return None, len(records)
    invoice = settlement_issue(account=account, period=period, currency=currency, lines=lines, now=now,
                               attachments=[("{number}-cdrs.csv", "text/csv", cdr_list_csv(records))])
    CdrRecord.objects.filter(pk__in=[r.pk for r in records]).update(invoice=invoice)
    return invoice, 0


def _credit_notes(*, partner: Partner, period: date, end: datetime, now: datetime) -> list[CreditNote]:
    # a credit CDR (of 0.00) for a CDR settled with nothing to bill has nothing to credit either
    for credit in (CdrRecord.objects.select_for_update(of=("self",))
                   .filter(partner=partner, kind=CdrRecord.Kind.CREDIT, credit_note__isnull=True,
                           nothing_to_bill_period__isnull=True, last_updated__lt=end, total_excl_vat=0,
                           credit_reference__nothing_to_bill_period__isnull=False)):
        credit.nothing_to_bill_period = period
        credit.save(update_fields=["nothing_to_bill_period"])
    credits = (CdrRecord.objects.select_for_update(of=("self",)).select_related("credit_reference__invoice")
               .filter(partner=partner, kind=CdrRecord.Kind.CREDIT, credit_note__isnull=True, last_updated__lt=end,
                       credit_reference__invoice__isnull=False)
               .order_by("last_updated", "pk"))
    notes = []
    for credit in credits:
        cancelled = credit.credit_reference
        net = {rate: -amount for rate, amount in cdr_net_by_rate(credit).items() if amount}
        if document_treatment(cancelled.invoice.buyer) != STANDARD:  # invoiced at 0 % (reverse charge, exempt)
            net = {Decimal(0): sum(net.values(), Decimal(0))}
        try:
            note = credit_note_issue(invoice_id=cancelled.invoice_id, net_by_rate=net, now=now,
                                     session_id=cancelled.session_id,
                                     reason=f"Credit CDR {credit.cdr_id} cancels CDR {cancelled.cdr_id}",
                                     line_description=f"Credit CDR {credit.cdr_id} (cancels {cancelled.cdr_id})")
        except CreditNoteError as error:
            logger.warning("credit CDR %s not settled: %s", credit.cdr_id, error)
            continue
        credit.credit_note = note
        credit.save(update_fields=["credit_note"])
        notes.append(note)
    return notes


def cdr_credit_in_full(*, cdr_pk: int, reason: str, operator: Operator | None = None,
                       now: datetime | None = None) -> CreditNote:
    """Staff credit a CDR's whole line on the settlement invoice that holds it (its own, or the one whose credit
    note settled it as a corrected CDR): a credit note for exactly the CDR's net per rate, tied to its session,
    so the partner is sent the credit CDR by the one correction path (`cdrs.cdr_correct_for_credit_note`, on
    commit). `operator` (staff acting in the admin) limits it to that operator's CDRs: another's is not found.
    Refuses, writing nothing, a credit CDR, a CDR cancelled already, one on no invoice yet, and one of 0.00."""
    with transaction.atomic():
        records = CdrRecord.objects.select_for_update(of=("self",)).select_related("invoice", "credit_note__invoice")
        if operator is not None:
            records = records.filter(partner__operator=operator)
        cdr = records.filter(pk=cdr_pk, kind=CdrRecord.Kind.CDR).first()
        if cdr is None:
            raise SettlementError(gettext("No such CDR."))
        if CdrRecord.objects.filter(credit_reference=cdr).exists():
            raise SettlementError(gettext("CDR %(cdr)s is cancelled by a credit CDR already.") % {"cdr": cdr.cdr_id})
        invoice = cdr.invoice or (cdr.credit_note.invoice if cdr.credit_note_id else None)
        if cdr.nothing_to_bill_period is not None:
            month = f"{cdr.nothing_to_bill_period:%Y-%m}"
            raise SettlementError(gettext("CDR %(cdr)s was settled with nothing to bill (%(month)s): nothing to "
                                          "credit.") % {"cdr": cdr.cdr_id, "month": month})
        if invoice is None:
            raise SettlementError(gettext("CDR %(cdr)s is on no settlement invoice yet: settle its month instead.") % {
                "cdr": cdr.cdr_id})
        net = {rate: amount for rate, amount in cdr_net_by_rate(cdr).items() if amount}
        if net and document_treatment(invoice.buyer) != STANDARD:  # invoiced at 0 % (reverse charge, exempt)
            net = {Decimal(0): sum(net.values(), Decimal(0))}
        try:
            return credit_note_issue(invoice_id=invoice.pk, net_by_rate=net, session_id=cdr.session_id, now=now,
                                     reason=reason[:200], line_description=f"CDR {cdr.cdr_id}")
        except CreditNoteError as error:
            raise SettlementError(f"CDR {cdr.cdr_id}: {error}") from None


def partner_settle(*, partner_id: int, period: date, now: datetime | None = None,
                   operator: Operator | None = None) -> SettlementResult:
    """Settle one partner's month (`period`: any day of it): its invoice, if it has none yet and anything is
    due, and credit notes for its credit CDRs. Refuses a month that has not ended in the operator's time zone
    and a partner without a billing company (SettlementError), writing nothing. `operator` (staff acting in the
    admin) limits it to that operator's partners: another's is not found."""
    now = now or timezone.now()
    period = period.replace(day=1)
    with transaction.atomic():
        partners = Partner.objects.select_for_update(of=("self",)).select_related("operator", "company")
        if operator is not None:
            partners = partners.filter(operator=operator)
        partner = partners.filter(pk=partner_id).first()
        if partner is None:
            raise SettlementError("No such OCPI partner.")
        try:
            period_check_ended(operators=[partner.operator], period=period, now=now)
        except ApplicationError as error:
            raise SettlementError(error.message) from None
        if partner.company_id is None:
            raise SettlementError(f"{partner.name} has no billing company: choose the company its settlement "
                                  "invoices go to (admin, OCPI partners) first.")
        if partner.company.operator_id != partner.operator_id:
            raise SettlementError(f"{partner.name}'s billing company belongs to another operator.")
        account = company_account_open(company=partner.company)
        _, end = month_bounds(period, operator_time_zone(partner.operator_id))
        result = SettlementResult(partner=partner, period=period)
        result.invoice, result.nothing_to_bill = _invoice_month(partner=partner, account=account, period=period,
                                                               end=end, now=now)
        result.credit_notes = _credit_notes(partner=partner, period=period, end=end, now=now)
        result.waiting = (CdrRecord.objects.filter(partner=partner, last_updated__lt=end, invoice__isnull=True,
                                                   credit_note__isnull=True, nothing_to_bill_period__isnull=True)
                          .count())
    return result


def settlements_run(*, now: datetime | None = None) -> list[SettlementResult]:
    """The beat's monthly run: each partner with a billing company and CDRs, for its operator's previous month.
    Run daily (a closed month changes nothing; every time zone is covered); one partner failing does not stop
    the others."""
    now = now or timezone.now()
    results = []
    partners = (Partner.objects.filter(company__isnull=False, cdrs__isnull=False).distinct()
                .select_related("operator").order_by("pk"))
    for partner in partners:
        try:
            results.append(partner_settle(partner_id=partner.pk, period=previous_month(now, partner.operator),
                                          now=now))
        except ApplicationError as error:
            logger.warning("settlement of %s not made: %s", partner, error.message)
    for name in Partner.objects.filter(company__isnull=True, cdrs__isnull=False).distinct().values_list("name",
                                                                                                        flat=True):
        logger.warning("OCPI partner %s has CDRs but no billing company: not settled", name)
    return results


@shared_task(name="ocpi_app.settlement.run_monthly")
def run_monthly() -> int:
    """Beat: the OCPI corrections of settlement credit notes a lost hook left unsent (`cdr_corrections_sweep`),
    then `settlements_run` (daily; idempotent). Returns how many invoices were issued or found."""
    cdr_corrections_sweep()
    return sum(1 for result in settlements_run() if result.invoice is not None)
