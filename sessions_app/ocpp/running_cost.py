"""The seam through which the pricing engine tells chargers what a session costs so far.

sessions_app never imports billing_app: billing names its function in the setting
OCPP_RUNNING_COST_FUNCTION (a dotted path to `f(session) -> Decimal | None`). Unset, no running cost
is sent. A failing pricer never fails the charger's message.
"""
from __future__ import annotations

import logging
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from sessions_app.models import ChargingSession

logger = logging.getLogger(__name__)


@cache
def _pricer(path: str):
    return import_string(path) if path else None


def running_cost(session: ChargingSession) -> Decimal | None:
    pricer = _pricer(settings.OCPP_RUNNING_COST_FUNCTION)
    if pricer is None:
        return None
    try:
        return pricer(session)
    except Exception:
        logger.exception("running cost of session %s failed", session.pk)
        return None
