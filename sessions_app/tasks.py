"""Scheduled housekeeping for sessions (see CELERY_BEAT_SCHEDULE)."""
from celery import shared_task

from . import partitions, services


@shared_task
def sessions_close_stale() -> int:
    return services.sessions_close_stale()


@shared_task(name="sessions_app.tasks.ensure_sample_partitions")
def ensure_sample_partitions() -> list[str]:
    """Keep the meter samples' monthly partitions MONTHS_AHEAD months ahead (idempotent)."""
    return partitions.sample_partitions_ensure()
