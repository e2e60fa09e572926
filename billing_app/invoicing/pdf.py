"""Invoice and credit note PDFs: `templates/billing/invoice.html` rendered by WeasyPrint, in the language the
document was issued in (`language`, recorded at issue from the reader's; blank on documents issued before: the
default language). Lines keep their stored English descriptions; `line_description` says them in that language.

Rendering is deterministic, so regenerating an issued document gives the same bytes (and SHA-256):
the HTML holds nothing but the frozen document (dates are the issue date, never "now"), the PDF
metadata dates come from the issue date, the PDF identifier is the document number, and the font
subsets' timestamps come from SOURCE_DATE_EPOCH (fontTools reads it; fixed here unless the
environment sets it).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import OrderedDict
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_decimal
from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, pgettext

from billing_app.companies.statement import (
    NO_COST_CENTRE,
    is_company_statement,
    session_list_name,
    statement_layout,
)
from billing_app.invoicing.vat_categories import (
    STANDARD,
    document_treatment,
    vat_category,
)
from billing_app.models import CreditNote, Invoice, Payment
from billing_app.money import format_money, format_percent, format_quantity, format_rate
from evbilling.languages import babel_locale
from sessions_app.local_time import format_local_date, format_local_time
from sessions_app.models import ChargingSession, MeterSignatureCheck
from sessions_app.selectors import operator_time_zone

FIXED_SOURCE_DATE_EPOCH = "1767225600"  # 2026-01-01T00:00:00Z: font subset timestamps only


def money(amount: Decimal, currency: str) -> str:
    """An amount as documents and their e-mails print it: `billing_app.money.format_money`."""
    return format_money(amount, currency)


def _quantity(value: Decimal) -> str:
    """Quantities as the document states them (`11`, `0.25`), in the reader's locale, nothing rounded away."""
    exponent = value.normalize().as_tuple().exponent
    return format_quantity(value, max(0, -exponent) if isinstance(exponent, int) else 0)


def _rate(rate) -> str:
    return "-" if rate is None else format_percent(rate)


# The engine's line labels (`lines.LABELS`), spelled out so makemessages finds them.
_LINE_TEXTS = (gettext_noop("Energy"), gettext_noop("Charging time"), gettext_noop("Parking / idle time"),
               gettext_noop("Session fee"), gettext_noop("Reservation fee"), gettext_noop("Reservation time"),
               gettext_noop("Minimum price adjustment"), gettext_noop("Maximum price cap"),
               # a plan's reductions, labelled from their kind (`lines.lines_from_breakdown`)
               gettext_noop("Plan included energy"), gettext_noop("Plan discount energy"),
               gettext_noop("Plan discount time"), gettext_noop("Plan waived flat"),
               gettext_noop("Plan waived parking"), gettext_noop("Plan floor"))
_DISPUTE_REASON = re.compile(r"^Dispute #(?P<number>\d+): (?P<text>.*)$", re.S)
_UNITS = {"h": gettext_noop("h"), "session": gettext_noop("session"), "reservation": gettext_noop("reservation"),
          "month": gettext_noop("month"), "year": gettext_noop("year"), "unit": gettext_noop("unit")}
_RATED = re.compile(r"^(?P<head>.+) \((?P<rate>no VAT|VAT (?P<percent>\d+(?:\.\d+)?) %)\)$")
_CREDIT = re.compile(r"^Credit on invoice (?P<number>\S+)$")
_PERIOD = re.compile(r"^(?P<plan>.+): (?P<start>\d{4}-\d{2}-\d{2}) to (?P<end>\d{4}-\d{2}-\d{2})$")


def vat_rate_label(rate: Decimal | None) -> str:
    """`lines.rate_label` in the active language: "VAT 19 %" / "USt. 19 %", "no VAT"."""
    if rate is None:
        return gettext("no VAT")
    return gettext("VAT %(rate)s %%") % {"rate": format_decimal(Decimal(rate).normalize(), locale=babel_locale())}


def line_description(text: str) -> str:
    """A stored line description (English, as the engine's labels, credit notes and plan fees write them) in the
    active language; a text it does not know (a name the operator typed) stays as it is, and so does every text in
    English (the language it is stored in), so an English document reads exactly as it always did."""
    if (translation.get_language() or "en").startswith("en"):
        return text
    rated = _RATED.match(text)
    head = rated["head"] if rated else text
    if head in _LINE_TEXTS:
        head = gettext(head)
    elif credit := _CREDIT.match(head):
        head = gettext("Credit on invoice %(number)s") % {"number": credit["number"]}
    elif period := _PERIOD.match(head):
        head = gettext("%(plan)s: %(start)s to %(end)s") % {
            "plan": period["plan"], "start": format_date(date.fromisoformat(period["start"]), locale=babel_locale()),
            "end": format_date(date.fromisoformat(period["end"]), locale=babel_locale())}
    if not rated:
        return head
    return f"{head} ({vat_rate_label(None if rated['percent'] is None else Decimal(rated['percent']))})"


def credit_reason(reason: str) -> str:
    """A credit note's stored reason; the one a dispute's resolution writes ("Dispute #12: ...") in the document's
    language."""
    if match := _DISPUTE_REASON.match(reason or ""):
        return gettext("Dispute #%(number)s: %(text)s") % {"number": match["number"], "text": match["text"]}
    return reason


def _unit(unit: str) -> str:
    return gettext(_UNITS[unit]) if unit in _UNITS else unit


def _line_row(line, currency: str) -> dict:
    return {
        "description": line_description(line.description),
        "quantity": _quantity(line.quantity) if hasattr(line, "quantity") else "",
        "unit": _unit(getattr(line, "unit", "")),
        "unit_price": format_rate(line.unit_price, currency) if hasattr(line, "unit_price") else "",
        "vat_rate": _rate(line.vat_rate),
        "excl": money(line.amount_excl_vat, currency),
        "vat": money(line.vat_amount, currency),
        "incl": money(line.amount_incl_vat, currency),
    }


def _session_groups(lines: list, currency: str) -> list[dict]:
    """Lines grouped per charging session (in order), with the session's detail as a heading."""
    ids = {line.session_id for line in lines if line.session_id}
    sessions = {s.pk: s for s in ChargingSession.objects.filter(pk__in=ids)
                .select_related("connector__station__location")}
    signed = dict(MeterSignatureCheck.objects.filter(session_id__in=ids, status=MeterSignatureCheck.Status.VERIFIED)
                  .values_list("session_id", "meter_serial"))
    groups: OrderedDict = OrderedDict()
    for line in lines:
        groups.setdefault(line.session_id, []).append(line)
    result = []
    for session_id, group in groups.items():
        session = sessions.get(session_id)
        heading = ""
        if session is not None:
            location = session.connector.station.location
            tz = ZoneInfo(location.time_zone)
            start = timezone.localtime(session.started_at, tz)
            stop = timezone.localtime(session.stopped_at, tz)
            minutes = int((session.stopped_at - session.started_at).total_seconds() // 60)
            heading = gettext("Session %(number)s · %(day)s %(start)s to %(stop)s (%(zone)s) · %(place)s · "
                              "%(connector)s · %(energy)s kWh · %(hours)s h %(minutes)s min") % {
                "number": session.pk, "day": format_local_date(start, tz), "start": format_local_time(start, tz),
                "stop": format_local_time(stop, tz), "zone": location.time_zone,
                "place": f"{location.name}, {location.city}",
                "connector": session.connector,
                "energy": format_quantity(session.energy_kwh), "hours": minutes // 60,
                "minutes": f"{minutes % 60:02d}"}
            if session_id in signed:
                heading += " · " + gettext("signed by meter %(serial)s, verified") % {"serial": signed[session_id]}
        result.append({"heading": heading, "rows": [_line_row(line, currency) for line in group],
                       "signed": session_id in signed})
    return result


def _sums_row(label: str, sums, currency: str) -> dict:
    return {"label": gettext(label) if label == NO_COST_CENTRE else label, "sessions": sums.sessions,
            "kwh": format_quantity(sums.energy_kwh, 3),
            "excl": money(sums.excl, currency), "vat": money(sums.vat, currency), "incl": money(sums.incl, currency)}


def company_context(invoice: Invoice, lines: list) -> dict:
    """The consolidated statement's sections (`companies.statement`): subtotals per cost centre and per driver,
    a row per session unless there are more than the company's limit, plan fees, the month's credit notes."""
    currency = invoice.currency
    layout = statement_layout(invoice, lines)
    return {
        "cost_centres": [_sums_row(name, sums, currency) for name, sums in layout.cost_centres],
        "drivers": [_sums_row(name, sums, currency) for name, sums in layout.drivers],
        "sessions": [] if layout.summary_only else [{
            "id": row.session.pk, "when": f"{format_local_date(row.local_start, row.local_start.tzinfo)} "
                                          f"{format_local_time(row.local_start, row.local_start.tzinfo)}",
            "driver": row.driver,
            "card": row.card + (f" · {row.plate}" if row.plate else ""), "cost_centre": row.cost_centre,
            "location": row.session.connector.station.location.name,
            "kwh": format_quantity(row.sums.energy_kwh, 3),
            "excl": money(row.sums.excl, currency), "incl": money(row.sums.incl, currency),
        } for row in layout.sessions],
        "session_count": len(layout.sessions),
        "summary_only": layout.summary_only,
        "limit": layout.limit,
        "session_list": session_list_name(invoice),
        "other_rows": [_line_row(line, currency) for line in layout.other_lines],
        "credit_notes": [{"number": note.number, "invoice": note.invoice.number, "reason": note.reason,
                          "date": note.issued_at, "incl": money(note.total_incl_vat, note.currency)}
                         for note in layout.credit_notes],
    }


def _vat_rows(document: Invoice | CreditNote, lines: list, currency: str) -> list[dict]:
    """The VAT summary per rate (rate, taxable amount, VAT, gross), as the document stores it: an
    invoice's per-rate rows (VAT per rate, EN 16931 BR-CO-17; for an invoice issued before, the sums
    of its lines as issued), a credit note's lines (one per rate)."""
    if isinstance(document, CreditNote):
        rows = [(line.vat_rate, line.amount_excl_vat, line.vat_amount) for line in lines]
    else:
        rows = [(row.vat_rate, row.taxable_amount, row.vat_amount) for row in document.vat_subtotals.all()]
    standard, buyer = document_treatment(document.buyer) == STANDARD, document.buyer
    return [{"label": vat_rate_label(rate) if standard else _category_label(vat_category(rate, buyer=buyer)),
             "excl": money(excl, currency), "vat": money(vat, currency),
             "incl": money(excl + vat, currency)} for rate, excl, vat in rows]


# `vat_categories`' own texts (REVERSE_CHARGE_REASON, NO_VAT_REASON and the labels), spelled out for makemessages.
_CATEGORY_TEXTS = (
    gettext_noop("Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC; "
                 "Steuerschuldnerschaft des Leistungsempfängers, §13b UStG)"),
    gettext_noop("Not subject to VAT"), gettext_noop("Exempt from VAT"), gettext_noop("Reverse charge"),
    gettext_noop("Exempt"))


def category_text(text: str) -> str:
    """A label or reason of `vat_categories` in the active language; a reason the operator typed stays as typed."""
    return gettext(text) if text in _CATEGORY_TEXTS else text


def _category_label(category) -> str:
    return category_text(category.label)


def _vat_note(document: Invoice | CreditNote) -> str:
    """Why a reverse-charged or exempt document carries no VAT (the law asks the invoice to say so, with both VAT
    ids for reverse charge: Art. 226 (11a) Directive 2006/112/EC, §14a(5) UStG)."""
    if document_treatment(document.buyer) == STANDARD:
        return ""
    category = vat_category(None, buyer=document.buyer)
    note = category_text(category.reason) + (f" ({category.reason_code})" if category.reason_code else "") + "."
    if category.code == "AE":
        note += " " + gettext("Supplier's VAT id %(seller)s, recipient's VAT id %(buyer)s.") % {
            "seller": (document.seller or {}).get("vat_id", ""), "buyer": (document.buyer or {}).get("vat_id", "")}
    return note


def receipt_charged_on(receipt: Invoice):
    """When the session's card payments captured before the receipt's issue instant came to cover it (the last
    such capture), or None: fixed at issue (a capture is final and keeps its `settled_at`), so every render of the
    receipt and its e-invoice says the same; a capture after issue (a declined card's retry) does not count."""
    captured = list(Payment.objects.filter(session_id=receipt.session_id, kind__in=Payment.SESSION_KINDS,
                                           status=Payment.Status.CAPTURED, settled_at__lte=receipt.issued_at)
                    .values_list("amount_captured", "settled_at")) if receipt.session_id else []
    if captured and sum((amount for amount, _at in captured), Decimal(0)) >= receipt.total_incl_vat:
        return max(at for _amount, at in captured)
    return None


def receipt_payment_note(receipt: Invoice) -> str:
    """What the receipt says of its payment: "charged on <date>" when `receipt_charged_on` finds it covered at
    issue; otherwise the amount is due and the card will be charged (captured later, declined and waiting for
    its retry, or never held)."""
    charged = receipt_charged_on(receipt)
    if charged is not None:
        tz = operator_time_zone(receipt.operator_id)
        return gettext("Charged to your payment method on file on %(date)s for this session.") % {
            "date": format_local_date(charged.astimezone(tz), tz)}
    return gettext("Payment due: we will charge your payment method on file for this session.")


def document_context(document: Invoice | CreditNote) -> dict:
    currency = document.currency
    lines = list(document.lines.all())
    issued_local = timezone.localtime(document.issued_at, operator_time_zone(document.operator_id))
    company = None
    if isinstance(document, CreditNote):
        title, groups = gettext("Credit note"), [{"heading": "", "rows": [_line_row(line, currency) for line in lines]}]
    elif is_company_statement(document):
        title, groups, company = gettext("Invoice"), [], company_context(document, lines)
    else:
        title = gettext("Receipt") if document.kind == Invoice.Kind.RECEIPT else gettext("Invoice")
        groups = _session_groups(lines, currency)
    return {
        "company": company,
        "document": document,
        "page_word": pgettext("page footer: page 1 of 2", "page"),
        "of_word": pgettext("page footer: page 1 of 2", "of"),
        "title": title,
        "is_credit_note": isinstance(document, CreditNote),
        "reason": credit_reason(document.reason) if isinstance(document, CreditNote) else "",
        "payment_note": receipt_payment_note(document) if getattr(document, "kind", "") == Invoice.Kind.RECEIPT
        else "",
        "seller": document.seller,
        "buyer": document.buyer,
        "issue_date": issued_local.date(),
        "metadata_date": document.issued_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "groups": groups,
        "meter_signed": any(group.get("signed") for group in groups),
        "vat_rows": _vat_rows(document, lines, currency),
        "vat_per_rate": getattr(document, "vat_per_rate", True),
        "vat_note": _vat_note(document),
        "total_excl": money(document.total_excl_vat, currency),
        "total_vat": money(document.total_vat, currency),
        "total_incl": money(document.total_incl_vat, currency),
    }


def document_language(document: Invoice | CreditNote) -> str:
    """The language the document was issued in (the default language for one issued before this was recorded)."""
    return document.language or settings.LANGUAGE_CODE


def document_html(document: Invoice | CreditNote) -> str:
    """The document in the operator's time zone and the language it was issued in, so a re-render is identical
    whatever the reader chose since."""
    with translation.override(document_language(document)), \
            timezone.override(operator_time_zone(document.operator_id)):
        return render_to_string("billing/invoice.html", document_context(document))


def html_to_pdf(html: str, *, identifier: bytes, pdf_variant: str | None = None) -> bytes:
    """WeasyPrint with reproducible output (see module docstring); `pdf_variant="pdf/a-3b"` for a PDF/A-3 that
    can carry an e-invoice (Factur-X)."""
    from weasyprint import HTML  # imported late: ~1 s, and only workers render

    os.environ.setdefault("SOURCE_DATE_EPOCH", FIXED_SOURCE_DATE_EPOCH)
    for noisy in ("fontTools", "weasyprint.progress"):  # INFO logs every glyph and every step
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf(pdf_identifier=identifier,
                                                                        pdf_variant=pdf_variant)


def document_pdf(document: Invoice | CreditNote, *, pdf_a: bool = False) -> bytes:
    """The PDF of an issued invoice or a credit note; the same bytes every time. `pdf_a`: as PDF/A-3b, the base
    of its Factur-X e-invoice (`invoicing.einvoice`)."""
    if not document.number:
        raise ValueError(f"{document} is a draft: drafts have no PDF.")
    return html_to_pdf(document_html(document), identifier=document.number.encode(),
                       pdf_variant="pdf/a-3b" if pdf_a else None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
