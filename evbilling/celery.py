"""The Celery app: broker and result backend from REDIS_URL, tasks discovered in the apps.

Without REDIS_URL the settings make Celery run tasks eagerly (the embedded default of `make run`).
"""
import os

from evbilling.task_publishing import App

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

app = App("evbilling")  # Celery, able to send from a background thread (the OCPP gateway: task_publishing.py)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# billing_app keeps a tasks module per concept package
app.autodiscover_tasks(["billing_app.settlement", "billing_app.payments", "billing_app.invoicing", "billing_app.plans"])
