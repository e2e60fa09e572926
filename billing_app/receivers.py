"""Billing's reactions to sessions_app signals (billing reacts to none of its own: it calls)."""
from django.db import transaction
from django.dispatch import receiver

from billing_app.payments.session_holds import session_hold_claim
from billing_app.payments.tasks import session_payment_settle
from billing_app.settlement.tasks import session_settle
from sessions_app.signals import session_authorized, session_completed


@receiver(session_completed, dispatch_uid="billing_settle_completed_session")
def settle_completed_session(sender, session, **kwargs):
    """Queue settlement once the completing transaction has committed (never for a rolled-back stop).

    robust: a failure to queue or (eagerly) price never fails the stop the charger is waiting on;
    unpriced sessions are picked up again by `settle_pending` on the beat schedule. Pricing is chained
    to the payment (capture of a pay-as-you-go hold); `payments_settle_pending` catches what it misses."""

    transaction.on_commit(
        lambda: (session_settle.si(session.pk) | session_payment_settle.si(session.pk)).delay(), robust=True
    )


@receiver(session_authorized, dispatch_uid="billing_claim_hold_of_started_session")
def claim_hold_of_started_session(sender, session, **kwargs):
    """Each pay-as-you-go session claims its own hold as it starts (docs/payments.md). Inside the start's
    transaction, in a savepoint of its own; sent robustly, so a failure never fails the start: the settlement
    then claims a free hold, and the receipt sweep collects what none covered."""
    with transaction.atomic():
        session_hold_claim(session=session)
