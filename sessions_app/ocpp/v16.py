"""OCPP 1.6J: the central system's answers to a charger, each a thin call into sessions_app
services. The transactionId we hand out is the session's primary key."""
from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.datatypes import IdTagInfo
from ocpp.v16.enums import (
    Action,
    AuthorizationStatus,
    DataTransferStatus,
    RegistrationStatus,
    ResetType,
)

from sessions_app import services
from sessions_app.models import ChargingSession, ChargingStation

from .connection import GatewayConnection, session_error
from .database import db
from .payloads import (
    connector_number,
    meter_wh,
    parse_timestamp,
    samples_from_meter_values,
    signed_readings_from_meter_values,
)
from .running_cost import active_session_running_cost

logger = logging.getLogger(__name__)

#: California Pricing for OCPP 1.6 (Open Charge Alliance): the DataTransfer vendor and the configuration key a
#: charger sets to "true" when its display shows prices and costs.
COST_VENDOR_ID = "org.openchargealliance.costmsg"
COST_DISPLAY_KEY = "CustomDisplayCostAndPrice"


def _id_tag_info(authorization: services.Authorization) -> IdTagInfo:
    expiry = authorization.id_token.expires_at if authorization.id_token else None
    return IdTagInfo(
        status=AuthorizationStatus(authorization.status),
        expiry_date=expiry.isoformat() if expiry else None,
    )


def transaction_ref(*, started_at: datetime, meter_start: int, id_tag: str) -> str:
    """1.6 chargers have no transaction id of their own: a start is known by when, at which
    meter reading and for whom it happened, so a re-sent StartTransaction finds its session."""
    return f"v16-{int(started_at.timestamp())}-{meter_start}-{id_tag}"[:64]


def _start(
    *, station: ChargingStation, connector_id: int, id_tag: str, meter_start: int, started_at: datetime,
) -> ChargingSession:
    connector = services.connector_for_number(station=station, number=connector_id)
    return services.session_start_reported(
        connector=connector,
        started_at=started_at,
        meter_start_wh=Decimal(meter_start),
        transaction_ref=transaction_ref(started_at=started_at, meter_start=meter_start, id_tag=id_tag),
    )


def _session(station: ChargingStation, transaction_id: int) -> ChargingSession | None:
    """The session behind a transactionId, only if it ran on this station."""
    return ChargingSession.objects.filter(pk=transaction_id, connector__station_id=station.pk).first()


def _signed_record(*, station: ChargingStation, transaction_id: int, readings: list) -> bool:
    """Keep the signed readings of a transaction on this station; False when there is no such transaction."""
    session = _session(station, transaction_id)
    if session is None:
        return False
    services.session_signed_values_record(session=session, readings=readings)
    return True


def _stop(
    *, station: ChargingStation, transaction_id: int, stopped_at: datetime, meter_stop: int, reason: str,
    samples: list, signed: list,
) -> None:
    session = _session(station, transaction_id)
    if session is None:
        logger.warning("%s: stop of unknown transaction %s ignored", station, transaction_id)
    else:
        services.session_record_samples(session=session, samples=[s for s in samples if s.taken_at <= stopped_at])
        services.session_signed_values_record(session=session, readings=signed)
        services.session_stop(session=session, stopped_at=stopped_at, meter_stop_wh=Decimal(meter_stop), reason=reason)


def _connectors_without_meter_key(station: ChargingStation, at: datetime) -> list[int]:
    """Connector numbers of a calibration-law station that have no meter key in service at `at`."""
    if not ChargingStation.objects.filter(pk=station.pk, location__calibration_law=True).exists():
        return []
    return [n for n in station.connectors.order_by("number").values_list("number", flat=True)
            if services.meter_key_for(station=station, evse_number=n, at=at) is None]


class CentralSystem16(GatewayConnection, ChargePoint):
    ERROR_CODES = {
        "FormatViolation": "FormationViolation",
        "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._background: set[asyncio.Task] = set()
        self._cost_pushed_at: dict[int, float] = {}  # transactionId -> monotonic time of the last RunningCost
        self._cost_display: bool | None = None  # whether the charger advertises California Pricing (asked once)

    @on(Action.boot_notification)
    async def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, charge_point_serial_number: str = "",
        charge_box_serial_number: str = "", firmware_version: str = "", **_,
    ):
        now = self.now()
        self.station = await db(
            services.station_boot, station=self.station, booted_at=now, vendor=charge_point_vendor,
            model=charge_point_model, serial_number=charge_point_serial_number or charge_box_serial_number,
            firmware_version=firmware_version,
        )
        return call_result.BootNotification(
            current_time=now.isoformat(), interval=settings.OCPP_HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @after(Action.boot_notification)
    async def after_boot_notification(self, **_):
        """At a calibration-law location, ask for the public keys of meters the station has none registered
        for (`MeterPublicKey<connector>`, the OCA's configuration keys for signed meter values in 1.6), in the
        background; a charger without them answers so, and nothing happens."""
        task = asyncio.create_task(self._read_meter_keys())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _read_meter_keys(self) -> None:
        keys = {f"MeterPublicKey{n}": n for n in await db(_connectors_without_meter_key, self.station, self.now())}
        if not keys:
            return
        try:
            answer = await self.call(call.GetConfiguration(key=list(keys)), suppress=False)
        except Exception as error:  # not supported, no answer, gone: the operator enters keys in the admin
            logger.info("%s: meter keys not read: %r", self.id, error)
            return
        for entry in answer.configuration_key or []:
            number, value = keys.get(entry.get("key")), (entry.get("value") or "").strip()
            if number is not None and value:
                await db(services.meter_key_from_charger, station=self.station, evse_number=number,
                         public_key=value, at=self.now())

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_):
        now = self.now()
        self.writer.note_seen(self.station.pk, now)
        return call_result.Heartbeat(current_time=now.isoformat())

    @on(Action.status_notification)
    async def on_status_notification(
        self, connector_id: int, error_code: str, status: str, timestamp: str | None = None, info: str = "",
        vendor_id: str = "", vendor_error_code: str = "", **_,
    ):
        received_at = self.now()
        await db(
            services.connector_status_record, station=self.station,
            connector_number=connector_number(connector_id, field="connectorId", station=True), status=status,
            error_code="" if error_code == "NoError" else error_code, info=info, vendor_id=vendor_id,
            vendor_error_code=vendor_error_code, received_at=received_at,
            timestamp=parse_timestamp(timestamp) if timestamp else received_at,
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **_):
        authorization = await self.authorizer.authorize(station=self.station, uid=id_tag, at=self.now())
        return call_result.Authorize(id_tag_info=_id_tag_info(authorization))

    @on(Action.start_transaction)
    async def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_):
        """The start is checked and recorded before its token goes to the payment hook, so a start refused
        (a bad connector or meter reading, a start older than the connector's running session) places no
        hold; the token then names the session's driver. A re-sent start finds its session with the token
        already on it, and the hook gives a running session no second hold."""
        started_at = parse_timestamp(timestamp)
        meter_wh(meter_start, field="meterStart")
        try:
            session = await db(
                _start, station=self.station, connector_id=connector_number(connector_id, field="connectorId"),
                id_tag=id_tag, meter_start=meter_start, started_at=started_at,
            )
        except services.SessionError as error:
            raise session_error(error) from error
        authorization = await self.authorizer.authorize(station=self.station, uid=id_tag, at=started_at)
        if authorization.id_token is not None and session.id_token_id is None:
            session = await db(services.session_attach_token, session=session, id_token=authorization.id_token)
        return call_result.StartTransaction(transaction_id=session.pk, id_tag_info=_id_tag_info(authorization))

    @on(Action.meter_values)
    async def on_meter_values(self, connector_id: int, meter_value: list, transaction_id: int | None = None, **_):
        connector_number(connector_id, field="connectorId", station=True)
        samples = samples_from_meter_values(meter_value)
        signed = signed_readings_from_meter_values(meter_value)
        if transaction_id is None or not (samples or signed):
            return call_result.MeterValues()
        known = True
        if signed:  # rare (begin, end): stored on their own, before the answer
            known = await db(_signed_record, station=self.station, transaction_id=transaction_id, readings=signed)
        try:  # group commit: answered once the samples are committed (see sample_writer.py)
            if samples:
                known = await self.writer.record(station_id=self.station.pk, session_id=transaction_id,
                                                 samples=samples)
        except services.SessionError as error:
            raise session_error(error) from error
        if not known:
            logger.warning("%s: meter values for unknown transaction %s ignored", self.id, transaction_id)
        elif samples:
            self._push_running_cost_soon(transaction_id)
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self, meter_stop: int, timestamp: str, transaction_id: int, reason: str = "Local",
        id_tag: str | None = None, transaction_data: list | None = None, **_,
    ):
        meter_wh(meter_stop, field="meterStop")
        await self.writer.flush(station_id=self.station.pk, session_id=transaction_id)
        stopped_at = parse_timestamp(timestamp)
        try:
            await db(
                _stop, station=self.station, transaction_id=transaction_id, stopped_at=stopped_at,
                meter_stop=meter_stop, reason=reason, samples=samples_from_meter_values(transaction_data or []),
                signed=signed_readings_from_meter_values(transaction_data or []),
            )
        except services.SessionError as error:
            raise session_error(error) from error
        authorization = (
            await self.authorizer.authorize(station=self.station, uid=id_tag, at=stopped_at) if id_tag else None
        )
        return call_result.StopTransaction(id_tag_info=_id_tag_info(authorization) if authorization else None)

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_):
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    # --- California Pricing: the running cost on the charger's display (RunningCost) ----------------------
    async def _cost_display_advertised(self) -> bool:
        """CustomDisplayCostAndPrice = true in the charger's configuration, asked once per connection."""
        if self._cost_display is None:
            try:
                answer = await self.call(call.GetConfiguration(key=[COST_DISPLAY_KEY]), suppress=False)
            except Exception as error:  # no answer or a CallError: not advertised
                logger.info("%s: %s not readable (%r): no prices shown", self.id, COST_DISPLAY_KEY, error)
                self._cost_display = False
                return False
            self._cost_display = any(
                entry.get("key") == COST_DISPLAY_KEY and str(entry.get("value", "")).lower() == "true"
                for entry in answer.configuration_key or [])
        return self._cost_display

    def _push_running_cost_soon(self, transaction_id: int) -> None:
        """RunningCost for this transaction in the background, at most once per OCPP_COST_UPDATED_INTERVAL
        seconds, as 2.0.1's CostUpdated: the MeterValues answer never waits for pricing or the charger."""
        interval = getattr(settings, "OCPP_COST_UPDATED_INTERVAL", 60)
        now = time.monotonic()
        last = self._cost_pushed_at.get(transaction_id)
        if last is not None and now - last < interval:
            return
        self._cost_pushed_at[transaction_id] = now
        task = asyncio.create_task(self._push_running_cost(transaction_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _push_running_cost(self, transaction_id: int) -> None:
        try:
            cost = await db(active_session_running_cost, transaction_id)  # first: most sessions have no display
            if cost is None or not await self._cost_display_advertised():
                return
            data = {"transactionId": transaction_id, "timestamp": self.now().isoformat(), "cost": float(cost),
                    "state": "Charging"}
            await self.call(call.DataTransfer(vendor_id=COST_VENDOR_ID, message_id="RunningCost",
                                              data=json.dumps(data)), suppress=False)
        except Exception as error:  # pricing or the charger failing must never touch the connection
            logger.warning("%s: RunningCost for transaction %s not delivered: %r", self.id, transaction_id, error)

    # --- remote commands (see connection.GatewayConnection.run_command) -----------------------
    def _command_remote_start(self, *, id_tag: str, connector: int | None = None, **_):
        return call.RemoteStartTransaction(id_tag=id_tag, connector_id=connector)

    def _command_remote_stop(self, *, session_id: int, **_):
        return call.RemoteStopTransaction(transaction_id=session_id)

    def _command_reset(self, *, hard: bool = False, **_):
        return call.Reset(type=ResetType.hard if hard else ResetType.soft)

    async def _command_display_price(self, *, id_tag: str, text: str, **_):
        """The Open Charge Alliance's California Pricing for 1.6: SetUserPrice as a DataTransfer, only to a
        charger whose configuration advertises it (CustomDisplayCostAndPrice = true); None otherwise."""
        if not await self._cost_display_advertised():
            return None
        return call.DataTransfer(vendor_id=COST_VENDOR_ID, message_id="SetUserPrice",
                                 data=json.dumps({"idToken": id_tag, "priceText": text[:512]}))

    def _command_unlock(self, *, connector: int, **_):
        return call.UnlockConnector(connector_id=connector)

    def _command_reserve_now(self, *, connector: int, id_tag: str, expires_at: str, reservation_id: int, **_):
        return call.ReserveNow(connector_id=connector, expiry_date=expires_at, id_tag=id_tag,
                               reservation_id=reservation_id)

    def _command_cancel_reservation(self, *, reservation_id: int, **_):
        return call.CancelReservation(reservation_id=reservation_id)
