"""Token authorization as the gateway does it, so that a slow Stripe (or a slow roaming partner) never stalls
a charger. The remote check (`services.authorization_remote_check`: a roaming partner's real-time
authorization, when ocpi_app is installed) runs on the same threads under the same deadline, before the
payment hook; when it has not decided in time the local verdict (the token's whitelist) stands.

`services.token_authorize` is two steps: the token's own verdict (`token_check`, a quick read) and the
payment hook (`authorization_payment_check`: billing places its pay-as-you-go hold at Stripe, which can take
up to STRIPE_TIMEOUT seconds, or hang). The verdict is read on the database thread like every other
call. The hook runs on a small pool of threads of its own (each call on its own database connection,
closed afterwards), so other chargers' messages never queue behind Stripe, and the charger is answered
after at most OCPP_PAYMENT_STANDING_TIMEOUT seconds (default 5: well inside the charger's call timeout).
When the hook has not decided by then, the answer follows the documented Stripe-down rule
(`authorization_payment_unknown`: PAYMENT_ACCEPT_WHEN_STRIPE_DOWN) and the hook carries on: its Payment row
was committed before Stripe was called, so a hold that ends up pending is finished by the payments sweep.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from django.conf import settings
from django.db import connections

from sessions_app import hooks, services
from sessions_app.models import ChargingStation

from .database import db

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Payment hooks running at once; more wait for a free thread (within the same deadline).
PAYMENT_THREADS = 8


def _on_own_connection(fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    try:
        return fn(**kwargs)
    finally:
        connections.close_all()  # this thread's connection: a pool thread may sit idle for hours


class Authorizer:
    """One per gateway process: `await authorizer.authorize(station=..., uid=..., at=...)`."""

    def __init__(self, *, timeout: float | None = None, threads: int = PAYMENT_THREADS):
        self.timeout = timeout if timeout is not None else getattr(settings, "OCPP_PAYMENT_STANDING_TIMEOUT", 5.0)
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ocpp-payment")

    async def authorize(self, *, station: ChargingStation, uid: str, at: datetime) -> services.Authorization:
        verdict = await db(services.token_check, station=station, uid=uid, at=at)
        if not verdict.accepted and hooks.remote_authorization is None:
            return verdict
        pending = asyncio.wrap_future(self._pool.submit(
            _on_own_connection, services.authorization_complete,
            {"authorization": verdict, "uid": uid, "station": station, "at": at},
        ))
        try:
            return await asyncio.wait_for(pending, self.timeout)
        except TimeoutError:
            # A hook still queued for a thread is dropped; one already running finishes in the background.
            logger.warning("%s: payment check of token %s undecided after %.1f s: answering as if Stripe were down",
                           station, uid, self.timeout)
            return services.authorization_payment_unknown(authorization=verdict)

    async def close(self) -> None:
        """Drop the hooks still waiting for a thread and let the running ones finish (at most STRIPE_TIMEOUT):
        a hold in flight at shutdown is recorded, authorized or pending."""
        await asyncio.to_thread(self._pool.shutdown, wait=True, cancel_futures=True)
