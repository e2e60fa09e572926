"""Resolving a session charge held for review (`ChargeReview`): accept it as measured, or correct its
energy. Either way the normal settlement then continues: the receipt task and the payment task the
completed-session path queues are queued again, after the resolution commits.

A correction replaces the held charge's figures (priced again as at settlement, see
`settlement.services.charge_energy_correct`): nothing was captured, charged or invoiced while it was
held, so no credit note is needed. A resolution is scoped to the operator of the user who makes it
(another operator's review is "not found"), done once under the review's row lock, and audited with that
user as the actor.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from billing_app.invoicing.tasks import invoice_receipt_issue
from billing_app.models import ChargeReview, Invoice, Payment
from billing_app.payments.tasks import session_payment_settle
from billing_app.settlement.services import charge_energy_correct
from evbilling.errors import ApplicationError, ConflictError, NotFoundError
from evbilling.on_commit import after_commit
from sessions_app.audit import acting
from sessions_app.models import User
from sessions_app.selectors import operator_ids_for

WH = Decimal("0.001")


class ReviewError(ApplicationError):
    """A resolution that is not allowed (a support account, an energy that cannot be used)."""


def _held_review(*, charge_id: int, by: User) -> ChargeReview | None:
    """The charge's review under a row lock, if `by` may resolve it; None when it is resolved already."""
    review = (ChargeReview.objects.select_for_update(of=("self",)).select_related("charge__session")
              .filter(charge_id=charge_id).first())
    allowed = operator_ids_for(by)
    if review is None or not (allowed is None or review.charge.session.operator_id in allowed):
        raise NotFoundError(gettext("No such session held for review."))
    if by.is_support and not by.is_superuser:
        raise ReviewError(gettext("Support staff look at held sessions; the operator's staff resolve them."))
    return review if review.status == ChargeReview.Status.HELD else None


def _settlement_resume(session_id: int) -> None:
    """Issue the receipt and collect the payment, as after any settlement (both idempotent)."""
    after_commit(invoice_receipt_issue.delay, session_id)
    after_commit(session_payment_settle.delay, session_id)


def _resolve(review: ChargeReview, *, status: str, by: User, **figures) -> ChargeReview:
    with acting(by):
        review.status = status
        review.resolved_by = by
        review.resolved_at = timezone.now()
        for field, value in figures.items():
            setattr(review, field, value)
        review.save()
    _settlement_resume(review.charge.session_id)
    return review


@transaction.atomic
def charge_review_accept(*, charge_id: int, by: User) -> ChargeReview:
    """Let the charge through as priced: it is captured (and charged above the hold) and invoiced as
    usual. Accepting an accepted review changes nothing; a corrected one is a conflict."""
    review = _held_review(charge_id=charge_id, by=by)
    if review is None:
        review = ChargeReview.objects.get(charge_id=charge_id)
        if review.status == ChargeReview.Status.ACCEPTED:
            return review
        raise ConflictError(gettext("This session was resolved already (%(status)s).") % {
            "status": review.get_status_display()})
    return _resolve(review, status=ChargeReview.Status.ACCEPTED, by=by)


def _energy(value) -> Decimal:
    try:
        energy = Decimal(str(value))
    except InvalidOperation:
        raise ReviewError(gettext("The corrected energy must be a number of kWh.")) from None
    if not energy.is_finite() or energy < 0:
        raise ReviewError(gettext("The corrected energy must be zero or more kWh."))
    if energy != energy.quantize(WH):
        raise ReviewError(gettext("The corrected energy has at most 3 decimals (Wh)."))
    return energy


def _nothing_taken(review: ChargeReview) -> None:
    session_id = review.charge.session_id
    captured = Payment.objects.filter(session_id=session_id, status=Payment.Status.CAPTURED).exists()
    invoiced = Invoice.objects.filter(session_id=session_id).exists() or review.charge.session.invoice_lines.exists()
    if captured or invoiced:
        raise ConflictError(gettext("This session was charged or invoiced already: correct it with a credit note."))


@transaction.atomic
def charge_review_correct(*, charge_id: int, corrected_energy_kwh, by: User) -> ChargeReview:
    """Price the session again with `corrected_energy_kwh` (each period's energy scaled to it, exact),
    replace the held charge's figures, and let it through."""
    energy = _energy(corrected_energy_kwh)
    review = _held_review(charge_id=charge_id, by=by)
    if review is None:
        raise ConflictError(gettext("This session was resolved already."))
    _nothing_taken(review)
    charge = charge_energy_correct(charge_id=charge_id, corrected_energy_kwh=energy)
    return _resolve(review, status=ChargeReview.Status.CORRECTED, by=by, corrected_energy_kwh=energy,
                    corrected_total_incl_vat=charge.total_incl_vat)
