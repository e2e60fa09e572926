"""Stripe chargebacks: a ticket opened from the dispute webhook and updated as the card issuer decides."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sessions_app.models import ChargingSession, Operator, User

from .. import notifications
from ..models import DisputeTicket
from .resolving import _finish
from .tickets import DisputeError, _create, _move, _system_note

Status = DisputeTicket.Status
Kind = DisputeTicket.ResolutionKind
CHARGEBACK_CLOSED = {"won", "lost", "warning_closed"}
CHARGEBACK_OUTCOMES = {
    "won": "The card issuer decided in the operator's favour: the charge stands.",
    "lost": "The card issuer decided in the cardholder's favour: the amount was returned to the card.",
    "warning_closed": "The card issuer closed its inquiry without a chargeback.",
}


@transaction.atomic
def ticket_open_from_chargeback(
    *,
    operator: Operator,
    driver: User | None,
    session: ChargingSession | None,
    payment_id: int,
    stripe_dispute_id: str,
    amount: Decimal,
    currency: str,
    evidence_due_by: datetime | None,
    status: str = "needs_response",
    now: datetime | None = None,
) -> DisputeTicket:
    """The ticket for a Stripe dispute (charge.dispute.created). Idempotent per `stripe_dispute_id`:
    a repeated event returns the ticket already there. A ticket the driver already opened about the
    same session's payment is linked to the chargeback instead of doubled."""
    now = now or timezone.now()
    existing = DisputeTicket.objects.filter(stripe_dispute_id=stripe_dispute_id).first()
    if existing is not None:
        return existing
    if session is not None and session.operator_id != operator.pk:
        raise DisputeError(_("The session belongs to another operator than the payment."))
    chargeback = {"payment_id": payment_id, "stripe_dispute_id": stripe_dispute_id, "chargeback_amount": amount,
                  "chargeback_currency": currency, "evidence_due_by": evidence_due_by, "chargeback_status": status}
    note = (f"Stripe chargeback {stripe_dispute_id} on payment {payment_id}: {amount} {currency}, "
            f"evidence due by {evidence_due_by:%Y-%m-%d %H:%M} UTC." if evidence_due_by else
            f"Stripe chargeback {stripe_dispute_id} on payment {payment_id}: {amount} {currency}.")
    linked = None
    if session is not None:
        linked = (DisputeTicket.objects.select_for_update()
                  .filter(session=session, reason=DisputeTicket.Reason.PAYMENT_PROBLEM,
                          status__in=DisputeTicket.ACTIVE_STATUSES, stripe_dispute_id__isnull=True).first())
    try:
        with transaction.atomic():
            if linked is not None:
                for field, value in chargeback.items():
                    setattr(linked, field, value)
                linked.save(update_fields=list(chargeback))
                ticket = linked
            else:
                ticket = _create(operator=operator, driver=driver, session=session,
                                 reason=DisputeTicket.Reason.PAYMENT_PROBLEM, source=DisputeTicket.Source.CHARGEBACK,
                                 opened_by=None, now=now, subject=f"Chargeback on payment {payment_id}", **chargeback)
    except (IntegrityError, DisputeError):
        # a concurrent delivery of the same event won the race; anything else is a real refusal
        raced = DisputeTicket.objects.filter(stripe_dispute_id=stripe_dispute_id).first()
        if raced is None:
            raise
        return raced
    _system_note(ticket, note, now)
    notifications.chargeback_opened(ticket)
    return ticket


@transaction.atomic
def ticket_update_from_chargeback(
    *,
    stripe_dispute_id: str,
    status: str,
    evidence_due_by: datetime | None = None,
    now: datetime | None = None,
) -> DisputeTicket | None:
    """Follow a Stripe dispute (charge.dispute.updated / closed): its status and evidence deadline;
    a closed dispute (won, lost, warning_closed) resolves the ticket and tells the driver. Returns
    None for a dispute we have no ticket for; a repeated event changes nothing."""
    now = now or timezone.now()
    ticket = (DisputeTicket.objects.select_for_update(of=("self",)).select_related("operator", "driver")
              .filter(stripe_dispute_id=stripe_dispute_id).first())
    if ticket is None:
        return None
    due = evidence_due_by or ticket.evidence_due_by
    if ticket.chargeback_status == status and due == ticket.evidence_due_by:
        return ticket
    ticket.chargeback_status, ticket.evidence_due_by = status, due
    ticket.save(update_fields=["chargeback_status", "evidence_due_by"])
    _system_note(ticket, f"Stripe dispute {stripe_dispute_id} is now {status}.", now)
    if status in CHARGEBACK_CLOSED and ticket.is_active:
        if ticket.status != Status.IN_PROGRESS:
            _move(ticket, to_status=Status.IN_PROGRESS, by=None, now=now, note=f"Stripe dispute {status}")
        _finish(ticket, by=None, now=now, kind=Kind.CHARGEBACK, explanation=CHARGEBACK_OUTCOMES[status],
                amount=ticket.chargeback_amount if status == "lost" else None,
                currency=ticket.chargeback_currency, reference={"stripe_dispute_id": stripe_dispute_id})
    return ticket
