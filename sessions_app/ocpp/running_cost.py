"""The seam through which the pricing engine tells chargers what a session costs so far.

sessions_app never imports billing_app: billing sets `sessions_app.hooks.running_cost` when it loads.
Unset, no running cost is sent. A failing pricer never fails the charger's message.
"""
from __future__ import annotations

import logging
from decimal import Decimal

from sessions_app import hooks
from sessions_app.models import ChargingSession

logger = logging.getLogger(__name__)


def running_cost(session: ChargingSession) -> Decimal | None:
    try:
        return hooks.session_running_cost(session)
    except Exception:
        logger.exception("running cost of session %s failed", session.pk)
        return None


def active_session_running_cost(session_id: int) -> Decimal | None:
    """The running cost of a session still active (None once it stopped, or when nothing prices it)."""
    session = (ChargingSession.objects.filter(pk=session_id, state=ChargingSession.State.ACTIVE)
               .select_related("connector__station__location", "id_token").first())
    return running_cost(session) if session is not None else None
