"""Celery tasks of billing: thin, take ids, safe to run twice."""
import logging

from celery import shared_task
from django.db import OperationalError

from billing_app.settlement import services

logger = logging.getLogger(__name__)


@shared_task(
    name="billing_app.tasks.session_settle",
    autoretry_for=(OperationalError,), retry_backoff=True, retry_backoff_max=300, max_retries=8,
)
def session_settle(session_id: int) -> str | None:
    try:
        charge = services.session_settle(session_id=session_id)
    except services.SettlementError as error:
        logger.warning("session %s not settled: %s", session_id, error)
        return None
    return f"{charge.total_incl_vat} {charge.currency}"


@shared_task(name="billing_app.tasks.sessions_settle_pending")
def sessions_settle_pending() -> int:
    return services.sessions_settle_pending()
