"""Resolving a ticket: reject, refund, credit note or re-price, through the resolver of the kind;
the amount is checked here and the outcome recorded once."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing_app.models import SessionCharge
from billing_app.money import MINOR_UNITS, quantize_money
from sessions_app.models import User

from .. import notifications, sla, workflow
from ..models import DisputeTicket
from ..selectors import can_handle
from ..signals import dispute_resolved
from .resolutions import RESOLVERS, ResolutionError
from .tickets import DisputeError, DisputeNotFound, _locked, _move

Status = DisputeTicket.Status
Kind = DisputeTicket.ResolutionKind
STAFF_RESOLUTION_KINDS = (Kind.REJECT, Kind.REFUND, Kind.CREDIT_NOTE, Kind.REPRICE)


def _currency(ticket: DisputeTicket) -> str:
    charge = SessionCharge.objects.filter(session_id=ticket.session_id).first() if ticket.session_id else None
    return charge.currency if charge else ticket.operator.default_currency


_DIGITS = {1: gettext_lazy("The amount has at most one decimal place."),
           2: gettext_lazy("The amount has at most two decimal places."),
           3: gettext_lazy("The amount has at most three decimal places.")}


def _check_amount(kind: str, amount: Decimal | None, currency: str) -> Decimal | None:
    """The resolution's amount, checked against the kind and the currency's minor unit (cents for EUR,
    whole yen for JPY, thousandths for KWD)."""
    if kind == Kind.REJECT:
        if amount is not None:
            raise DisputeError(_("A rejection has no amount."))
        return None
    if amount is None:
        if kind == Kind.REPRICE:
            return None
        raise DisputeError(_("A resolution by %(kind)s needs an amount.") % {"kind": Kind(kind).label})
    if amount <= 0:
        raise DisputeError(_("The amount must be positive."))
    if amount != quantize_money(amount, currency):
        digits = MINOR_UNITS[currency]
        raise DisputeError(str(_DIGITS[digits]) if digits
                           else _("The amount is in whole %(currency)s.") % {"currency": currency})
    return amount


@transaction.atomic
def ticket_resolve(
    *,
    ticket: DisputeTicket,
    by: User,
    kind: str,
    explanation: str = "",
    amount: Decimal | None = None,
    details: dict | None = None,
    now: datetime | None = None,
) -> DisputeTicket:
    """Resolve a ticket in progress by rejecting it or through the billing resolver of `kind`
    (`resolutions.RESOLVERS`), then tell the driver.

    The resolver runs in this transaction after the ticket is locked: when it refuses (an amount
    above what was captured, a kind without a resolver) nothing is written. Its idempotency key is
    stable per ticket, reopen round and kind, so a retried resolution refunds once.
    """
    now = now or timezone.now()
    ticket = _locked(ticket)
    if not can_handle(by, ticket):
        raise DisputeNotFound(_("No such ticket."))
    if kind not in STAFF_RESOLUTION_KINDS:
        raise DisputeError(f"{kind!r} is not a resolution.")
    if not workflow.is_allowed(ticket.status, Status.RESOLVED):
        raise DisputeError(workflow.refusal(ticket.status, Status.RESOLVED))
    currency = _currency(ticket)
    amount = _check_amount(kind, amount, currency)
    try:
        resolver = RESOLVERS.get(kind)
        if resolver is None:
            raise ResolutionError(_("Resolving by %(kind)s is not available.") % {"kind": Kind(kind).label})
        reference = resolver(
            ticket=ticket, amount=amount, currency=currency, explanation=explanation.strip(),
            details=details or {}, by=by, idempotency_key=f"dispute-{ticket.pk}-{ticket.reopen_count}-{kind}",
        )
    except ResolutionError as error:
        raise DisputeError(str(error)) from error
    _finish(ticket, by=by, now=now, kind=kind, explanation=explanation.strip(), amount=amount, currency=currency,
            reference=reference or {})
    return ticket


def _finish(ticket: DisputeTicket, *, by: User | None, now: datetime, kind: str, explanation: str,
            amount: Decimal | None, currency: str, reference: dict) -> None:
    amount_note = f" {amount} {currency}" if amount is not None else ""
    _move(ticket, to_status=Status.RESOLVED, by=by, now=now, note=f"{kind}{amount_note}: {explanation}".strip())
    ticket.resolved_at = now
    ticket.resolution_kind = kind
    ticket.resolution_explanation = explanation
    ticket.resolution_amount = amount
    ticket.resolution_currency = currency if amount is not None else ""
    ticket.resolution_reference = reference
    ticket.resolution_breached = ticket.resolution_breached or sla.resolution_missed(ticket, now=now)
    ticket.save()
    dispute_resolved.send(sender=DisputeTicket, ticket=ticket)
    notifications.ticket_resolved(ticket)
