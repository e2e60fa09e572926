"""Stations, connectors and tokens as the OCPP gateway sees them: authorization (with the payment hook),
boot, presence, connector status timeline."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import hooks
from ..models import ChargingStation, Connector, ConnectorStatusEvent, IdToken
from .sessions import SessionError, _require_aware

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The verdict on a token presented at a station: an OCPP status and the token, when known."""

    status: str  # "Accepted", "Blocked", "Expired" or "Invalid" (unknown to this operator)
    id_token: IdToken | None = None
    reason: str = ""  # why a known token was refused (e.g. the payment hook's "card_declined")

    @property
    def accepted(self) -> bool:
        return self.status == "Accepted"


def token_authorize(*, station: ChargingStation, uid: str, at: datetime | None = None) -> Authorization:
    """May the token `uid` charge at `station`? Only tokens of the station's operator are known; an
    accepted token is then put to the payment hook (`authorization_payment_check`)."""
    at = at or timezone.now()
    return authorization_complete(authorization=token_check(station=station, uid=uid, at=at), uid=uid,
                                  station=station, at=at)


def authorization_complete(*, authorization: Authorization, uid: str, station: ChargingStation, at: datetime,
                           ) -> Authorization:
    """The local verdict put to the remote check (a roaming partner's real-time authorization, through
    `sessions_app.hooks.remote_authorization`), then to the payment hook. Both may wait on another service:
    the gateway runs this off its database thread, under a deadline."""
    return authorization_payment_check(authorization=authorization_remote_check(
        authorization=authorization, uid=uid, station=station, at=at), station=station, at=at)


def authorization_remote_check(*, authorization: Authorization, uid: str, station: ChargingStation, at: datetime,
                               ) -> Authorization:
    """The verdict of the app that issued the token elsewhere (None from the hook: the local one stands)."""
    remote = hooks.token_remote_verdict(uid=uid, id_token=authorization.id_token, station=station, at=at)
    if remote is None:
        return authorization
    status, id_token = remote
    logger.info("token %s at %s: remote verdict %s (local %s)", uid, station, status, authorization.status)
    return Authorization(status, id_token, reason="" if status == "Accepted" else "remote_authorization")


def token_check(*, station: ChargingStation, uid: str, at: datetime) -> Authorization:
    """The token's own verdict at `station` (known to the operator, blocked, expired), before any payment
    check. The OCPP gateway calls the two halves of `token_authorize` separately, so that the payment
    hook, which may wait on Stripe, never runs on its database thread."""
    token = (
        IdToken.objects.filter(operator_id=station.location.operator_id, uid__iexact=uid)
        .select_related("driver")
        .first()
    )
    if token is None:
        return Authorization("Invalid")
    if token.status == IdToken.Status.BLOCKED or not token.driver.is_active:
        return Authorization("Blocked", token)
    if token.status == IdToken.Status.EXPIRED or (token.expires_at is not None and token.expires_at <= at):
        return Authorization("Expired", token)
    return Authorization("Accepted", token)


def authorization_payment_check(*, authorization: Authorization, station: ChargingStation, at: datetime,
                                ) -> Authorization:
    """An accepted verdict put to the payment hook (`sessions_app.hooks.payment_standing`: billing places
    its pay-as-you-go hold there; sessions_app never imports billing): None keeps it accepted, a reason
    string refuses it (Blocked, with the reason). Other verdicts pass unchanged. The one place that calls
    the hook."""
    if not authorization.accepted:
        return authorization
    refusal = hooks.token_payment_standing(id_token=authorization.id_token, station=station, at=at)
    if not refusal:
        return authorization
    logger.info("token %s refused at %s: %s", authorization.id_token.uid, station, refusal)
    return Authorization("Blocked", authorization.id_token, reason=refusal)


def authorization_payment_unknown(*, authorization: Authorization) -> Authorization:
    """The verdict when the payment hook could not decide in time (the gateway's deadline passed while
    Stripe was slow): the rule billing applies when Stripe is unreachable, PAYMENT_ACCEPT_WHEN_STRIPE_DOWN
    (default on: accepted; off: Blocked, reason `payment_unavailable`)."""
    if not authorization.accepted or getattr(settings, "PAYMENT_ACCEPT_WHEN_STRIPE_DOWN", True):
        return authorization
    return Authorization("Blocked", authorization.id_token, reason="payment_unavailable")


def station_boot(
    *,
    station: ChargingStation,
    booted_at: datetime,
    vendor: str,
    model: str,
    serial_number: str = "",
    firmware_version: str = "",
) -> ChargingStation:
    """Record what a booting charger says it is; any vendor and model is accepted as reported."""
    _require_aware(booted_at, "booted_at")
    station.vendor = vendor[:50]
    station.model = model[:50]
    station.serial_number = (serial_number or station.serial_number)[:50]
    station.firmware_version = (firmware_version or station.firmware_version)[:50]
    station.last_boot_at = booted_at
    station.last_seen_at = max(filter(None, [station.last_seen_at, booted_at]))
    station.save(update_fields=["vendor", "model", "serial_number", "firmware_version", "last_boot_at", "last_seen_at"])
    return station


def station_seen(*, station_id: int, at: datetime) -> None:
    """Move last_seen_at forward (never back: late messages carry old clocks)."""
    ChargingStation.objects.filter(Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=at), pk=station_id).update(
        last_seen_at=at
    )


def station_connected(*, station_id: int, gateway: str, ocpp_version: str, at: datetime) -> None:
    ChargingStation.objects.filter(pk=station_id).update(
        connected_to=gateway, ocpp_version=ocpp_version, last_seen_at=at
    )


def station_disconnected(*, station_id: int, gateway: str) -> None:
    """Mark a station offline, unless it has meanwhile reconnected to another gateway."""
    ChargingStation.objects.filter(pk=station_id, connected_to=gateway).update(connected_to="")


def connector_for_number(*, station: ChargingStation, number: int) -> Connector:
    """The station's connector `number`. One the charger reports but we do not know yet is created
    like the station's first connector: the charger is the truth about its outlets, and a
    transaction on it must not be lost."""
    if number < 1:
        raise SessionError("A transaction needs a connector number of 1 or more.")
    connector = Connector.objects.filter(station=station, number=number).first()
    if connector is not None:
        return connector
    template = Connector.objects.filter(station=station).order_by("number").first()
    defaults = {
        "standard": template.standard if template else Connector.Standard.TYPE2,
        "power_type": template.power_type if template else Connector.PowerType.AC_3_PHASE,
        "max_power_kw": template.max_power_kw if template else Decimal("22"),
    }
    logger.warning("station %s reported unknown connector %s: created", station, number)
    connector, _created = Connector.objects.get_or_create(station=station, number=number, defaults=defaults)
    return connector


_STATION_STATUS = {
    "Available": ChargingStation.Status.AVAILABLE,
    "Unavailable": ChargingStation.Status.UNAVAILABLE,
    "Faulted": ChargingStation.Status.FAULTED,
}


def connector_status_record(
    *,
    station: ChargingStation,
    connector_number: int,
    status: str,
    timestamp: datetime,
    received_at: datetime,
    error_code: str = "",
    info: str = "",
    vendor_id: str = "",
    vendor_error_code: str = "",
) -> ConnectorStatusEvent:
    """Add a status to the station's timeline and show the newest one on the connector (0: station).

    Idempotent (one event per connector, instant, status and error), and order-proof: a late
    notification joins the timeline without overwriting a newer status.
    """
    _require_aware(timestamp, "timestamp")
    with transaction.atomic():
        event, _created = ConnectorStatusEvent.objects.get_or_create(
            station=station, connector_number=connector_number, timestamp=timestamp,
            status=status[:30], error_code=error_code[:30],
            defaults={
                "info": info[:50], "vendor_id": vendor_id[:255], "vendor_error_code": vendor_error_code[:50],
                "received_at": received_at,
            },
        )
        latest = (
            ConnectorStatusEvent.objects.filter(station=station, connector_number=connector_number)
            .order_by("-timestamp", "-pk")
            .first()
        )
        if connector_number == 0:
            ChargingStation.objects.filter(pk=station.pk).update(
                status=_STATION_STATUS.get(latest.status, ChargingStation.Status.UNKNOWN)
            )
        else:
            Connector.objects.filter(station=station, number=connector_number).update(status=latest.status)
    return event
