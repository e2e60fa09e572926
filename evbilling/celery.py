"""The Celery app: broker and result backend from REDIS_URL, tasks discovered in the apps.

Without REDIS_URL the settings make Celery run tasks eagerly (the embedded default of `make run`).
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

app = Celery("evbilling")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# billing_app keeps a tasks module per concept package
app.autodiscover_tasks(["billing_app.settlement", "billing_app.payments", "billing_app.invoicing", "billing_app.plans"])
