"""OCPP 2.0.1: the central system's answers to a charging station. Transactions are reported as
TransactionEvent Started / Updated / Ended under the station's own transactionId, which is the
session's transaction_ref; the EVSE id is our connector number."""
from __future__ import annotations

import asyncio
import itertools
import logging
import time

from django.conf import settings
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    DataTransferStatusEnumType,
    RegistrationStatusEnumType,
    ResetEnumType,
    TransactionEventEnumType,
)

from sessions_app import hooks, services
from sessions_app.models import ChargingSession

from .connection import GatewayConnection, session_error
from .database import db
from .payloads import connector_number, parse_timestamp, samples_from_meter_values, signed_readings_from_meter_values
from .running_cost import active_session_running_cost, running_cost

logger = logging.getLogger(__name__)

_display_message_ids = itertools.count(1)
_remote_start_ids = itertools.count(1)


def _id_token_info(authorization: services.Authorization) -> dict:
    status = "Unknown" if authorization.status == "Invalid" else authorization.status
    if status == "Blocked" and authorization.reason in hooks.NO_CREDIT_REASONS:
        status = "NoCredit"  # a valid token whose driver owes us: 2.0.1 says so (1.6 has only Blocked)
    info = {"status": status}
    if authorization.id_token and authorization.id_token.expires_at:
        info["cache_expiry_date_time"] = authorization.id_token.expires_at.isoformat()
    return info


_running_cost_of = active_session_running_cost


class CentralSystem201(GatewayConnection, ChargePoint):
    ERROR_CODES = {
        "FormationViolation": "FormatViolation",
        "OccurenceConstraintViolation": "OccurrenceConstraintViolation",
    }
    FRAME_ERROR = "RpcFrameworkError"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cost_pushed_at: dict[str, float] = {}  # transactionId -> monotonic time of the last CostUpdated
        self._cost_tasks: set[asyncio.Task] = set()

    def _frame_error_code(self, error) -> str:
        return "MessageTypeNotSupported" if "MessageTypeId" in str(error.details) else self.FRAME_ERROR

    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station: dict, reason: str, **_):
        now = self.now()
        self.station = await db(
            services.station_boot, station=self.station, booted_at=now, vendor=charging_station.get("vendor_name", ""),
            model=charging_station.get("model", ""), serial_number=charging_station.get("serial_number", ""),
            firmware_version=charging_station.get("firmware_version", ""),
        )
        return call_result.BootNotification(
            current_time=now.isoformat(), interval=settings.OCPP_HEARTBEAT_INTERVAL,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_):
        now = self.now()
        self.writer.note_seen(self.station.pk, now)
        return call_result.Heartbeat(current_time=now.isoformat())

    @on(Action.status_notification)
    async def on_status_notification(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **_):
        connector_number(connector_id, field="connectorId", station=True)
        await db(
            services.connector_status_record, station=self.station,
            connector_number=connector_number(evse_id, field="evseId", station=True),
            status=connector_status, timestamp=parse_timestamp(timestamp), received_at=self.now(),
            info=f"connector {connector_id}" if connector_id else "",
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict, **_):
        authorization = await self.authorizer.authorize(station=self.station, uid=id_token["id_token"], at=self.now())
        return call_result.Authorize(id_token_info=_id_token_info(authorization))

    @on(Action.transaction_event)
    async def on_transaction_event(
        self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int, transaction_info: dict,
        meter_value: list | None = None, evse: dict | None = None, id_token: dict | None = None, **_,
    ):
        samples = samples_from_meter_values(meter_value or [])
        signed = signed_readings_from_meter_values(meter_value or [])
        transaction_id = transaction_info["transaction_id"]
        at = parse_timestamp(timestamp)
        evse_number = connector_number(evse["id"], field="evse.id") if evse else None  # checked before authorizing
        if evse and "connector_id" in evse:
            connector_number(evse["connector_id"], field="evse.connectorId")
        authorization = (
            await self.authorizer.authorize(station=self.station, uid=id_token["id_token"], at=at) if id_token else None
        )
        try:
            session = await db(
                services.transaction_event_record, station=self.station, event_type=event_type, at=at,
                transaction_ref=transaction_id, evse_number=evse_number,
                id_token=authorization.id_token if authorization else None, samples=samples, signed=signed,
                charging_state=transaction_info.get("charging_state"), seq_no=seq_no,
                stopped_reason=transaction_info.get("stopped_reason"), received_at=self.now(),
            )
        except services.SessionError as error:
            raise session_error(error) from error
        cost = await db(running_cost, session=session) if session is not None else None
        if event_type == TransactionEventEnumType.ended:
            self._cost_pushed_at.pop(transaction_id, None)
        elif samples and session is not None and session.state == ChargingSession.State.ACTIVE:
            self._push_cost_soon(session.pk, transaction_id)
        return call_result.TransactionEvent(
            total_cost=float(cost) if cost is not None else None,
            id_token_info=_id_token_info(authorization) if authorization else None,
        )

    # --- running cost pushed to the station (CostUpdated) ---------------------------------------
    def _push_cost_soon(self, session_id: int, transaction_id: str) -> None:
        """Send CostUpdated for this transaction in the background, at most once per
        OCPP_COST_UPDATED_INTERVAL seconds: the charger's messages are answered without waiting
        for pricing or for the charger's answer."""
        interval = getattr(settings, "OCPP_COST_UPDATED_INTERVAL", 60)
        now = time.monotonic()
        last = self._cost_pushed_at.get(transaction_id)
        if last is not None and now - last < interval:
            return
        self._cost_pushed_at[transaction_id] = now
        task = asyncio.create_task(self._push_cost(session_id, transaction_id))
        self._cost_tasks.add(task)
        task.add_done_callback(self._cost_tasks.discard)

    async def _push_cost(self, session_id: int, transaction_id: str) -> None:
        """Price the session as stored now and tell the station; any failure is only logged."""
        try:
            cost = await db(_running_cost_of, session_id)
            if cost is None:
                return
            await self.call(call.CostUpdated(total_cost=float(cost), transaction_id=transaction_id), suppress=False)
        except Exception as error:  # pricing or the charger failing must never touch the connection
            logger.warning("%s: CostUpdated for transaction %s not delivered: %r", self.id, transaction_id, error)

    @on(Action.meter_values)
    async def on_meter_values(self, evse_id: int, meter_value: list, **_):
        connector_number(evse_id, field="evseId", station=True)  # 0: the station's main meter
        samples_from_meter_values(meter_value)  # validated; readings outside a transaction are not stored
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_):
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    # --- remote commands (see connection.GatewayConnection.run_command) -----------------------
    def _command_remote_start(self, *, id_tag: str, connector: int | None = None, **_):
        return call.RequestStartTransaction(
            id_token={"id_token": id_tag, "type": "ISO14443"}, remote_start_id=next(_remote_start_ids),
            evse_id=connector,
        )

    def _command_remote_stop(self, *, transaction_ref: str, **_):
        return call.RequestStopTransaction(transaction_id=transaction_ref)

    def _command_reset(self, *, hard: bool = False, **_):
        return call.Reset(type=ResetEnumType.immediate if hard else ResetEnumType.on_idle)

    def _command_display_price(self, *, text: str, **_):
        """The price on the charger's display before the start (SetDisplayMessage, shown in front)."""
        return call.SetDisplayMessage(message={
            "id": next(_display_message_ids), "priority": "InFront",
            "message": {"format": "UTF8", "content": text[:512]},
        })

    def _command_unlock(self, *, connector: int, **_):
        return call.UnlockConnector(evse_id=connector, connector_id=1)

    def _command_reserve_now(self, *, connector: int, id_tag: str, expires_at: str, reservation_id: int, **_):
        return call.ReserveNow(id=reservation_id, expiry_date_time=expires_at, evse_id=connector,
                               id_token={"id_token": id_tag, "type": "ISO14443"})

    def _command_cancel_reservation(self, *, reservation_id: int, **_):
        return call.CancelReservation(reservation_id=reservation_id)
