"""Billing's reactions to sessions_app signals."""
from django.db import transaction
from django.dispatch import receiver

from sessions_app.signals import session_completed


@receiver(session_completed, dispatch_uid="billing_settle_completed_session")
def settle_completed_session(sender, session, **kwargs):
    """Queue settlement once the completing transaction has committed (never for a rolled-back stop).

    robust: a failure to queue or (eagerly) price never fails the stop the charger is waiting on;
    unpriced sessions are picked up again by `settle_pending` on the beat schedule."""
    from .tasks import session_settle

    transaction.on_commit(lambda: session_settle.delay(session.pk), robust=True)
