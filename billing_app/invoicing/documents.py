"""Invoices: receipts for pay-as-you-go sessions, monthly statements, and their states.

draft -> issued (immutable) -> paid | void. A number, the issue date and the seller's and buyer's
details are fixed in the transaction that issues; PDF rendering and the email are queued on
commit (`delivery_suppressed()` turns that off, e.g. for demo history and benchmarks; the PDF is then
rendered on first download). Receipts and statements of many accounts are issued in batches: one
transaction per batch, numbers taken for the whole batch under one counter lock, rows inserted in
bulk, so the queries per invoice stay constant whatever the volume.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, pgettext

from billing_app.invoicing.delivery import invoice_pdf_render
from billing_app.invoicing.errors import InvoicingError
from billing_app.invoicing.lines import LineIn, document_vat, lines_from_breakdown
from billing_app.invoicing.numbering import number_format, number_take
from billing_app.invoicing.vat_categories import lines_treated
from billing_app.models import (
    BillingAccount,
    ChargeReview,
    Invoice,
    InvoiceAttachment,
    InvoiceLine,
    InvoiceVatSubtotal,
    NumberSequence,
    SessionCharge,
)
from billing_app.plans.statements import plan_statement_lines
from billing_app.signals import invoice_issued, invoice_paid, invoice_voided
from evbilling.on_commit import after_commit
from sessions_app.models import Company, Operator, User
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

STATEMENT_MODES = (BillingAccount.PaymentMode.POSTPAID, BillingAccount.PaymentMode.SUBSCRIPTION)
HELD = ChargeReview.Status.HELD  # a charge held for review is on no receipt or statement until resolved
_NO_DELIVERY: ContextVar[bool] = ContextVar("invoice_delivery_suppressed", default=False)


@contextmanager
def delivery_suppressed() -> Iterator[None]:
    """Issue without queueing PDF rendering and email (demo history, benchmarks)."""
    token = _NO_DELIVERY.set(True)
    try:
        yield
    finally:
        _NO_DELIVERY.reset(token)


def delivery_is_suppressed() -> bool:
    return _NO_DELIVERY.get()


# --- Time ---------------------------------------------------------------------------------------

def month_bounds(period: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of the month of `period`, in `tz`."""
    first = period.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time(), tzinfo=tz), datetime.combine(following, time(), tzinfo=tz)


def last_day_of_month(period: date) -> date:
    return (period.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


# --- Snapshots ----------------------------------------------------------------------------------

def seller_snapshot(operator: Operator) -> dict:
    return {"name": operator.name, "legal_name": operator.legal_name, "vat_id": operator.vat_id,
            "address": operator.address, "postal_code": operator.postal_code, "city": operator.city,
            "country": operator.country, "email": operator.email, "phone": operator.phone, "iban": operator.iban}


def company_snapshot(company: Company) -> dict:
    """A company buyer: its legal details, the references its accounts payable need (buyer reference such as a
    Leitweg-ID, purchase order, payment terms) and the statement layout's size limit, frozen at issue."""
    return {
        "name": company.legal_name, "company_name": company.legal_name, "company_id": company.pk,
        "vat_id": company.vat_id, "address": company.address, "postal_code": company.postal_code,
        "city": company.city, "country": company.country, "email": company.billing_email,
        "buyer_reference": company.buyer_reference, "purchase_order": company.purchase_order,
        "payment_terms_days": company.payment_terms_days,
        "statement_session_lines": company.statement_session_lines, "invoice_format": company.invoice_format,
        "vat_treatment": company.vat_treatment, "vat_exemption_reason": company.vat_exemption_reason,
        "vat_exemption_code": company.vat_exemption_code,
    }


def invoice_buyer_snapshot(invoice: Invoice) -> dict:
    """The buyer of `invoice`: the company of a company account, else the driver."""
    company = invoice.account.company if invoice.account.company_id else None
    return company_snapshot(company) if company is not None else buyer_snapshot(invoice.driver)


def reader_language(invoice: Invoice) -> str:
    """The language a document for `invoice` is issued in: the company's for a company account, else the driver's
    (the default language when they chose none). Recorded on the document, so every re-render reads the same."""
    company = invoice.account.company if invoice.account.company_id else None
    chosen = company.language if company is not None else (invoice.driver.language if invoice.driver_id else "")
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def buyer_snapshot(driver: User) -> dict:
    profile = getattr(driver, "driver_profile", None)
    name = (profile.full_name if profile else "") or driver.get_full_name() or driver.username
    return {
        "name": name,
        "company_name": profile.company_name if profile else "",
        "vat_id": profile.company_vat_id if profile else "",
        "address": profile.address if profile else "",
        "postal_code": profile.postal_code if profile else "",
        "city": profile.city if profile else "",
        "country": profile.country if profile else "",
        "email": driver.email,
    }


# --- Issuing ------------------------------------------------------------------------------------

@dataclass(slots=True)
class Draft:
    """An invoice not stored yet, with its lines."""

    invoice: Invoice
    lines: list[LineIn]


def _set_totals(invoice: Invoice, lines: Sequence) -> list[InvoiceVatSubtotal]:
    """The invoice's totals from its lines, VAT per rate (EN 16931 BR-CO-17, `money.vat_breakdown`),
    and its per-rate rows to store once the invoice has its primary key."""
    vat = document_vat(lines, invoice.currency)
    invoice.total_excl_vat, invoice.total_vat, invoice.total_incl_vat = vat.net, vat.vat, vat.gross
    invoice.vat_per_rate = True
    return [InvoiceVatSubtotal(invoice=invoice, position=position, vat_rate=subtotal.rate,
                               taxable_amount=subtotal.taxable_amount, vat_amount=subtotal.vat_amount)
            for position, subtotal in enumerate(vat.subtotals, start=1)]


def _number(invoices: Sequence[Invoice], now: datetime) -> None:
    """Give each invoice its number, issue date and snapshots. Counters are locked in a fixed
    order (operator, year) so two batches never deadlock. An invoice given its issue instant beforehand
    (history: the demo's receipts dated at their sessions) keeps it, and its year numbers it."""
    zones: dict[int, ZoneInfo] = {}
    groups: dict[tuple[int, int], list[Invoice]] = defaultdict(list)
    for invoice in invoices:
        tz = zones.get(invoice.operator_id) or zones.setdefault(invoice.operator_id,
                                                               operator_time_zone(invoice.operator_id))
        invoice.issued_at = invoice.issued_at or now
        groups[(invoice.operator_id, invoice.issued_at.astimezone(tz).year)].append(invoice)
    for (operator_id, year), group in sorted(groups.items()):
        first = number_take(operator_id=operator_id, year=year, kind=NumberSequence.Kind.INVOICE, count=len(group))
        for offset, invoice in enumerate(group):
            invoice.number_year, invoice.number_sequence = year, first + offset
            invoice.number = number_format(prefix=invoice.operator.invoice_prefix, year=year,
                                           sequence=first + offset, kind=NumberSequence.Kind.INVOICE)
            invoice.state = Invoice.State.ISSUED
            invoice.seller = seller_snapshot(invoice.operator)
            invoice.buyer = invoice_buyer_snapshot(invoice)
            invoice.language = reader_language(invoice)


def _line_rows(invoice: Invoice, lines: Sequence[LineIn]) -> list[InvoiceLine]:
    return [InvoiceLine(invoice=invoice, position=position, kind=line.kind, description=line.description,
                        session_id=line.session_id, session_charge_id=line.session_charge_id,
                        source_index=line.source_index, quantity=line.quantity, unit=line.unit,
                        unit_price=line.unit_price, vat_rate=line.vat_rate, amount_excl_vat=line.amount_excl_vat,
                        vat_amount=line.vat_amount, amount_incl_vat=line.amount_incl_vat)
            for position, line in enumerate(lines, start=1)]


def _issue_new(drafts: Sequence[Draft], *, now: datetime) -> list[Invoice]:
    """Number and store new invoices with their lines, in the caller's transaction."""
    invoices = [draft.invoice for draft in drafts]
    vat_rows = [row for draft in drafts for row in _set_totals(draft.invoice, draft.lines)]
    _number(invoices, now)
    Invoice.objects.bulk_create(invoices)
    InvoiceLine.objects.bulk_create([row for draft in drafts for row in _line_rows(draft.invoice, draft.lines)])
    InvoiceVatSubtotal.objects.bulk_create(_attached(vat_rows))
    invoice_issued.send(sender=Invoice, invoices=invoices)
    _queue_delivery([invoice.pk for invoice in invoices])
    return invoices


def _attached(vat_rows: list[InvoiceVatSubtotal]) -> list[InvoiceVatSubtotal]:
    """Per-rate rows made before their invoice was saved, pointed at its primary key."""
    for row in vat_rows:
        row.invoice_id = row.invoice.pk
    return vat_rows


def _store_draft(draft: Draft) -> None:
    """Save a draft invoice with its lines and per-rate VAT rows (in the caller's transaction)."""
    vat_rows = _set_totals(draft.invoice, draft.lines)
    draft.invoice.save()
    InvoiceLine.objects.bulk_create(_line_rows(draft.invoice, draft.lines))
    InvoiceVatSubtotal.objects.bulk_create(_attached(vat_rows))


def issue_drafts(drafts: Sequence[Draft], *, now: datetime) -> list[Invoice]:
    """Issue new invoices in one transaction; should one of them exist already (a concurrent run),
    fall back to one transaction each and skip those that do. Idempotent per receipt session and
    per statement (account, period), which the unique constraints guarantee."""
    if not drafts:
        return []
    try:
        with transaction.atomic():
            return _issue_new(drafts, now=now)
    except IntegrityError:
        if len(drafts) == 1:
            return []
    issued = []
    for draft in drafts:
        draft.invoice.pk = None
        try:
            with transaction.atomic():
                issued += _issue_new([draft], now=now)
        except IntegrityError:
            logger.info("invoice for %s already issued", draft.invoice.session_id or draft.invoice.account_id)
    return issued


def _queue_delivery(invoice_ids: Sequence[int]) -> None:
    if delivery_is_suppressed():
        return
    for invoice_id in invoice_ids:
        after_commit(invoice_pdf_render.delay, invoice_id)


def invoice_issue(*, invoice_id: int, now: datetime | None = None) -> Invoice:
    """Issue a stored draft: number, issue date and snapshots, in one transaction holding the
    invoice row. Issuing an issued invoice returns it unchanged."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = (Invoice.objects.select_for_update(of=("self",))
                   .select_related("operator", "driver__driver_profile", "account__company").get(pk=invoice_id))
        if invoice.state != Invoice.State.DRAFT:
            return invoice
        lines = list(invoice.lines.all())
        if not lines:
            raise InvoicingError(gettext("Draft %(number)s has no lines.") % {"number": invoice_id})
        vat_rows = _set_totals(invoice, lines)
        invoice.vat_subtotals.all().delete()
        InvoiceVatSubtotal.objects.bulk_create(vat_rows)
        _number([invoice], now)
        invoice.save()
        invoice_issued.send(sender=Invoice, invoices=[invoice])
        _queue_delivery([invoice.pk])
    return invoice


# --- Receipts -----------------------------------------------------------------------------------

def _charges():
    return SessionCharge.objects.select_related(
        "session__operator", "session__connector__station__location",
        "session__driver__billing_account", "session__driver__driver_profile",
    )


def _receipt_draft(charge: SessionCharge) -> Draft | None:
    session = charge.session
    if session.company_id is not None:
        return None  # a business session: on its company's statement
    account = getattr(session.driver, "billing_account", None) if session.driver else None
    if account is None or account.payment_mode != BillingAccount.PaymentMode.PAY_AS_YOU_GO:
        return None
    lines = lines_from_breakdown(charge.breakdown, currency=charge.currency, session_id=session.pk,
                                 session_charge_id=charge.pk)
    if not lines:
        return None
    day = timezone.localtime(session.stopped_at, ZoneInfo(session.connector.station.location.time_zone)).date()
    invoice = Invoice(operator=session.operator, account=account, driver=session.driver,
                      kind=Invoice.Kind.RECEIPT, session=session, period_start=day, period_end=day,
                      currency=charge.currency)
    return Draft(invoice, lines)


def invoice_create_for_session(*, session_id: int) -> Invoice | None:
    """A draft receipt for a settled pay-as-you-go session (None when the session is not one);
    the receipt already made for it if there is one."""
    existing = Invoice.objects.filter(session_id=session_id).first()
    if existing is not None:
        return existing
    draft = _receipt_draft(_charges().get(session_id=session_id))
    if draft is None:
        return None
    try:
        with transaction.atomic():
            _store_draft(draft)
    except IntegrityError:
        return Invoice.objects.get(session_id=session_id)
    return draft.invoice


def receipt_issue_for_session(*, session_id: int, now: datetime | None = None) -> Invoice | None:
    """Issue the receipt of a settled pay-as-you-go session, once (None when the session is not
    billed per session, cost nothing, or is held for review)."""
    existing = Invoice.objects.filter(session_id=session_id).first()
    if existing is not None:
        return invoice_issue(invoice_id=existing.pk, now=now) if existing.state == Invoice.State.DRAFT else existing
    charge = _charges().filter(session_id=session_id).exclude(review__status=HELD).first()
    draft = _receipt_draft(charge) if charge is not None and charge.total_incl_vat else None
    if draft is None:
        return None
    issued = issue_drafts([draft], now=now or timezone.now())
    return issued[0] if issued else Invoice.objects.get(session_id=session_id)


def pending_receipt_charges(*, operator_id: int | None = None):
    """Charges of pay-as-you-go sessions that cost something, are on no invoice yet and not held for review."""
    payg = BillingAccount.PaymentMode.PAY_AS_YOU_GO
    charges = (_charges().filter(session__driver__billing_account__payment_mode=payg, session__company__isnull=True,
                                 session__receipts__isnull=True, session__invoice_lines__isnull=True)
               .exclude(total_incl_vat=0).exclude(review__status=HELD).order_by("session__stopped_at", "pk"))
    return charges.filter(session__operator_id=operator_id) if operator_id else charges


def receipts_issue_pending(*, operator_id: int | None = None, batch_size: int = 500, now: datetime | None = None,
                           dated: Callable[[SessionCharge], datetime] | None = None,
                           progress: Callable[[int], None] = lambda n: None) -> int:
    """Issue the receipts of every settled pay-as-you-go session that has none (a lost task, history).
    `dated` gives each receipt its own issue instant (history loaded at once, e.g. the demo: at its session's
    end); receipts are issued in the order their sessions ended, so their numbers follow time."""
    issued = 0
    while True:
        charges = list(pending_receipt_charges(operator_id=operator_id)[:batch_size])
        if not charges:
            return issued
        drafts = [d for d in map(_receipt_draft, charges) if d is not None]
        if dated is not None:
            by_session = {charge.session_id: charge for charge in charges}
            for draft in drafts:
                draft.invoice.issued_at = dated(by_session[draft.invoice.session_id])
        issued += len(issue_drafts(drafts, now=now or timezone.now()))
        progress(len(charges))
        if not drafts:
            return issued


# --- Monthly statements -------------------------------------------------------------------------

def statement_drafts(*, operator: Operator, period: date, accounts: Sequence[BillingAccount],
                     tz: ZoneInfo | None = None) -> list[Draft]:
    """Statement drafts for `accounts` (of `operator`) for the month of `period`: every settled
    session that ended in that month (operator's time zone) and is on no invoice yet, plus the plan
    fees billed on the statement (`plans.statements`). A driver's account gathers the driver's own sessions,
    a company's account the sessions of its business cards (`ChargingSession.company`, fixed at the start), so
    no session is on both. Accounts with nothing to bill get none. A session
    held for review waits; one resolved after its own month's statement comes on the statement of the
    month it was resolved in. One query for all sessions, one for those resolved late."""
    period = period.replace(day=1)
    start, end = month_bounds(period, tz or operator_time_zone(operator.pk))
    by_owner: dict[tuple[str, int], list[SessionCharge]] = defaultdict(list)
    mine = (Q(session__driver_id__in=[a.driver_id for a in accounts if a.driver_id], session__company__isnull=True)
            | Q(session__company_id__in=[a.company_id for a in accounts if a.company_id]))
    unbilled = (SessionCharge.objects.filter(mine, session__operator=operator,
                                             session__receipts__isnull=True, session__invoice_lines__isnull=True)
                .exclude(review__status=HELD).select_related("session").order_by("session__stopped_at", "pk"))
    resolved_late = unbilled.filter(session__stopped_at__lt=start, review__resolved_at__gte=start,
                                    review__resolved_at__lt=end)
    charges = unbilled.filter(session__stopped_at__gte=start, session__stopped_at__lt=end)
    for charge in [*resolved_late, *charges]:
        session = charge.session
        owner = ("company", session.company_id) if session.company_id else ("driver", session.driver_id)
        by_owner[owner].append(charge)
    currency = operator.default_currency
    drafts = []
    for account in accounts:
        lines: list[LineIn] = []
        owner = ("company", account.company_id) if account.company_id else ("driver", account.driver_id)
        for charge in by_owner.get(owner, []):
            if charge.currency != currency:
                logger.warning("session %s charged in %s, not on the %s statement", charge.session_id,
                               charge.currency, currency)
                continue
            lines += lines_from_breakdown(charge.breakdown, currency=currency, session_id=charge.session_id,
                                          session_charge_id=charge.pk)
        lines += plan_statement_lines(account=account, period_start=period, period_end=last_day_of_month(period),
                                      currency=currency)
        if account.company_id:  # a reverse-charged or exempt buyer: the priced net amounts, no VAT
            lines = lines_treated(lines, account.company.vat_treatment)
        if lines:
            account.operator = operator
            drafts.append(Draft(Invoice(operator=operator, account=account, driver=account.driver,
                                        kind=Invoice.Kind.STATEMENT, period_start=period,
                                        period_end=last_day_of_month(period), currency=currency), lines))
    return drafts


def statement_accounts(*, operator: Operator, period: date):
    """Accounts billed monthly that have no statement for the month of `period` yet."""
    done = Invoice.objects.filter(kind=Invoice.Kind.STATEMENT, period_start=period.replace(day=1))
    return (BillingAccount.objects.filter(operator=operator, payment_mode__in=STATEMENT_MODES)
            .exclude(pk__in=done.values("account_id")).select_related("driver__driver_profile", "company")
            .order_by("pk"))


def statement_create(*, account_id: int, period: date, issue: bool = True,
                     now: datetime | None = None) -> Invoice | None:
    """The statement of one account for the month of `period` (issued, or a stored draft with
    `issue=False`); the existing one if made already; None when there is nothing to bill."""
    existing = Invoice.objects.filter(kind=Invoice.Kind.STATEMENT, account_id=account_id,
                                      period_start=period.replace(day=1)).first()
    if existing is not None:
        return existing
    account = BillingAccount.objects.select_related("operator", "driver__driver_profile", "company").get(pk=account_id)
    if account.payment_mode not in STATEMENT_MODES:
        raise InvoicingError(gettext("%(account)s is not billed monthly.") % {"account": account})
    drafts = statement_drafts(operator=account.operator, period=period, accounts=[account])
    if not drafts:
        return None
    if issue:
        issued = issue_drafts(drafts, now=now or timezone.now())
    else:
        try:
            with transaction.atomic():
                _store_draft(drafts[0])
                issued = [drafts[0].invoice]
        except IntegrityError:
            issued = []
    return issued[0] if issued else Invoice.objects.get(kind=Invoice.Kind.STATEMENT, account_id=account_id,
                                                        period_start=period.replace(day=1))


# --- Roaming settlements -----------------------------------------------------------------------

def settlement_issue(*, account: BillingAccount, period: date, currency: str, lines: Sequence[LineIn],
                     attachments: Sequence[tuple[str, str, str]] = (), now: datetime | None = None) -> Invoice:
    """Issue the settlement invoice of a roaming partner (its company `account`) for the month of `period`:
    `lines` as given (one per CDR and VAT rate, each rounded once; at rate 0 without VAT for a company that is
    reverse-charged or exempt, `vat_categories.lines_treated`), VAT per rate on the document
    (`money.vat_breakdown`), numbered in the operator's invoice sequence, with `attachments` ((name, content
    type, text), e.g. the CDR list; `{number}` in a name is the invoice's number). In the caller's
    transaction, which should hold the partner's lock; the database allows one settlement per (account,
    month), so a concurrent second one fails."""
    if not lines:
        raise InvoicingError(gettext("A settlement invoice needs at least one line."))
    if account.company_id is None:
        raise InvoicingError(gettext("%(account)s is not a company's account: settlements are invoiced to "
                                     "companies.") % {"account": account})
    period = period.replace(day=1)
    lines = lines_treated(list(lines), account.company.vat_treatment)  # e.g. an eMSP reverse-charged (§13b UStG)
    draft = Draft(Invoice(operator=account.operator, account=account, driver=None, kind=Invoice.Kind.SETTLEMENT,
                          period_start=period, period_end=last_day_of_month(period),
                          currency=currency), lines)
    invoice = _issue_new([draft], now=now or timezone.now())[0]
    InvoiceAttachment.objects.bulk_create([
        InvoiceAttachment(invoice=invoice, name=name.format(number=invoice.number), content_type=content_type,
                          content=content)
        for name, content_type, content in attachments])
    return invoice


# --- After issue --------------------------------------------------------------------------------

#: An invoice's state as a word in a refusal ("VOLT-2026-000001 is paid: ...").
_STATE_WORDS = {
    "draft": lambda: pgettext("invoice state in a sentence", "draft"),
    "issued": lambda: pgettext("invoice state in a sentence", "issued"),
    "paid": lambda: pgettext("invoice state in a sentence", "paid"),
    "void": lambda: pgettext("invoice state in a sentence", "void"),
}


def _issued_for_update(invoice_id: int, *, to_state: str, refusal: str) -> Invoice:
    """The invoice locked for a move out of `issued`; already in `to_state` is returned as is (a repeat
    changes nothing), any other state is refused with `refusal`."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.state not in (to_state, Invoice.State.ISSUED):
        raise InvoicingError(gettext("%(invoice)s is %(state)s: %(refusal)s.") % {
            "invoice": invoice, "state": _STATE_WORDS[invoice.state](), "refusal": gettext(refusal)})
    return invoice


def invoice_mark_paid(*, invoice_id: int, paid_at: datetime | None = None, reference: str = "") -> Invoice:
    """issued -> paid; marking a paid invoice paid again changes nothing."""
    with transaction.atomic():
        invoice = _issued_for_update(invoice_id, to_state=Invoice.State.PAID,
                                     refusal=gettext_noop("only an issued invoice can be paid"))
        if invoice.state == Invoice.State.PAID:
            return invoice
        invoice.state = Invoice.State.PAID
        invoice.paid_at = paid_at or timezone.now()
        invoice.payment_reference = reference
        invoice.save(update_fields=["state", "paid_at", "payment_reference"])
        invoice_paid.send(sender=Invoice, invoice=invoice)
    return invoice


def invoice_void(*, invoice_id: int, reason: str, now: datetime | None = None) -> Invoice:
    """issued -> void (keeps its number: the sequence stays gapless). A paid or credited invoice
    is corrected by a credit note instead."""
    with transaction.atomic():
        invoice = _issued_for_update(invoice_id, to_state=Invoice.State.VOID,
                                     refusal=gettext_noop("only an issued, unpaid invoice can be voided"))
        if invoice.state == Invoice.State.VOID:
            return invoice
        if invoice.credit_notes.exists():
            raise InvoicingError(gettext("%(invoice)s has credit notes: credit the rest instead of voiding it.") % {
                "invoice": invoice})
        invoice.state = Invoice.State.VOID
        invoice.voided_at = now or timezone.now()
        invoice.void_reason = reason
        invoice.save(update_fields=["state", "voided_at", "void_reason"])
        invoice_voided.send(sender=Invoice, invoice=invoice)
    return invoice
