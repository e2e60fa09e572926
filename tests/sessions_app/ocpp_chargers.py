"""Test chargers for the OCPP gateway: the `ocpp` library's ChargePoint (1.6 and 2.0.1) on a real
websocket to a Gateway started in-process on a free port."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v16.enums import RemoteStartStopStatus, ResetStatus
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import RequestStartStopStatusEnumType, ResetStatusEnumType
from websockets.asyncio.client import ClientConnection, connect
from websockets.headers import build_authorization_basic

from sessions_app.ocpp.server import Gateway
from tests.factories import STATION_PASSWORD


class Charger16(ChargePoint16):
    """Answers remote commands with Accepted and remembers them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.command_seen = asyncio.Event()

    def _note(self, action: str, payload: dict) -> None:
        self.received.append((action, payload))
        self.command_seen.set()

    @on(Action16.remote_stop_transaction)
    def on_remote_stop(self, transaction_id, **_):
        self._note("RemoteStopTransaction", {"transaction_id": transaction_id})
        return result16.RemoteStopTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action16.remote_start_transaction)
    def on_remote_start(self, id_tag, **kwargs):
        self._note("RemoteStartTransaction", {"id_tag": id_tag, **kwargs})
        return result16.RemoteStartTransaction(status=RemoteStartStopStatus.accepted)

    @on(Action16.reset)
    def on_reset(self, type, **_):
        self._note("Reset", {"type": type})
        return result16.Reset(status=ResetStatus.accepted)


class Charger201(ChargePoint201):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received: list[tuple[str, dict]] = []
        self.command_seen = asyncio.Event()

    def _note(self, action: str, payload: dict) -> None:
        self.received.append((action, payload))
        self.command_seen.set()

    @on(Action201.request_stop_transaction)
    def on_request_stop(self, transaction_id, **_):
        self._note("RequestStopTransaction", {"transaction_id": transaction_id})
        return result201.RequestStopTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action201.reset)
    def on_reset(self, type, **_):
        self._note("Reset", {"type": type})
        return result201.Reset(status=ResetStatusEnumType.accepted)

    @on(Action201.set_display_message)
    def on_set_display_message(self, message, **_):
        self._note("SetDisplayMessage", {"message": message})
        return result201.SetDisplayMessage(status="Accepted")

    @on(Action201.cost_updated)
    def on_cost_updated(self, total_cost, transaction_id, **_):
        self._note("CostUpdated", {"total_cost": total_cost, "transaction_id": transaction_id})
        return result201.CostUpdated()


def auth_header(username: str, password: str = STATION_PASSWORD) -> dict[str, str]:
    return {"Authorization": build_authorization_basic(username, password)}


@contextlib.asynccontextmanager
async def gateway(redis_url: str = "") -> AsyncIterator[Gateway]:
    async with Gateway(host="127.0.0.1", port=0, redis_url=redis_url, response_timeout=5) as gw:
        yield gw


@contextlib.asynccontextmanager
async def raw_socket(gw: Gateway, identity: str, *, version: str = "1.6", password: str = STATION_PASSWORD,
                     username: str | None = None) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://127.0.0.1:{gw.port}/{identity}", subprotocols=[f"ocpp{version}"],
        additional_headers=auth_header(username or identity, password), open_timeout=5,
    ) as ws:
        yield ws


@contextlib.asynccontextmanager
async def charger(gw: Gateway, identity: str, *, version: str = "1.6", cls: type | None = None, **kwargs):
    """A connected charger whose receive loop runs in the background."""
    async with raw_socket(gw, identity, version=version, **kwargs) as ws:
        cls = cls or (Charger16 if version == "1.6" else Charger201)
        cp = cls(identity, ws, response_timeout=5)
        loop = asyncio.create_task(cp.start())
        try:
            yield cp
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)


async def exchange(ws: ClientConnection, frame: str | list) -> list:
    """Send one raw frame and return the gateway's answer, decoded."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), timeout=5))


def answers(identity: str, version: str, frames: list) -> tuple[list, list]:
    """Connect as `identity` to a new gateway and send raw frames: the answer to each, then the answer to a
    Heartbeat (the connection must still be up)."""
    async def main():
        async with gateway() as gw, raw_socket(gw, identity, version=version) as ws:
            got = [await exchange(ws, frame) for frame in frames]
            alive = await exchange(ws, [2, "still-there", "Heartbeat", {}])
            return got, alive

    return asyncio.run(main())


def codes(answers: list) -> list[tuple[str, str]]:
    """(unique id, CallError code or "accepted") of each answer."""
    return [(a[1], a[2]) if a[0] == 4 else (a[1], "accepted") for a in answers]
