"""Scheduled housekeeping for sessions (see CELERY_BEAT_SCHEDULE)."""
from celery import shared_task

from . import services


@shared_task
def sessions_close_stale() -> int:
    return services.sessions_close_stale()
