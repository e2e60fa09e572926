"""The gateway's end of remote commands: a Redis pub/sub subscription to the channel of every charger the
process holds (see commands.py for the web side), kept up in the background.

Redis carries only remote commands, so the gateway never waits for it: it starts and serves chargers
while Redis is down, and a charger connecting or leaving only updates the set of wanted channels. The
listener connects in a task of its own; after any failure it closes the subscription, waits (0.5 s,
doubling up to RECONNECT_MAX_DELAY) and subscribes again to every channel wanted then, so commands resume
on their own when Redis comes back. A command published while no gateway listened reaches nobody, and
PUBLISH's receiver count tells the admin so ("not connected").
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

RECONNECT_FIRST_DELAY = 0.5
RECONNECT_MAX_DELAY = 10.0
#: Seconds a single SUBSCRIBE / UNSUBSCRIBE may take before the listener starts over.
COMMAND_TIMEOUT = 5.0


class CommandListener:
    """`listener.start()`; `listener.want(channel)` / `listener.drop(channel)`; `await listener.stop()`.
    Each command received on a wanted channel is passed to `on_command(channel, command)`."""

    def __init__(self, client, *, gateway_channel: str, on_command: Callable[[str, dict], None]):
        self._client = client
        self._gateway_channel = gateway_channel
        self._on_command = on_command
        self._channels: set[str] = set()
        self._pubsub = None  # set while subscribed
        self._task: asyncio.Task | None = None
        self._changes: set[asyncio.Task] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._changes) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def want(self, channel: str) -> None:
        self._channels.add(channel)
        self._change("subscribe", channel)

    def drop(self, channel: str) -> None:
        self._channels.discard(channel)
        self._change("unsubscribe", channel)

    def _change(self, command: str, channel: str) -> None:
        """Subscribe or unsubscribe now when connected, in the background: a charger never waits on Redis.
        Not connected, the next (re)subscription uses the wanted set."""
        if self._pubsub is None:
            return
        task = asyncio.create_task(self._send(self._pubsub, command, channel))
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)

    @staticmethod
    async def _send(pubsub, command: str, channel: str) -> None:
        try:
            await asyncio.wait_for(getattr(pubsub, command)(channel), COMMAND_TIMEOUT)
        except Exception as error:  # the listener notices a dead connection and subscribes again
            logger.warning("Redis %s %s failed: %r", command, channel, error)

    async def _run(self) -> None:
        delay = RECONNECT_FIRST_DELAY
        while True:
            pubsub = self._client.pubsub()
            try:
                self._pubsub = pubsub
                await asyncio.wait_for(pubsub.subscribe(self._gateway_channel, *self._channels), COMMAND_TIMEOUT)
                logger.info("remote commands: listening on Redis for %d chargers", len(self._channels))
                delay = RECONNECT_FIRST_DELAY
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("remote commands: Redis unavailable (%r); subscribing again in %.1f s", error, delay)
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), COMMAND_TIMEOUT)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY)

    def _dispatch(self, message: dict) -> None:
        channel = message["channel"].decode()
        try:
            command = json.loads(message["data"])
        except ValueError:
            logger.warning("ignored malformed command on %s", channel)
            return
        self._on_command(channel, command)
