"""CDRs module, Sender side (mod_cdrs): one CDR per priced roaming session, built by billing's own
`cdr_for_charge` (the figures the engine priced, the tariff the partner is shown), stored as issued
(`CdrRecord`) and POSTed to the partner's cdrs receiver; pulled with GET (paginated, date filters).

CDRs are never edited. When a priced session is corrected (re-priced after a review or a dispute), the CDR
sent is cancelled by a credit CDR (`credit: true`, `credit_reference_id`, every cost negated) and a new CDR with
the corrected figures follows. The partner's receiver answering 2xx/1000 marks a CDR acknowledged; a partner
without a cdrs receiver pulls it (`sent`).
"""
from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing_app.invoicing.lines import lines_from_breakdown
from billing_app.models import CreditNote, Invoice, SessionCharge
from billing_app.money import quantize_money, share_out, vat_breakdown
from billing_app.pricing import ocpi
from billing_app.tariffs.cdr import cdr_for_charge

from .models import CdrRecord, PartnerToken
from .push import push_enqueue
from .sessions import token_party

logger = logging.getLogger(__name__)

_COST_KEYS = ("total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
              "total_reservation_cost")


def _negated(cdr: dict[str, Any]) -> dict[str, Any]:
    credit = dict(cdr)
    for key in _COST_KEYS:
        if key in credit and credit[key] is not None:
            credit[key] = {k: -Decimal(v) for k, v in credit[key].items()}
    return credit


def _roaming_cdr(charge: SessionCharge, token: PartnerToken, cdr_id: str) -> dict[str, Any]:
    cdr = cdr_for_charge(charge)
    cdr["id"] = cdr_id
    country_code, _, party_id = token_party(token).partition("*")
    cdr["cdr_token"] = {"country_code": country_code, "party_id": party_id,
                        "uid": token.uid, "type": token.type, "contract_id": token.contract_id}
    cdr["last_updated"] = ocpi.format_datetime_seconds(timezone.now())
    return cdr


def rate_key(rate: Decimal | None) -> str:
    """A VAT rate as a key of `CdrRecord.net_by_rate` ('' where no VAT applies)."""
    return "" if rate is None else format(Decimal(rate).normalize(), "f")


def charge_net_by_rate(charge: SessionCharge) -> dict[str, str]:
    """The charge's net amount per VAT rate: the sum of its invoice lines at each rate, each rounded once
    (the lines a receipt of it would have), so a settlement's VAT per rate starts from the CDR's own figures."""
    sums: dict[str, Decimal] = {}
    for line in lines_from_breakdown(charge.breakdown, currency=charge.currency):
        key = rate_key(line.vat_rate)
        sums[key] = sums.get(key, Decimal(0)) + line.amount_excl_vat
    return {key: str(value) for key, value in sums.items()}


def _issue(*, token: PartnerToken, session_id: int, cdr: dict[str, Any], kind: str, net_by_rate: dict[str, str],
           credit_reference: CdrRecord | None = None) -> CdrRecord:
    record = CdrRecord.objects.create(net_by_rate=net_by_rate,
        partner=token.partner, session_id=session_id, cdr_id=cdr["id"], kind=kind, credit_reference=credit_reference,
        currency=cdr["currency"], total_excl_vat=cdr["total_cost"]["excl_vat"],
        total_incl_vat=cdr["total_cost"].get("incl_vat", cdr["total_cost"]["excl_vat"]), body=ocpi.dumps(cdr),
        last_updated=ocpi.parse_datetime(cdr["last_updated"], "last_updated"))
    push = push_enqueue(partner=token.partner, module="cdrs", object_id=record.cdr_id, method="POST", path="", body=cdr,
                        to_party=token_party(token))
    record.push = push
    record.state = CdrRecord.State.PENDING if push else CdrRecord.State.SENT
    record.save(update_fields=["push", "state"])
    return record


@transaction.atomic
def cdr_issue_for_charge(*, charge_id: int) -> list[CdrRecord]:
    """Issue the CDR of a priced roaming session; for a charge whose figures changed since its last CDR, a
    credit CDR and a new one. Nothing for a session that is not a partner's, or whose CDR is current.
    Idempotent: a second call with the same figures issues nothing."""
    charge = SessionCharge.objects.select_related("session__id_token").filter(pk=charge_id).first()
    token = (PartnerToken.objects.select_related("partner").filter(id_token_id=charge.session.id_token_id).first()
             if charge and charge.session.id_token_id else None)
    if token is None or (getattr(charge, "review", None) is not None and not _review_done(charge)):
        return []
    live = (CdrRecord.objects.select_for_update(of=("self",))
            .filter(session_id=charge.session_id, kind=CdrRecord.Kind.CDR, credited_by__isnull=True).first())
    if live is not None and (live.total_excl_vat, live.total_incl_vat) == (charge.total_excl_vat,
                                                                           charge.total_incl_vat):
        return []
    issued = []
    base = f"{charge.session.operator.invoice_prefix}-CDR-{charge.session_id}"
    count = CdrRecord.objects.filter(session_id=charge.session_id).count()
    if live is not None:
        credit = _negated(ocpi.loads(live.body))
        credit.update(id=f"{base}-C{count}", credit=True, credit_reference_id=live.cdr_id,
                      last_updated=ocpi.format_datetime_seconds(timezone.now()))
        issued.append(_issue(token=token, session_id=charge.session_id, cdr=credit, kind=CdrRecord.Kind.CREDIT,
                             credit_reference=live, net_by_rate={key: str(-Decimal(net)) for key, net
                                                                 in live.net_by_rate.items()}))
    cdr_id = base if count == 0 else f"{base}-R{count + 1}"
    issued.append(_issue(token=token, session_id=charge.session_id, cdr=_roaming_cdr(charge, token, cdr_id),
                         kind=CdrRecord.Kind.CDR, net_by_rate=charge_net_by_rate(charge)))
    return issued


def _review_done(charge: SessionCharge) -> bool:
    return charge.review.status != "held"



def _live_on_invoice(invoice_id: int):
    """The CDRs whose amounts an invoice holds now: the CDRs on it and the corrected CDRs that credit notes on it
    settled, none cancelled since."""
    return (CdrRecord.objects.select_for_update(of=("self",)).select_related("partner", "session__operator")
            .filter(Q(invoice_id=invoice_id) | Q(credit_note__invoice_id=invoice_id), kind=CdrRecord.Kind.CDR,
                    credited_by__isnull=True).order_by("last_updated", "pk"))


def _takes_all_that_remained(note: CreditNote) -> bool:
    earlier = (CreditNote.objects.filter(invoice_id=note.invoice_id, pk__lt=note.pk)
               .aggregate(total=Sum("total_incl_vat"))["total"] or Decimal(0))
    return note.invoice.total_incl_vat - earlier - note.total_incl_vat <= 0


def _correct(*, live: CdrRecord, credited_net: Decimal, note: CreditNote) -> list[CdrRecord]:
    """A credit CDR cancelling `live` and, when anything is left of it, a corrected CDR for the rest."""
    token = PartnerToken.objects.select_related("partner").filter(id_token_id=live.session.id_token_id).first()
    if token is None:
        logger.warning("CDR %s has no partner token any more: no OCPI correction sent for %s", live.cdr_id, note)
        return []
    session_id = live.session_id
    base = f"{live.session.operator.invoice_prefix}-CDR-{session_id}"
    count = CdrRecord.objects.filter(session_id=session_id).count()
    now = ocpi.format_datetime_seconds(timezone.now())
    credit = _negated(ocpi.loads(live.body))
    credit.update(id=f"{base}-C{count}", credit=True, credit_reference_id=live.cdr_id, last_updated=now)
    issued = [_issue(token=token, session_id=session_id, cdr=credit, kind=CdrRecord.Kind.CREDIT, credit_reference=live,
                     net_by_rate={key: str(-Decimal(net)) for key, net in live.net_by_rate.items()})]
    remaining = quantize_money(live.total_excl_vat - credited_net, live.currency)
    if remaining > 0:
        keys = sorted(live.net_by_rate)
        nets = share_out(remaining, [Decimal(live.net_by_rate[key]) for key in keys], live.currency)
        net_by_rate = {key: str(net) for key, net in zip(keys, nets, strict=True)}
        vat = vat_breakdown(((None if key == "" else Decimal(key), net) for key, net in zip(keys, nets, strict=True)),
                            live.currency)
        corrected = {key: value for key, value in ocpi.loads(live.body).items() if key not in _COST_KEYS}
        corrected.update(id=f"{base}-R{count + 1}", last_updated=now, total_cost={"excl_vat": vat.net,
                                                                                    "incl_vat": vat.gross},
                         remark=f"Corrected by credit note {note.number} on invoice {note.invoice.number}"[:255])
        issued.append(_issue(token=token, session_id=session_id, cdr=corrected, kind=CdrRecord.Kind.CDR,
                             net_by_rate=net_by_rate))
    return issued


@transaction.atomic
def cdr_correct_for_credit_note(*, credit_note_id: int) -> list[CdrRecord]:
    """Every credit note on a settlement invoice that reduces a CDR's line reaches the partner the OCPI way,
    whoever issued it (a dispute's resolution, staff in the admin): a credit CDR cancelling that CDR and a
    corrected CDR with the credited net taken off (shared over the CDR's VAT rates in proportion, VAT per rate
    on the rest; `remark` names the credit note). Which CDR: the one of the credit note's session
    (`CreditNote.session`); a credit note that takes all that remained on the invoice cancels every CDR the
    invoice still holds, with no corrected CDRs. All are settled by that credit note (`credit_note`), so none is
    invoiced or credited again.

    Idempotent per credit note (its row is locked, and a note with CDRs has had its correction). Nothing for a
    credit note settling a credit CDR (it has its CDR already), one tied to no CDR (a partial credit on the
    invoice as a whole: logged, see docs/ocpi.md), or one crediting more than its CDR."""
    note = (CreditNote.objects.select_for_update(of=("self",)).select_related("invoice")
            .filter(pk=credit_note_id, invoice__kind=Invoice.Kind.SETTLEMENT).first())
    if note is None or CdrRecord.objects.filter(credit_note=note).exists():
        return []
    live = _live_on_invoice(note.invoice_id)
    if note.session_id is not None:
        targets = [(cdr, note.total_excl_vat) for cdr in live.filter(session_id=note.session_id)[:1]]
    elif _takes_all_that_remained(note):
        targets = [(cdr, cdr.total_excl_vat) for cdr in live]
    else:
        logger.warning("credit note %s on %s is tied to no CDR: no OCPI correction sent", note, note.invoice)
        return []
    issued = []
    for cdr, credited_net in targets:
        if credited_net > cdr.total_excl_vat:
            logger.warning("credit note %s credits more than CDR %s: no OCPI correction sent", note, cdr.cdr_id)
            continue
        issued += _correct(live=cdr, credited_net=credited_net, note=note)
    CdrRecord.objects.filter(pk__in=[record.pk for record in issued]).update(credit_note=note)
    return issued


def cdr_corrections_sweep(*, days: int = 35) -> int:
    """The settlement credit notes of the last `days` days whose OCPI correction a lost after-commit hook left
    unsent: each corrected now (`cdr_correct_for_credit_note`, idempotent). Returns how many CDRs were issued."""
    since = timezone.now() - timedelta(days=days)
    notes = (CreditNote.objects.filter(invoice__kind=Invoice.Kind.SETTLEMENT, issued_at__gte=since,
                                       ocpi_cdrs__isnull=True).values_list("pk", flat=True).order_by("pk"))
    return sum(len(cdr_correct_for_credit_note(credit_note_id=pk)) for pk in notes)
