"""Credit notes: corrections of issued invoices, full or partial, never above what remains.

The invoice row is locked (SELECT ... FOR UPDATE) while what remains is computed and the credit
note stored, so two concurrent credit notes cannot together exceed the invoice. What remains is counted
per VAT rate from the invoice's stored per-rate rows (`InvoiceVatSubtotal`, EN 16931 BR-CO-17) less
the credit notes' lines, one per rate. A credit is shared out over the rates in proportion to what
remains at each rate, in whole cents that add up exactly; each rate's VAT is computed once on its
share (`money.vat_of_gross`): the net amount whose VAT at the rate, rounded once, makes up the share,
so the credit note's VAT per rate is rate x net rounded (BR-CO-17) whenever a net amount reaches the
share exactly; for the few gross amounts none reaches (19 %: 0.03 is 0.02 + 0.00 or 0.03 + 0.01) the
VAT is the share less the nearest net, one minor unit from rate x net. Crediting all that remains at
a rate takes its remaining net and VAT as they stand, so an invoice's credit notes add up to it.

A credit note with `refund=True` gives its total back to the card that paid the invoice (a session
receipt's hold and extra charge, a plan fee's payment): never above what those payments captured and
have not refunded or promised to another credit note (`refunds.invoice_refundable`, checked with the
payment rows locked). The refund is stored on the credit note as an intent (`refund_amount`,
`refund_status=pending`) in the issuing transaction and sent after the commit by
`refunds.credit_note_refund_send_task`; the beat sweep sends what a lost task left. `credit_note_issued`
is sent on commit for the webhooks (with `refund`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from billing_app.invoicing.delivery import credit_note_pdf_render
from billing_app.invoicing.documents import delivery_is_suppressed, reader_language
from billing_app.invoicing.errors import CreditNoteError
from billing_app.invoicing.lines import rate_label
from billing_app.invoicing.numbering import number_format, number_take
from billing_app.invoicing.refunds import credit_note_refund_send_task, invoice_card_payments, invoice_refundable
from billing_app.models import CreditNote, CreditNoteLine, Invoice, NumberSequence, Payment
from billing_app.money import quantize_money, share_out, vat_amount, vat_of_gross
from evbilling.on_commit import after_commit
from sessions_app.selectors import operator_time_zone

credit_note_issued = Signal()
"""Sent on commit of a new credit note: kwargs `credit_note` (CreditNote) and `refund` (bool)."""



@dataclass(frozen=True, slots=True)
class Remaining:
    """What is left to credit at one VAT rate."""

    rate: Decimal | None
    amount_excl_vat: Decimal
    vat_amount: Decimal

    @property
    def amount_incl_vat(self) -> Decimal:
        return self.amount_excl_vat + self.vat_amount


def invoice_remaining_by_rate(invoice: Invoice) -> list[Remaining]:
    """Per VAT rate: the invoice's per-rate rows (net and VAT as issued) minus what credit notes took already."""
    credited: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
    rows = (CreditNoteLine.objects.filter(credit_note__invoice=invoice).values("vat_rate")
            .annotate(excl=Sum("amount_excl_vat"), vat=Sum("vat_amount")))
    for row in rows:
        rate = None if row["vat_rate"] is None else Decimal(row["vat_rate"]).normalize()
        credited[rate] = (row["excl"], row["vat"])
    remaining = []
    for subtotal in invoice.vat_subtotals.all():
        rate = None if subtotal.vat_rate is None else subtotal.vat_rate.normalize()
        excl, vat = credited.get(rate, (Decimal(0), Decimal(0)))
        remaining.append(Remaining(rate, quantize_money(subtotal.taxable_amount - excl, invoice.currency),
                                   quantize_money(subtotal.vat_amount - vat, invoice.currency)))
    return remaining


def invoice_remaining(invoice: Invoice) -> Decimal:
    """The amount incl. VAT that credit notes may still take from the invoice."""
    return quantize_money(invoice.total_incl_vat - (invoice.credit_notes.aggregate(s=Sum("total_incl_vat"))["s"]
                                                    or Decimal(0)), invoice.currency)


def _split_gross(gross: Decimal, rate: Decimal | None, limit: Remaining, currency: str) -> tuple[Decimal, Decimal]:
    """(excl., VAT) of a gross credit at one rate; the whole remainder when it takes all of it."""
    if gross == limit.amount_incl_vat:
        return limit.amount_excl_vat, limit.vat_amount
    excl, vat = vat_of_gross(gross, rate, currency)
    if excl > limit.amount_excl_vat:
        return limit.amount_excl_vat, gross - limit.amount_excl_vat
    return excl, vat


def _parts_by_net(net_by_rate: Mapping[Decimal | None, Decimal], remaining: list[Remaining],
                  currency: str) -> list[tuple[Remaining, Decimal, Decimal]]:
    """(rate, net, VAT) for credits given as net amounts per rate (a credit CDR: exactly its lines): each
    rate's VAT computed once on its net (BR-CO-17); all that remains at a rate takes its VAT as it stands, so
    credit notes never take a cent more than the invoice's VAT at that rate."""
    by_rate = {r.rate: r for r in remaining}
    parts = []
    for rate, net in net_by_rate.items():
        key = None if rate is None else Decimal(rate).normalize()
        limit = by_rate.get(key)
        net = Decimal(net)
        if net != quantize_money(net, currency) or net < 0:
            raise CreditNoteError(gettext("%(amount)s is not a whole, positive amount of %(currency)s minor units.") % {
                "amount": net, "currency": currency})
        if not net:
            continue
        if limit is None or net > limit.amount_excl_vat:
            left = limit.amount_excl_vat if limit else Decimal(0)
            raise CreditNoteError(gettext("%(amount)s %(currency)s at %(rate)s is above what remains on the invoice: "
                                          "%(left)s %(currency)s.") % {
                "amount": net, "currency": currency, "rate": rate_label(key), "left": left})
        vat = limit.vat_amount if net == limit.amount_excl_vat else min(
            vat_amount(net, key if key is not None else Decimal(0), currency), limit.vat_amount)
        parts.append((limit, net, vat))
    return parts


def credit_note_issue(*, invoice_id: int, reason: str, amount_incl_vat: Decimal | None = None,
                      net_by_rate: Mapping[Decimal | None, Decimal] | None = None, line_description: str = "",
                      refund: bool = False, session_id: int | None = None, now: datetime | None = None) -> CreditNote:
    """Credit `amount_incl_vat` (None: all that remains) of an issued or paid invoice; with `refund`, owe
    it back to the card (stored on the credit note, sent after the commit). `net_by_rate` credits exactly
    these net amounts per VAT rate instead (a roaming settlement's credit CDR), the VAT once per rate on them;
    `line_description` names what is credited on each line. `session_id` ties the credit note to the line of
    one session on the invoice (a dispute about it, a settlement's CDR), so the apps above can correct what
    they sent for that session (a roaming partner's CDR: `ocpi_app.cdrs.cdr_correct_for_credit_note`).

    Raises CreditNoteError, writing nothing, when the amount is not positive, not in whole minor
    units, above what remains on the invoice (per rate, for `net_by_rate`), or (with `refund`) above what
    its card payments can still give back, or when the invoice has no line of `session_id`."""
    now = now or timezone.now()
    with transaction.atomic():
        invoice = (Invoice.objects.select_for_update(of=("self",)).select_related("operator")
                   .get(pk=invoice_id))
        if invoice.state not in (Invoice.State.ISSUED, Invoice.State.PAID):
            refusal = (gettext("%(invoice)s is a draft: only issued or paid invoices take credit notes.")
                       if invoice.state == Invoice.State.DRAFT else
                       gettext("%(invoice)s is void: only issued or paid invoices take credit notes."))
            raise CreditNoteError(refusal % {"invoice": invoice})
        if session_id is not None and invoice.session_id != session_id and not invoice.lines.filter(
                session_id=session_id).exists():
            raise CreditNoteError(gettext("%(invoice)s has no line of that session.") % {"invoice": invoice})
        currency = invoice.currency
        remaining = invoice_remaining_by_rate(invoice)
        left = sum((r.amount_incl_vat for r in remaining), Decimal(0))
        by_net = None
        if net_by_rate is not None:
            if amount_incl_vat is not None or refund:
                raise CreditNoteError(gettext("Credit either net amounts per rate or an amount incl. VAT, without a "
                                              "refund."))
            by_net = _parts_by_net(net_by_rate, remaining, currency)
            amount_incl_vat = sum((net + vat for _, net, vat in by_net), Decimal(0))
        amount = left if amount_incl_vat is None else Decimal(amount_incl_vat)
        if amount != quantize_money(amount, currency):
            raise CreditNoteError(gettext("%(amount)s is not a whole amount of %(currency)s minor units.") % {
                "amount": amount, "currency": currency})
        if amount <= 0:
            raise CreditNoteError(gettext("Nothing to credit: %(amount)s %(currency)s (remaining %(left)s "
                                          "%(currency)s).") % {"amount": amount, "currency": currency, "left": left})
        if refund:
            refundable = invoice_refundable(invoice, lock=True)
            if refundable <= 0 and invoice_card_payments(invoice).filter(
                    status=Payment.Status.CAPTURED, stripe_payment_intent_id__isnull=True).exists():
                raise CreditNoteError(gettext("The card payments of %(invoice)s were recorded without Stripe (history "
                                              "such as the demo's older sessions): nothing can be refunded through "
                                              "Stripe; issue the credit note without a refund.") % {"invoice": invoice})
            if refundable <= 0:
                raise CreditNoteError(gettext("Nothing paid by card on %(invoice)s is left to refund; issue the credit "
                                              "note without a refund.") % {"invoice": invoice})
            if amount > refundable:
                raise CreditNoteError(gettext("At most %(amount)s %(currency)s was captured and not yet refunded.") % {
                    "amount": refundable, "currency": currency})
        if amount > left:
            raise CreditNoteError(gettext("%(amount)s %(currency)s is above what remains on %(invoice)s: %(left)s "
                                          "%(currency)s.") % {
                "amount": amount, "currency": currency, "invoice": invoice, "left": left})
        if by_net is not None:
            parts = by_net
        elif amount == left:
            parts = [(r, r.amount_excl_vat, r.vat_amount) for r in remaining if r.amount_incl_vat or r.vat_amount]
        else:
            open_rates = [r for r in remaining if r.amount_incl_vat > 0]
            shares = share_out(amount, [r.amount_incl_vat for r in open_rates], currency)
            parts = [(r, *_split_gross(share, r.rate, r, currency))
                     for r, share in zip(open_rates, shares, strict=True) if share]
        tz = operator_time_zone(invoice.operator_id)
        year = now.astimezone(tz).year
        sequence = number_take(operator_id=invoice.operator_id, year=year, kind=NumberSequence.Kind.CREDIT_NOTE)
        total_excl = sum((excl for _, excl, _ in parts), quantize_money(Decimal(0), currency))
        total_vat = sum((vat for _, _, vat in parts), quantize_money(Decimal(0), currency))
        note = CreditNote.objects.create(
            operator=invoice.operator, invoice=invoice, session_id=session_id, issued_at=now, reason=reason,
            currency=currency,
            number=number_format(prefix=invoice.operator.invoice_prefix, year=year, sequence=sequence,
                                 kind=NumberSequence.Kind.CREDIT_NOTE),
            number_year=year, number_sequence=sequence, seller=invoice.seller, buyer=invoice.buyer,
            language=reader_language(invoice),
            total_excl_vat=total_excl, total_vat=total_vat, total_incl_vat=total_excl + total_vat,
            refund_amount=total_excl + total_vat if refund else Decimal(0),
            refund_status=CreditNote.RefundStatus.PENDING if refund else CreditNote.RefundStatus.NONE,
        )
        CreditNoteLine.objects.bulk_create([
            CreditNoteLine(credit_note=note, position=position, vat_rate=r.rate,
                           description=f"{line_description or 'Credit on invoice ' + invoice.number} "
                                       f"({rate_label(r.rate)})"[:200],
                           amount_excl_vat=excl, vat_amount=vat, amount_incl_vat=excl + vat)
            for position, (r, excl, vat) in enumerate(parts, start=1)
        ])
        if refund:
            after_commit(credit_note_refund_send_task.delay, note.pk)
        after_commit(credit_note_issued.send, sender=CreditNote, credit_note=note, refund=refund)
        if not delivery_is_suppressed():
            after_commit(credit_note_pdf_render.delay, note.pk)
    return note
