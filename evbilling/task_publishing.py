"""Task messages sent by a thread of their own, for a process that must never wait on the broker.

Celery sends a task message in the caller's thread. While the broker is unreachable that call blocks
(redis-py's reconnect attempts, then ~20 s of the Redis result backend's retries per message, measured)
and then fails. The OCPP gateway queues tasks from its one database thread (settlement after a stop,
webhook deliveries: receivers' `transaction.on_commit`), so a broker outage would stall every charger.

A process that calls `app.publish_in_background()` (the gateway does, while it runs) hands each message to
one sender thread and goes on at once. A message that cannot be sent is logged and dropped: what it asked
for is already recorded in the database by intent (a completed session without a charge, a pending
payment or webhook delivery), and the beat sweeps (`sessions_settle_pending`, `payments_settle_pending`,
`deliver_due`) do it later. Messages sent this way ask for no stored result: the process never reads one,
and asking would subscribe it to one result channel per task (and block on that subscription while Redis
is down).
"""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
from dataclasses import dataclass, field

from celery import Celery
from celery.utils import uuid

logger = logging.getLogger(__name__)

#: Messages waiting for the sender thread; beyond this, new ones are dropped (the sweeps find their work).
MAX_QUEUED = 10_000


@dataclass
class _Sender:
    app: Celery
    users: int = 0
    sent: int = 0
    failed: int = 0
    messages: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=MAX_QUEUED))
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="celery-publisher", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (message := self.messages.get()) is not None:
            name, args, kwargs, options = message
            try:
                Celery.send_task(self.app, name, args, kwargs, **options)
                self.sent += 1
            except Exception as error:
                self.failed += 1
                logger.warning("task %s[%s] not queued (%r); the beat sweeps will do its work",
                               name, options.get("task_id"), error)

    def stop(self, timeout: float) -> None:
        with contextlib.suppress(queue.Full):
            self.messages.put(None, timeout=timeout)
        self.thread.join(timeout)
        if self.thread.is_alive():
            logger.warning("task publisher stopped with %d messages unsent", self.messages.qsize())


class App(Celery):
    """Celery, plus `publish_in_background()` / `publish_in_foreground()` (see the module docstring)."""

    _sender: _Sender | None = None
    _sender_lock = threading.Lock()

    def publish_in_background(self) -> None:
        """Send task messages from a background thread from now on (until as many publish_in_foreground
        calls: several gateways may run in one process, as in the tests)."""
        with self._sender_lock:
            if self._sender is None:
                self._sender = _Sender(self)
                self._sender.start()
            self._sender.users += 1

    def publish_in_foreground(self, *, timeout: float = 5.0) -> None:
        """Send task messages in the caller's thread again, once the last background user is done; messages
        still queued get up to `timeout` seconds to go out."""
        with self._sender_lock:
            sender = self._sender
            if sender is None:
                return
            sender.users -= 1
            if sender.users > 0:
                return
            self._sender = None
        sender.stop(timeout)

    def send_task(self, name, args=None, kwargs=None, **options):
        sender = self._sender
        if (sender is None or threading.current_thread() is sender.thread
                or options.get("producer") is not None or options.get("connection") is not None):
            return super().send_task(name, args, kwargs, **options)
        options["task_id"] = options.get("task_id") or uuid()
        options["ignore_result"] = True
        try:
            sender.messages.put_nowait((name, args, kwargs, options))
        except queue.Full:
            logger.warning("task %s[%s] dropped: %d messages wait for the broker; the beat sweeps will do its work",
                           name, options["task_id"], MAX_QUEUED)
        result_cls = options.get("result_cls") or self.AsyncResult
        return result_cls(options["task_id"])
