"""Celery tasks for payments."""

__all__: list[str] = []
