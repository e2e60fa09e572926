"""What every charger connection shares, whatever its OCPP version: robust message routing (a bad
frame gets a CallError and the connection stays up), database access from the event loop, and
the remote commands a gateway passes on to its charger."""
from __future__ import annotations

import inspect
import json
import logging
import time
from datetime import datetime
from typing import ClassVar, TypeVar

from django.utils import timezone
from ocpp.exceptions import OCPPError, PropertyConstraintViolationError
from ocpp.messages import CallError, MessageType, unpack

from sessions_app import services
from sessions_app.models import ChargingStation

from . import frames
from .authorization import Authorizer
from .sample_writer import SampleWriter

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: How often (seconds) any message from a charger moves its last_seen_at forward.
SEEN_WRITE_EVERY = 60


def session_error(error: services.SessionError) -> PropertyConstraintViolationError:
    return PropertyConstraintViolationError(details={"cause": str(error)})


class GatewayConnection:
    """Mixin for an `ocpp` ChargePoint (v16 or v201) acting as the central system's end."""

    #: Error codes this protocol version spells differently from the library.
    ERROR_CODES: ClassVar[dict[str, str]] = {}
    #: Code for a frame that is not an OCPP RPC message at all.
    FRAME_ERROR: ClassVar[str] = "FormationViolation"

    def __init__(
        self, station: ChargingStation, websocket, *, gateway: str, writer: SampleWriter, authorizer: Authorizer,
        response_timeout: int = 30,
    ):
        super().__init__(station.ocpp_identity, websocket, response_timeout=response_timeout)
        self.station = station
        self.gateway = gateway
        self.writer = writer
        self.authorizer = authorizer
        self._seen_written = time.monotonic()

    @staticmethod
    def now() -> datetime:
        return timezone.now()

    # --- routing --------------------------------------------------------------------------------
    async def route_message(self, raw_msg):
        """The library's router, made strict: every Call gets an answer (a CallError when it cannot
        be handled) and nothing a charger sends can end the connection."""
        cause = frames.undecodable(raw_msg)
        if cause:
            await self._answer_undecodable(raw_msg, cause)
            return
        try:
            msg = unpack(raw_msg)
        except OCPPError as error:
            await self._answer_bad_frame(raw_msg, error)
            return
        await self._note_seen()
        if msg.message_type_id != MessageType.Call:
            self._response_queue.put_nowait(msg)
            return
        if not isinstance(msg.unique_id, str) or not isinstance(msg.action, str) or not isinstance(msg.payload, dict):
            await self._send_error(str(msg.unique_id), self.FRAME_ERROR, "Call must be [2, id, action, {payload}].")
            return
        try:
            await self._handle_call(msg)
        except OCPPError as error:
            await self._send_error(msg.unique_id, error.code, error.description, error.details)
        except Exception:
            logger.exception("%s: error handling %s", self.id, msg.action)
            await self._send_error(msg.unique_id, "InternalError", "An unexpected error occurred.")

    async def _answer_bad_frame(self, raw_msg, error: OCPPError) -> None:
        try:
            frame = json.loads(raw_msg)
        except (TypeError, ValueError):
            frame = None
        if isinstance(frame, list) and frame and frame[0] in (MessageType.CallResult, MessageType.CallError):
            logger.warning("%s: dropped malformed response %r", self.id, raw_msg)
            return  # responses are never answered
        unique_id = frame[1] if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str) else "-1"
        logger.warning("%s: malformed frame %r: %s", self.id, raw_msg, error)
        await self._send_error(unique_id, self._frame_error_code(error), error.description, error.details)

    def _frame_error_code(self, error: OCPPError) -> str:
        return self.FRAME_ERROR

    async def _answer_undecodable(self, raw_msg, cause: str) -> None:
        """A frame not decoded at all (frames.undecodable): a Call whose start reads well gets a
        FormatViolation under its id, anything else the frame error; responses are dropped."""
        message_type, unique_id = frames.frame_head(raw_msg)
        logger.warning("%s: undecodable frame (%s) of %d characters", self.id, cause, len(raw_msg))
        if message_type in (MessageType.CallResult, MessageType.CallError):
            return
        if message_type == MessageType.Call and unique_id is not None:
            await self._send_error(unique_id, "FormatViolation", "Payload cannot be decoded.", {"cause": cause})
        else:
            await self._send_error("-1", self.FRAME_ERROR, "Frame cannot be decoded.", {"cause": cause})

    async def _send_error(self, unique_id: str, code: str, description: str, details: dict | None = None) -> None:
        code = self.ERROR_CODES.get(code, code)
        cause = (details or {}).get("cause")
        safe_details = {"cause": str(cause)[:500]} if cause else {}
        await self._send(CallError(unique_id, code, description, safe_details).to_json())

    async def _note_seen(self) -> None:
        if time.monotonic() - self._seen_written >= SEEN_WRITE_EVERY:
            self._seen_written = time.monotonic()
            self.writer.note_seen(self.station.pk, self.now())

    # --- remote commands ------------------------------------------------------------------------
    async def run_command(self, command: dict) -> dict:
        """Send a remote command (from commands.station_command_send) to the charger and return
        {"status": ...} from its answer, or {"error": ...}."""
        name = command.get("command")
        build = getattr(self, f"_command_{name}", None)
        if build is None:
            return {"error": f"unknown command {name!r}"}
        try:
            payload = build(**command.get("args", {}))
            if inspect.isawaitable(payload):  # a command that first asks the charger something (display_price)
                payload = await payload
            if payload is None:
                return {"status": "NotSupported"}
            response = await self.call(payload, suppress=False)
        except OCPPError as error:
            return {"error": f"{error.code}: {error.description}"}
        except TimeoutError:
            return {"error": "no answer from the charger"}
        except Exception as error:  # a broken command must not take the connection down
            logger.exception("%s: command %s failed", self.id, name)
            return {"error": repr(error)}
        status = getattr(response, "status", "")
        return {"status": str(getattr(status, "value", status))}

