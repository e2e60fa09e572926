"""Each pay-as-you-go session has a hold of its own, claimed when the session starts.

A hold placed at Authorize (`services.token_payment_standing`) is free until a session claims it. The
session claims it as it starts (`session_hold_claim`, sessions_app's `session_authorized` signal), so a
token that starts a second session, while the first runs or before the first is settled, finds no free
hold and its Authorize places a second one. Where the charger started without a hold to claim (a second
connector of the same station, where the hook cannot tell a new transaction from a re-presented one; a
payment check the gateway gave up waiting for), `session_hold_place` holds for the running session right
after its start. Whatever still goes unpaid is collected by `invoicing.collection`.
"""
from __future__ import annotations

import logging

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing_app.models import BillingAccount, Payment, PaymentCustomer, SessionCharge
from billing_app.payments.services import payment_hold
from billing_app.payments.transitions import payment_event_record
from evbilling.on_commit import after_commit
from sessions_app.models import ChargingSession

logger = logging.getLogger(__name__)

LIVE = (Payment.Status.PENDING, Payment.Status.AUTHORIZED, Payment.Status.CAPTURED)


def _own_hold(session_id: int) -> Payment | None:
    return Payment.objects.filter(session_id=session_id, kind=Payment.Kind.SESSION_HOLD, status__in=LIVE).first()


def _holds_for(driver_id: int | None) -> bool:
    """A pay-as-you-go driver with a card: the only sessions a hold is placed for after the start."""
    if driver_id is None:
        return False
    payg = BillingAccount.objects.filter(driver_id=driver_id,
                                         payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO).exists()
    return payg and PaymentCustomer.objects.filter(driver_id=driver_id).exclude(default_payment_method_id="").exists()


def session_hold_claim(*, session: ChargingSession) -> Payment | None:
    """Tie the token's oldest free hold to `session`, in the transaction that starts it (or names its
    token); when there is none, queue `session_hold_place` for after the commit.

    The free hold is locked while it is claimed, so two sessions starting at once never share one (the
    second finds none and gets its own); a session that already has a live hold claims nothing more."""
    if session.id_token_id is None or session.company_id is not None:
        return None  # no token yet, or a business session: its company pays by invoice
    held = _own_hold(session.pk)
    if held is not None:
        return held
    with transaction.atomic():
        hold = (Payment.objects.select_for_update()
                .filter(id_token_id=session.id_token_id, kind=Payment.Kind.SESSION_HOLD, session__isnull=True,
                        status__in=Payment.OPEN_STATUSES)
                .order_by("created_at", "pk").first())
        if hold is not None:
            hold.session = session
            hold.save(update_fields=["session", "updated_at"])
            payment_event_record(hold, to_status=hold.status, note=f"claimed by session {session.pk}")
            return hold
    if _holds_for(session.driver_id):
        after_commit(session_hold_place_task.delay, session.pk)
    return None


def session_hold_place(*, session_id: int) -> Payment | None:
    """Hold for a running pay-as-you-go session that started with no free hold to claim (idempotent: one
    key per session, and a session with a live hold gets none). A session that stopped meanwhile gets
    none: it is captured from nothing and its receipt is collected off-session (`invoicing.collection`)."""
    session = ChargingSession.objects.select_related("id_token", "connector__station__location").get(pk=session_id)
    held = _own_hold(session.pk)
    if (held is not None or session.id_token is None or session.company_id is not None
            or session.state != ChargingSession.State.ACTIVE):
        return held
    if SessionCharge.objects.filter(session_id=session.pk).exists() or not _holds_for(session.driver_id):
        return None
    key = f"evb-session-{session.pk}-hold"
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return existing
    logger.info("session %s started without a free hold: holding for it now", session.pk)
    try:
        return payment_hold(id_token=session.id_token, station=session.connector.station, at=timezone.now(),
                            session=session)
    except IntegrityError:  # a concurrent run (same key) or claim (one live hold per session) came first
        return Payment.objects.filter(idempotency_key=key).first() or _own_hold(session.pk)


# Beside its service, not in payments/tasks.py: the claim above queues it, and tasks.py imports services.
@shared_task(name="billing_app.tasks.session_hold_place")
def session_hold_place_task(session_id: int) -> str | None:
    """Stripe being down leaves the hold pending; `payments_settle_pending` finishes it."""
    payment = session_hold_place(session_id=session_id)
    return payment.status if payment else None
