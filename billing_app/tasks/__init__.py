"""Celery tasks of billing, one module per concept; imported here so the worker registers them."""
from .invoices import *  # noqa: F403
from .payments import *  # noqa: F403
from .plans import *  # noqa: F403
from .settlement import session_settle, sessions_settle_pending

__all__ = ["session_settle", "sessions_settle_pending"]
