"""Guest charging's reactions to sessions_app's signals (inside the transaction that sends them, each in a
savepoint of its own: a failure here never fails the charger's start or stop)."""
import logging

from django.db import transaction
from django.dispatch import receiver

from guests_app import services
from sessions_app.signals import session_authorized, session_completed

logger = logging.getLogger(__name__)


@receiver(session_authorized, dispatch_uid="guests_session_started")
def guest_started(sender, session, **kwargs):
    with transaction.atomic():
        services.guest_session_started(session=session)


@receiver(session_completed, dispatch_uid="guests_session_ended")
def guest_ended(sender, session, **kwargs):
    try:
        with transaction.atomic():
            services.guest_session_ended(session=session)
    except Exception:  # the guests sweep and the live page read the session's own state too
        logger.exception("guest session of charging session %s not marked ended", session.pk)
