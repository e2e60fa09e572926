"""Celery tasks of the disputes app: thin wrappers around services."""
from celery import shared_task

from . import services


@shared_task(name="disputes_app.tasks.sla_check")
def sla_check() -> int:
    """Flag and escalate missed SLA deadlines (on the beat schedule; running it twice is harmless)."""
    return services.tickets_check_sla()
