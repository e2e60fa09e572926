"""Remote commands (start, stop, reset, unlock, reserve, cancel a reservation) from the web side to
whichever gateway holds a charger.

Each gateway process subscribes, in Redis, to the channel of every charger connected to it and
unsubscribes when it leaves; the web side publishes to the charger's channel. PUBLISH reports how
many gateways received the command, so 0 means the charger is connected nowhere. Commands need
REDIS_URL: without it there is no way to reach another process, and we say so instead of guessing.
The charger's answer is kept for an hour under `result_key(command id)`.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from evbilling.errors import UnavailableError
from sessions_app.models import ChargingSession, ChargingStation, Connector, IdToken

CHANNEL_PREFIX = "evbilling:ocpp:station:"
RESULT_PREFIX = "evbilling:ocpp:result:"
RESULT_TTL_SECONDS = 3600


class CommandsUnavailable(UnavailableError):
    """Remote commands need Redis (REDIS_URL) to reach the gateway processes."""


def channel_for(identity: str) -> str:
    return f"{CHANNEL_PREFIX}{identity}"


def result_key(command_id: str) -> str:
    return f"{RESULT_PREFIX}{command_id}"


@dataclass(frozen=True, slots=True)
class Sent:
    command_id: str
    delivered: bool  # a gateway holding the charger received it


def commands_redis_url() -> str:
    """Where remote commands travel: OCPP_COMMANDS_REDIS_URL, else REDIS_URL ("" when neither is set)."""
    return settings.OCPP_COMMANDS_REDIS_URL or settings.REDIS_URL


def _redis():
    if not commands_redis_url():
        raise CommandsUnavailable("Remote commands need Redis: set REDIS_URL and run the gateway with it.")
    import redis

    return redis.Redis.from_url(commands_redis_url())


def _publish(station: ChargingStation, command: str, **args) -> Sent:
    command_id = uuid.uuid4().hex
    message = json.dumps({"id": command_id, "command": command, "args": args})
    client = _redis()
    try:
        receivers = client.publish(channel_for(station.ocpp_identity), message)
    finally:
        client.close()
    return Sent(command_id=command_id, delivered=receivers > 0)


def station_remote_start(*, station: ChargingStation, id_token: IdToken, connector: int | None = None) -> Sent:
    return _publish(station, "remote_start", id_tag=id_token.uid, connector=connector)


def station_display_price(*, station: ChargingStation, id_token: IdToken, text: str) -> Sent:
    """Show `text` (the price) on the charger's display before the start: SetDisplayMessage (2.0.1), California
    Pricing's SetUserPrice DataTransfer (1.6, where the charger advertises it; else answered NotSupported)."""
    return _publish(station, "display_price", id_tag=id_token.uid, text=text)


def session_remote_stop(*, session: ChargingSession) -> Sent:
    return _publish(
        session.connector.station, "remote_stop", session_id=session.pk, transaction_ref=session.transaction_ref
    )


def station_reset(*, station: ChargingStation, hard: bool = False) -> Sent:
    return _publish(station, "reset", hard=hard)


def connector_unlock(*, connector: Connector) -> Sent:
    return _publish(connector.station, "unlock", connector=connector.number)


def connector_reserve(*, connector: Connector, id_token: IdToken, expires_at: datetime, reservation_id: int) -> Sent:
    return _publish(connector.station, "reserve_now", connector=connector.number, id_tag=id_token.uid,
                    expires_at=expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    reservation_id=reservation_id)


def station_reservation_cancel(*, station: ChargingStation, reservation_id: int) -> Sent:
    return _publish(station, "cancel_reservation", reservation_id=reservation_id)


def command_result(command_id: str) -> dict | None:
    """The charger's answer to a command ({"status": ...} or {"error": ...}), once it came."""
    client = _redis()
    try:
        raw = client.get(result_key(command_id))
    finally:
        client.close()
    return json.loads(raw) if raw else None
