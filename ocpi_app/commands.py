"""Commands module, Receiver side (mod_commands): START_SESSION, STOP_SESSION, UNLOCK_CONNECTOR, RESERVE_NOW and
CANCEL_RESERVATION from a partner, carried to the charger by the OCPP gateway's remote commands
(`sessions_app.ocpp.commands`, Redis to whichever gateway holds the charger).

The answer to the POST is the CommandResponse: ACCEPTED with a timeout once the command reached a gateway,
REJECTED when the charger is connected nowhere (or remote commands are unavailable), UNKNOWN_SESSION for a
session that is not the partner's. The charger's own answer comes later: the task `command_result_send` waits
for it (up to OCPI_COMMAND_TIMEOUT seconds) and POSTs the CommandResult to the partner's `response_url`.
Everything is scoped to the partner's operator: another operator's location is unknown (2003).
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing_app.pricing import ocpi
from evbilling.on_commit import after_commit
from sessions_app.models import ChargingSession, Connector
from sessions_app.ocpp import commands as gateway

from . import client, envelope
from .envelope import OcpiError
from .models import CommandRequest, Partner, PartnerToken
from .sessions import partner_sessions
from .tokens import token_store

logger = logging.getLogger(__name__)
COMMANDS = ("START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR", "RESERVE_NOW", "CANCEL_RESERVATION")
Result = CommandRequest.Result

#: The charger's answer (OCPP status) -> the CommandResult, per command.
_ANSWERS = {
    "CANCEL_RESERVATION": {"Accepted": Result.CANCELED_RESERVATION, "Rejected": Result.UNKNOWN_RESERVATION},
    "UNLOCK_CONNECTOR": {"Unlocked": Result.ACCEPTED, "UnlockFailed": Result.FAILED,
                         "NotSupported": Result.NOT_SUPPORTED, "OngoingAuthorizedTransaction": Result.REJECTED,
                         "UnknownConnector": Result.FAILED},
    "RESERVE_NOW": {"Accepted": Result.ACCEPTED, "Faulted": Result.EVSE_INOPERATIVE,
                    "Occupied": Result.EVSE_OCCUPIED, "Rejected": Result.REJECTED,
                    "Unavailable": Result.EVSE_INOPERATIVE},
}


def _text(data: dict[str, Any], key: str, length: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > length:
        raise OcpiError(f"{key}: a string of 1 to {length} characters is required.")
    return value


def _connector(partner: Partner, data: dict[str, Any], *, evse_required: bool) -> Connector:
    location_id = _text(data, "location_id", 36)
    evse = data.get("evse_uid")
    if evse is None and evse_required:
        raise OcpiError("evse_uid is required.")
    connectors = Connector.objects.filter(station__location__operator_id=partner.operator_id,
                                          station__location_id=int(location_id) if location_id.isdigit() else -1)
    if not connectors.exists():
        raise envelope.not_found("Unknown location.", status_code=envelope.UNKNOWN_LOCATION)
    if evse is None:
        found = connectors.select_related("station").order_by("station__ocpp_identity", "number").first()
        return found
    identity, _, number = str(evse).rpartition("-")
    found = connectors.filter(station__ocpp_identity=identity, number=int(number) if number.isdigit() else -1).first()
    if found is None:
        raise envelope.not_found("Unknown EVSE at this location.", status_code=envelope.UNKNOWN_LOCATION)
    return found


def _token(partner: Partner, data: dict[str, Any]) -> PartnerToken:
    token = data.get("token")
    if not isinstance(token, dict):
        raise OcpiError("token: the Token object is required.")
    uid, token_type = _text(token, "uid", 36), token.get("type") or "RFID"
    stored = PartnerToken.objects.filter(partner=partner, uid=uid, type=token_type).first()
    incoming = token.get("last_updated")
    try:
        newer = stored is None or ocpi.parse_datetime(incoming, "token.last_updated") > stored.last_updated
    except ocpi.OcpiError as error:
        raise OcpiError(str(error)) from None
    if newer:
        stored, _ = token_store(partner=partner, country_code=str(token.get("country_code", "")),
                                party_id=str(token.get("party_id", "")), uid=uid, token_type=token_type, data=token)
    if not stored.id_token.status == "accepted":
        raise OcpiError("token: this token may not charge (invalid, or real-time authorization only).")
    return stored


def _expiry(data: dict[str, Any]) -> datetime:
    try:
        return ocpi.parse_datetime(data.get("expiry_date"), "expiry_date")
    except ocpi.OcpiError as error:
        raise OcpiError(str(error)) from None


def command_receive(*, partner: Partner, command: str, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a partner's command, send it to the charger and answer the CommandResponse."""
    if command not in COMMANDS:
        raise envelope.not_found(f"Unknown command {command!r}; we support {', '.join(COMMANDS)}.")
    response_url = _text(data, "response_url", 500)
    if not response_url.startswith(("http://", "https://")):
        raise OcpiError("response_url: an http(s) URL is required.")
    request = CommandRequest(partner=partner, command=command, response_url=response_url, body=ocpi.dumps(data))
    with transaction.atomic():
        if command == "STOP_SESSION":
            request.reference = _text(data, "session_id", 36)
            session = (partner_sessions(partner).filter(pk=int(request.reference), state=ChargingSession.State.ACTIVE)
                       .first() if request.reference.isdigit() else None)
            if session is None:
                return {"result": "UNKNOWN_SESSION", "timeout": 0}
            request.connector = session.connector
            send = lambda: gateway.session_remote_stop(session=session)  # noqa: E731
        elif command == "CANCEL_RESERVATION":
            request.reference = _text(data, "reservation_id", 36)
            reserved = (CommandRequest.objects.filter(partner=partner, command="RESERVE_NOW",
                                                      reference=request.reference, result=Result.ACCEPTED)
                        .select_related("connector__station").last())
            if reserved is None or reserved.connector is None:
                return {"result": "REJECTED", "timeout": 0,
                        "message": [{"language": "en", "text": "Unknown reservation."}]}
            request.connector = reserved.connector
            send = lambda: gateway.station_reservation_cancel(station=reserved.connector.station,  # noqa: E731
                                                              reservation_id=reserved.pk)
        else:
            request.connector = _connector(partner, data, evse_required=command == "UNLOCK_CONNECTOR")
            if command == "UNLOCK_CONNECTOR":
                _text(data, "connector_id", 36)
                send = lambda: gateway.connector_unlock(connector=request.connector)  # noqa: E731
            else:
                token = _token(partner, data)
                if command == "START_SESSION":
                    send = lambda: gateway.station_remote_start(  # noqa: E731
                        station=request.connector.station, id_token=token.id_token, connector=request.connector.number)
                else:
                    request.reference = _text(data, "reservation_id", 36)
                    expires_at = _expiry(data)
                    send = lambda: gateway.connector_reserve(  # noqa: E731
                        connector=request.connector, id_token=token.id_token, expires_at=expires_at,
                        reservation_id=request.pk)
        request.save()
    try:
        sent = send()
    except gateway.CommandsUnavailable as error:
        return _refused(request, str(error))
    if not sent.delivered:
        return _refused(request, "The charger is not connected.")
    request.command_id = sent.command_id
    request.save(update_fields=["command_id"])
    after_commit(command_result_send.delay, request.pk)
    return {"result": "ACCEPTED", "timeout": settings.OCPI_COMMAND_TIMEOUT}


def _refused(request: CommandRequest, why: str) -> dict[str, Any]:
    request.result, request.charger_answer = Result.REJECTED, why[:255]
    request.save(update_fields=["result", "charger_answer"])
    return {"result": "REJECTED", "timeout": 0, "message": [{"language": "en", "text": why}]}


def command_result_of(request: CommandRequest, answer: dict[str, Any] | None) -> str:
    if answer is None:
        return Result.TIMEOUT
    if "error" in answer:
        return Result.NOT_SUPPORTED if "NotImplemented" in answer["error"] or "NotSupported" in answer["error"] \
            else Result.FAILED
    status = str(answer.get("status", ""))
    table = _ANSWERS.get(request.command, {"Accepted": Result.ACCEPTED, "Rejected": Result.REJECTED})
    return table.get(status, Result.FAILED)


def command_result_deliver(*, request_id: int, wait: float | None = None) -> CommandRequest:
    """Wait for the charger's answer (at most OCPI_COMMAND_TIMEOUT seconds) and POST the CommandResult.
    Runs once per command: a request already answered is left alone."""
    request = CommandRequest.objects.select_related("partner").get(pk=request_id)
    if request.result != Result.PENDING:
        return request
    deadline = time.monotonic() + (settings.OCPI_COMMAND_TIMEOUT if wait is None else wait)
    answer = gateway.command_result(request.command_id)
    while answer is None and time.monotonic() < deadline:
        time.sleep(0.25)
        answer = gateway.command_result(request.command_id)
    request.result = command_result_of(request, answer)
    request.charger_answer = str(answer or "")[:255]
    body: dict[str, Any] = {"result": request.result}
    if answer and "error" in answer:
        body["message"] = [{"language": "en", "text": str(answer["error"])[:512]}]
    try:
        reply = client.call("POST", request.response_url, token=request.partner.token_theirs, body=body)
        request.result_error = "" if reply.ok else f"HTTP {reply.http_status}, OCPI {reply.status_code}"
        request.result_sent_at = timezone.now() if reply.ok else None
    except client.PartnerUnreachable as error:
        request.result_error = str(error)[:255]
    request.save(update_fields=["result", "charger_answer", "result_error", "result_sent_at"])
    return request


@shared_task(name="ocpi_app.commands.command_result_send")
def command_result_send(request_id: int) -> str:
    return command_result_deliver(request_id=request_id).result
