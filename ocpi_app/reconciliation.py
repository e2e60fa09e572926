"""Reconciliation of a month with each roaming partner: the CDRs issued to it in the month (operator's time zone)
by what became of them (acknowledged, waiting to be pulled, pending, failed; invoiced or not, or nothing to bill because
they cancelled out; credited; disputed),
with counts and amounts, and the settlement documents of the month. Read-only; the caller passes partners
already scoped to the person asking (the admin's queryset)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from billing_app.invoicing.documents import month_bounds
from billing_app.models import CreditNote, Invoice
from billing_app.money import quantize_money
from sessions_app.selectors import operator_time_zone

from .models import CdrRecord, Partner

CDR, CREDIT = CdrRecord.Kind.CDR, CdrRecord.Kind.CREDIT
BUCKETS: dict[str, tuple[str, Q]] = {
    "sent": ("CDRs sent", Q(kind=CDR)),
    "acknowledged": ("acknowledged", Q(kind=CDR, state=CdrRecord.State.ACKNOWLEDGED)),
    "pulled": ("waiting to be pulled", Q(kind=CDR, state=CdrRecord.State.SENT)),
    "pending": ("push pending", Q(kind=CDR, state=CdrRecord.State.PENDING)),
    "failed": ("push failed", Q(kind=CDR, state=CdrRecord.State.FAILED)),
    "invoiced": ("invoiced", Q(kind=CDR, invoice__isnull=False)),
    "not_invoiced": ("not invoiced", Q(kind=CDR, invoice__isnull=True, credit_note__isnull=True,
                                       nothing_to_bill_period__isnull=True)),
    "nothing_to_bill": (_("nothing to bill (cancelled out)"), Q(kind=CDR, nothing_to_bill_period__isnull=False)),
    "credits": ("credit CDRs", Q(kind=CREDIT)),
    "credited": ("on a credit note", Q(credit_note__isnull=False)),
    "disputed": ("disputed", Q(session__dispute_tickets__isnull=False)),
}


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    label: str
    count: int
    net: Decimal
    gross: Decimal


@dataclass(slots=True)
class PartnerMonth:
    partner: Partner
    period: date
    start: datetime
    end: datetime
    currency: str
    buckets: list[Bucket] = field(default_factory=list)
    invoice: Invoice | None = None
    credit_notes: list[CreditNote] = field(default_factory=list)
    nothing_to_bill: bool = False  # settled with no invoice: its CDRs cancelled out


def _bucket(cdrs: QuerySet, key: str, currency: str) -> Bucket:
    label, condition = BUCKETS[key]
    # distinct CDRs: a session with two dispute tickets must not count its CDRs twice
    rows = cdrs.filter(condition).values("pk", "total_excl_vat", "total_incl_vat").distinct()
    totals = CdrRecord.objects.filter(pk__in=rows.values("pk")).aggregate(
        count=Count("pk"), net=Sum("total_excl_vat"), gross=Sum("total_incl_vat"))
    return Bucket(key, label, totals["count"], quantize_money(Decimal(str(totals["net"] or 0)), currency),
                  quantize_money(Decimal(str(totals["gross"] or 0)), currency))


def partners_reconcile(*, partners: QuerySet[Partner], period: date) -> list[PartnerMonth]:
    """One row per partner that had CDRs in the month or has a settlement invoice for it."""
    period = period.replace(day=1)
    result = []
    for partner in partners.select_related("operator", "company__billing_account").order_by("operator__name", "name"):
        start, end = month_bounds(period, operator_time_zone(partner.operator_id))
        currency = partner.operator.default_currency
        cdrs = CdrRecord.objects.filter(partner=partner, last_updated__gte=start, last_updated__lt=end)
        account = getattr(partner.company, "billing_account", None) if partner.company_id else None
        invoice = (Invoice.objects.filter(kind=Invoice.Kind.SETTLEMENT, account=account, period_start=period).first()
                   if account is not None else None)
        if invoice is None and not cdrs.exists():
            continue
        row = PartnerMonth(partner, period, start, end, currency, invoice=invoice,
                           nothing_to_bill=invoice is None and CdrRecord.objects.filter(
                               partner=partner, nothing_to_bill_period=period).exists())
        row.buckets = [_bucket(cdrs, key, currency) for key in BUCKETS]
        row.credit_notes = list(CreditNote.objects.filter(pk__in=cdrs.values("credit_note_id")).order_by("number"))
        result.append(row)
    return result
