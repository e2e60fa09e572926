"""The gateway: an asyncio websocket server that accepts authenticated chargers and gives each
an OCPP connection object of its protocol version (1.6J or 2.0.1).

One process holds many chargers; several processes can run side by side. Remote commands reach
the process holding a charger through Redis pub/sub (see commands.py, command_listener.py); stations show
as online through `connected_to` / `last_seen_at` in the database.

No slow dependency holds up a charger's answer: the payment hook (Stripe) runs beside the database thread
under a deadline (authorization.py), task messages go to the broker from a background thread
(evbilling/task_publishing.py), and Redis is subscribed to in the background, so the gateway starts and
serves chargers without it.
"""
from __future__ import annotations

import asyncio
import http
import json
import logging
import os
import socket

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import build_www_authenticate_basic, parse_authorization_basic
from websockets.http11 import Request, Response

from evbilling.celery import app as celery_app
from sessions_app import services

from .auth import identity_from_path, station_authenticate
from .authorization import Authorizer
from .command_listener import CommandListener
from .commands import CHANNEL_PREFIX, RESULT_TTL_SECONDS, channel_for, result_key
from .connection import GatewayConnection
from .database import db
from .sample_writer import SampleWriter
from .v16 import CentralSystem16
from .v201 import CentralSystem201

logger = logging.getLogger(__name__)

PROTOCOLS: dict[str, type[GatewayConnection]] = {"ocpp2.0.1": CentralSystem201, "ocpp1.6": CentralSystem16}
HEALTH_PATH = "/healthz"  # no charger identity can be this: identities are the path's one segment, not reserved


def _database_answers() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


class Gateway:
    """`async with Gateway(host=..., port=...) as gateway:` serves until the block ends."""

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 9000, redis_url: str = "", response_timeout: int = 30,
        name: str = "",
    ):
        self.host = host
        self.port = port
        self.redis_url = redis_url
        self.response_timeout = response_timeout
        self.name = name
        self.connections: dict[str, GatewayConnection] = {}
        self._server = None
        self._redis = None
        self._commands: CommandListener | None = None
        self._tasks: set[asyncio.Task] = set()
        self.writer: SampleWriter | None = None
        self.authorizer: Authorizer | None = None
        self._publishing = False

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        self.writer = SampleWriter(
            delay=getattr(settings, "OCPP_GROUP_COMMIT_DELAY", 0.002),
            max_batch=getattr(settings, "OCPP_GROUP_COMMIT_MAX", 500),
        )
        await self.writer.start()
        self.authorizer = Authorizer()
        self._server = await serve(
            self._handle, self.host, self.port, subprotocols=list(PROTOCOLS),
            process_request=self._authenticate, ping_interval=60, ping_timeout=60, max_size=2**20,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        celery_app.publish_in_background()
        self._publishing = True
        self.name = self.name or f"{socket.gethostname()}:{os.getpid()}:{self.port}"
        if self.redis_url:
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(
                self.redis_url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=15
            )
            self._commands = CommandListener(
                self._redis, gateway_channel=f"evbilling:ocpp:gateway:{self.name}", on_command=self._on_command
            )
            self._commands.start()
        logger.info("OCPP gateway %s listening on ws://%s:%s/<identity>", self.name, self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.writer is not None:
            await self.writer.stop()
        if self._commands is not None:
            await self._commands.stop()
        if self._redis is not None:
            await self._redis.aclose()
        if self.authorizer is not None:
            await self.authorizer.close()
        if self._publishing:
            self._publishing = False
            await asyncio.to_thread(celery_app.publish_in_foreground)
        await sync_to_async(connections.close_all)()

    # --- handshake ------------------------------------------------------------------------------
    async def _authenticate(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path.rstrip("/") == HEALTH_PATH:
            return await self._health(connection)
        identity = identity_from_path(request.path)
        try:
            username, password = parse_authorization_basic(request.headers["Authorization"])
        except (KeyError, InvalidHeader):
            username = password = None
        station = None
        if username is not None:
            station = await station_authenticate(identity=identity, username=username, password=password)
        if station is None:
            logger.warning("refused charger %r from %s: bad credentials", identity, connection.remote_address)
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "Unknown charger or wrong credentials.\n")
            response.headers["WWW-Authenticate"] = build_www_authenticate_basic("OCPP")
            return response
        connection.station = station
        return None

    async def _health(self, connection: ServerConnection) -> Response:
        """GET /healthz on the gateway's port: its name, connected chargers and whether the database (and
        Redis, for remote commands) answer; 503 when one does not, so a load balancer stops sending chargers."""
        checks = {}
        try:
            await db(_database_answers)
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"error: {type(error).__name__}"
        if self._redis is not None:
            try:
                await asyncio.wait_for(self._redis.ping(), timeout=2)
                checks["redis"] = "ok"
            except Exception as error:
                checks["redis"] = f"error: {type(error).__name__}"
        healthy = all(value == "ok" for value in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "gateway": self.name,
                "connected_chargers": len(self.connections), "checks": checks}
        response = connection.respond(http.HTTPStatus.OK if healthy else http.HTTPStatus.SERVICE_UNAVAILABLE,
                                      json.dumps(body) + "\n")
        response.headers["Content-Type"] = "application/json"
        return response

    # --- one charger ----------------------------------------------------------------------------
    async def _handle(self, websocket: ServerConnection) -> None:
        station = websocket.station
        identity = station.ocpp_identity
        cp = PROTOCOLS[websocket.subprotocol](
            station, websocket, gateway=self.name, writer=self.writer, authorizer=self.authorizer,
            response_timeout=self.response_timeout,
        )
        previous = self.connections.get(identity)
        self.connections[identity] = cp
        if previous is not None:
            await previous._connection.close(code=1001, reason="replaced by a new connection")
        try:
            await db(services.station_connected, station_id=station.pk, gateway=self.name,
                     ocpp_version=websocket.subprotocol.removeprefix("ocpp"), at=cp.now())
            await self._subscribe(identity)
            await cp.start()
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("%s: connection failed", identity)
        finally:
            if self.connections.get(identity) is cp:
                del self.connections[identity]
                await self._release(identity, station.pk)

    async def _release(self, identity: str, station_id: int) -> None:
        try:
            await self._unsubscribe(identity)
            await db(services.station_disconnected, station_id=station_id, gateway=self.name)
        except Exception:
            logger.exception("%s: could not record the disconnect", identity)

    # --- remote commands ------------------------------------------------------------------------
    async def _subscribe(self, identity: str) -> None:
        if self._commands is not None:
            self._commands.want(channel_for(identity))

    async def _unsubscribe(self, identity: str) -> None:
        if self._commands is not None:
            self._commands.drop(channel_for(identity))

    def _on_command(self, channel: str, command: dict) -> None:
        cp = self.connections.get(channel.removeprefix(CHANNEL_PREFIX))
        if cp is None:
            return
        task = asyncio.create_task(self._run_command(cp, command))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_command(self, cp: GatewayConnection, command: dict) -> None:
        result = await cp.run_command(command)
        logger.info("%s: command %s -> %s", cp.id, command.get("command"), result)
        if command.get("id"):
            try:
                await self._redis.set(result_key(str(command["id"])), json.dumps(result), ex=RESULT_TTL_SECONDS)
            except Exception as error:  # Redis went away meanwhile: the admin sees no answer, the charger is fine
                logger.warning("%s: result of command %s not stored: %r", cp.id, command.get("id"), error)
