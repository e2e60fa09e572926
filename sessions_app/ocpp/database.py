"""The gateway's bridge to the ORM: synchronous services run off the event loop on the one database
thread of the process, with one retry on a new connection after a dropped one."""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _run_guarded(fn: Callable[..., T], args: tuple, kwargs: dict[str, Any]) -> T:
    """Run `fn`; after a database error (typically a dropped connection: a restart, a failover, a killed
    backend) close the connection and run it once more on a new one, so the first message after a drop
    is not refused (chargers repeat transaction messages, but not an Authorize or a StatusNotification).
    Safe because every gateway service is idempotent; a second failure goes to the charger."""
    try:
        return fn(*args, **kwargs)
    except (OperationalError, InterfaceError) as error:
        connection.close()
        if connection.in_atomic_block:
            raise
        logger.warning("database error (%r): reconnecting and trying %s again", error, getattr(fn, "__name__", fn))
    return fn(*args, **kwargs)


async def db(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a synchronous ORM/service call off the event loop (one database thread per process)."""
    return await sync_to_async(_run_guarded)(fn, args, kwargs)
