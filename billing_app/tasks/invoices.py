"""Celery tasks for invoices."""

__all__: list[str] = []
