"""OCPP security profile 1: a charger proves who it is with HTTP Basic at the websocket handshake.

The username is the charger's identity (the last segment of the URL path) and the password is
checked against the station's stored hash. Hashing is deliberately slow, so a verified password is
remembered (as a SHA-256, keyed by the stored hash) and reconnects cost nothing; changing the
password changes the stored hash and forgets it.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
from urllib.parse import unquote, urlsplit

from sessions_app.models import ChargingStation

from .database import db

_verified: dict[tuple[int, str], bytes] = {}


def identity_from_path(path: str) -> str:
    return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])


def _station(identity: str) -> ChargingStation | None:
    return ChargingStation.objects.select_related("location").filter(ocpp_identity=identity).first()


async def station_authenticate(*, identity: str, username: str, password: str) -> ChargingStation | None:
    """The station when `username`/`password` are its credentials, else None (unknown or wrong)."""
    if not identity or username != identity:
        return None
    station = await db(_station, identity=identity)
    if station is None or not station.password_hash:
        return None
    key = (station.pk, station.password_hash)
    digest = hashlib.sha256(password.encode()).digest()
    remembered = _verified.get(key)
    if remembered is not None:
        return station if hmac.compare_digest(remembered, digest) else None
    if not await asyncio.to_thread(station.check_password, password):
        return None
    _verified[key] = digest
    return station
