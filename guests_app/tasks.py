"""Guest charging's beat task; the start check's task sits beside its service (services.py)."""
from celery import shared_task

from guests_app import services


@shared_task(name="guests_app.tasks.guests_watch")
def guests_watch() -> int:
    return services.guests_watch()
