"""Real-time authorization of roaming tokens (mod_tokens, `POST {tokens}/{uid}/authorize`), installed as
`sessions_app.hooks.remote_authorization`: the gateway asks it off its database thread, under its deadline,
before the payment hook.

- A token a partner pushed with whitelist ALWAYS or ALLOWED: no question (we choose the whitelist); the local
  verdict stands.
- ALLOWED_OFFLINE and NEVER: the partner is asked; its answer decides (ALLOWED: accepted, EXPIRED: expired,
  BLOCKED / NOT_ALLOWED / NO_CREDIT: blocked). Unreachable, or no answer in time: the local verdict stands,
  which is the whitelist rule (the IdToken of an ALLOWED_OFFLINE token is accepted, of a NEVER token blocked).
- A token nobody pushed: each registered partner of the station's operator with a tokens Sender interface is
  asked in turn; the first that knows it decides, and a token it allows is stored as if pushed.
- An operator's own card: no question.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sessions_app.models import ChargingStation, IdToken

from . import client
from .envelope import OcpiError
from .locations import evse_uid
from .models import Partner, PartnerToken
from .tokens import token_store

logger = logging.getLogger(__name__)
_STATUS = {"ALLOWED": "Accepted", "EXPIRED": "Expired"}
_ASKED = (PartnerToken.Whitelist.ALLOWED_OFFLINE, PartnerToken.Whitelist.NEVER)


def _ask(partner: Partner, uid: str, token_type: str, station: ChargingStation) -> dict[str, Any] | None:
    """The partner's AuthorizationInfo for the token at the station; None when it does not know the token or
    cannot be reached."""
    base = partner.endpoint_url("tokens", "SENDER")
    if not base:
        return None
    body = {"location_id": str(station.location_id),
            "evse_uids": [evse_uid(c) for c in station.connectors.all()]}
    try:
        reply = client.call("POST", f"{base.rstrip('/')}/{uid}/authorize", token=partner.token_theirs, body=body,
                            params={"type": token_type, "token_type": token_type})
    except client.PartnerUnreachable as error:
        logger.info("real-time authorization of %s at %s: %s", uid, partner, error)
        return None
    data = reply.data[0] if isinstance(reply.data, list) and reply.data else reply.data
    if not reply.ok or not isinstance(data, dict) or not isinstance(data.get("allowed"), str):
        return None
    return data


def _known(link: PartnerToken, station: ChargingStation) -> tuple[str, IdToken] | None:
    if link.whitelist not in _ASKED or not link.valid:
        return None
    info = _ask(link.partner, link.uid, link.type, station)
    if info is None:
        return None
    return _STATUS.get(info["allowed"], "Blocked"), link.id_token


def _unknown(uid: str, station: ChargingStation) -> tuple[str, IdToken | None] | None:
    partners = Partner.objects.filter(operator_id=station.location.operator_id, status=Partner.Status.REGISTERED)
    for partner in partners:
        info = _ask(partner, uid, "RFID", station)
        if info is None:
            continue
        token = info.get("token")
        if info["allowed"] != "ALLOWED" or not isinstance(token, dict):
            return _STATUS.get(info["allowed"], "Blocked"), None
        try:
            stored, _ = token_store(partner=partner, country_code=str(token.get("country_code", "")),
                                    party_id=str(token.get("party_id", "")), uid=str(token.get("uid", "")),
                                    token_type=str(token.get("type", "RFID")), data=token)
        except OcpiError as error:
            logger.warning("real-time authorization of %s by %s: its token cannot be stored: %s", uid, partner,
                           error.message)
            return "Blocked", None
        return "Accepted", stored.id_token
    return None


def remote_verdict(*, uid: str, id_token: IdToken | None, station: ChargingStation,
                   at: datetime) -> tuple[str, IdToken | None] | None:
    """The hook: a replacement verdict, or None to keep the local one."""
    if id_token is None:
        return _unknown(uid, station)
    link = PartnerToken.objects.filter(id_token=id_token).select_related("partner", "id_token").first()
    return _known(link, station) if link is not None else None
