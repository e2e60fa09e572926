"""Group commit of meter samples: one database transaction for the MeterValues of all connections.

A gateway process has one database thread, and one transaction per MeterValues (about 1 ms) caps
it far below what the websockets can carry. Handlers instead queue their samples here and wait;
the writer takes everything queued (after at most OCPP_GROUP_COMMIT_DELAY seconds, or at once when
OCPP_GROUP_COMMIT_MAX messages wait), stores it in one transaction and only then releases the
waiting handlers, so a charger is never acknowledged for samples that are not committed. While one
batch is being committed the next one fills up, so batches grow with the load by themselves.

Stations' last_seen_at marks ride along in the same transaction.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sessions_app import services

from .database import db

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Queued:
    report: services.SampleReport
    done: asyncio.Future


class SampleWriter:
    def __init__(self, *, delay: float = 0.002, max_batch: int = 500):
        self.delay = delay
        self.max_batch = max_batch
        self._queue: list[_Queued] = []
        self._seen: dict[int, datetime] = {}
        self._pending: dict[tuple[int, int], set[asyncio.Future]] = defaultdict(set)
        self._wake = asyncio.Event()
        self._full = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ocpp-sample-writer")

    async def stop(self) -> None:
        """Commit what is queued, then end."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        await self._task
        self._task = None

    async def record(self, *, station_id: int, session_id: int, samples: list[services.SampleIn]) -> bool:
        """Queue one message's samples and return once they are committed: True when the session
        exists on that station (False: nothing stored). Raises what storing them raised."""
        services.samples_validate(samples=samples)
        if self._stopping or self._task is None:
            raise RuntimeError("The sample writer is not running.")
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(services.SampleReport(station_id, session_id, tuple(samples)), done))
        key = (station_id, session_id)
        self._pending[key].add(done)
        self._wake.set()
        if len(self._queue) >= self.max_batch:
            self._full.set()
        try:
            return await asyncio.shield(done)
        finally:
            self._pending[key].discard(done)
            if not self._pending[key]:
                del self._pending[key]

    def note_seen(self, station_id: int, at: datetime) -> None:
        """Move the station's last_seen_at forward with the next batch (not waited for)."""
        self._seen[station_id] = max(at, self._seen.get(station_id, at))
        self._wake.set()

    async def flush(self, *, station_id: int, session_id: int) -> None:
        """Wait until the samples queued for this session are committed (before its stop)."""
        pending = list(self._pending.get((station_id, session_id), ()))
        if pending:
            await asyncio.wait(pending)

    # --- the writer task ------------------------------------------------------------------------
    async def _run(self) -> None:
        while not (self._stopping and not self._queue and not self._seen):
            await self._wake.wait()
            if self.delay and not self._stopping and len(self._queue) < self.max_batch:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.delay):
                        await self._full.wait()
            try:
                await self._commit_next()
            except Exception:  # the writer must outlive any batch
                logger.exception("sample writer: batch failed")

    async def _commit_next(self) -> None:
        batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
        seen, self._seen = self._seen, {}
        if not self._queue and not self._seen:
            self._wake.clear()
        if len(self._queue) < self.max_batch:
            self._full.clear()
        if not batch and not seen:
            return
        try:
            known = await db(
                services.session_samples_record_many, reports=[q.report for q in batch],
                seen_station_ids=list(seen), seen_at=max(seen.values()) if seen else None,
            )
        except Exception as error:
            if len(batch) <= 1:
                _settle(batch, error=error)
                if seen:
                    logger.warning("sample writer: last_seen_at of %d stations not written: %r", len(seen), error)
                return
            # One bad message must not fail the others: commit each on its own.
            logger.warning("sample writer: batch of %d failed (%r); retrying one by one", len(batch), error)
            for queued in batch:
                try:
                    _settle([queued], known=await db(services.session_samples_record_many, reports=[queued.report]))
                except Exception as single_error:
                    _settle([queued], error=single_error)
            return
        _settle(batch, known=known)


def _settle(batch: list[_Queued], *, known: list[bool] | None = None, error: BaseException | None = None) -> None:
    for index, queued in enumerate(batch):
        if queued.done.done():
            continue
        if error is not None:
            queued.done.set_exception(error)
        else:
            queued.done.set_result(known[index])
