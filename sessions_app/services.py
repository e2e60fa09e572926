"""Operations that change charging sessions. Every one is transactional and safe to repeat:
chargers re-send messages after a reconnect, so the same start, samples or stop arriving twice
changes nothing the second time.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import ChargingSession, ChargingStation, Connector, ConnectorStatusEvent, IdToken, MeterSample
from .signals import session_completed

logger = logging.getLogger(__name__)


class SessionError(Exception):
    """A request that would break a session invariant; the message says which."""


@dataclass(frozen=True, slots=True)
class SampleIn:
    taken_at: datetime
    energy_wh: Decimal
    power_w: Decimal | None = None
    current_a: Decimal | None = None
    soc_percent: int | None = None


def _require_aware(value: datetime, name: str) -> None:
    if timezone.is_naive(value):
        raise SessionError(f"{name} must carry a time zone.")


def session_start(
    *,
    connector: Connector,
    started_at: datetime,
    meter_start_wh: Decimal,
    transaction_ref: str,
    id_token: IdToken | None = None,
) -> ChargingSession:
    """Open a session on a connector, or return the one this transaction_ref already opened.

    A second, different session on a connector that has an active one is refused: the database's
    partial unique index would refuse it anyway, this gives the reason.
    """
    _require_aware(started_at, "started_at")
    if meter_start_wh < 0:
        raise SessionError("meter_start_wh cannot be negative.")
    operator = connector.station.location.operator
    if id_token is not None and id_token.operator_id != operator.pk:
        raise SessionError("This token belongs to another operator.")

    existing = ChargingSession.objects.filter(connector=connector, transaction_ref=transaction_ref).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return ChargingSession.objects.create(
                operator=operator,
                connector=connector,
                id_token=id_token,
                driver=id_token.driver if id_token else None,
                transaction_ref=transaction_ref,
                started_at=started_at,
                meter_start_wh=meter_start_wh,
                last_message_at=started_at,
            )
    except IntegrityError:
        existing = ChargingSession.objects.filter(connector=connector, transaction_ref=transaction_ref).first()
        if existing is not None:
            return existing
        raise SessionError(f"Connector {connector} already has an active session.") from None


def _validate_sample(sample: SampleIn) -> None:
    _require_aware(sample.taken_at, "taken_at")
    if sample.energy_wh < 0:
        raise SessionError("A meter register cannot be negative.")
    if sample.power_w is not None and sample.power_w < 0:
        raise SessionError("Power cannot be negative.")
    if sample.soc_percent is not None and not 0 <= sample.soc_percent <= 100:
        raise SessionError("State of charge must be between 0 and 100 %.")


def session_record_samples(*, session: ChargingSession, samples: Iterable[SampleIn]) -> int:
    """Store meter samples; returns how many were new.

    One sample per (session, instant): a repeated MeterValues message inserts nothing. Samples
    delivered late (after the stop) are kept when they fall inside the session's window; samples
    outside it are ignored, since they cannot belong to this session.
    """
    samples = list(samples)
    for sample in samples:
        _validate_sample(sample)
    window_end = session.stopped_at or timezone.now() + timedelta(minutes=5)
    rows = {
        s.taken_at: MeterSample(
            session=session,
            taken_at=s.taken_at,
            energy_wh=s.energy_wh,
            power_w=s.power_w,
            current_a=s.current_a,
            soc_percent=s.soc_percent,
        )
        for s in samples
        if session.started_at <= s.taken_at <= window_end
    }
    if not rows:
        return 0
    with transaction.atomic():
        known = set(
            MeterSample.objects.filter(session=session, taken_at__in=list(rows)).values_list(
                "taken_at", flat=True
            )
        )
        new = [row for at, row in rows.items() if at not in known]
        MeterSample.objects.bulk_create(new, ignore_conflicts=True)
        latest = max(rows)
        ChargingSession.objects.filter(
            Q(last_message_at__isnull=True) | Q(last_message_at__lt=latest), pk=session.pk
        ).update(last_message_at=latest)
    return len(new)


def session_stop(
    *,
    session: ChargingSession,
    stopped_at: datetime,
    meter_stop_wh: Decimal,
    reason: str = "Local",
) -> ChargingSession:
    """Complete a session and announce it (`session_completed`) for settlement.

    Idempotent: stopping a session that is already completed or failed returns it unchanged, so a
    re-sent StopTransaction neither re-prices nor re-announces it. The row is locked while it is
    checked, so two concurrent stops complete it once.
    """
    _require_aware(stopped_at, "stopped_at")
    with transaction.atomic():
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        if locked.state != ChargingSession.State.ACTIVE:
            return locked
        if stopped_at < locked.started_at:
            raise SessionError("A session cannot stop before it started.")
        if meter_stop_wh < locked.meter_start_wh:
            raise SessionError(
                f"Meter stop ({meter_stop_wh} Wh) is below meter start ({locked.meter_start_wh} Wh)."
            )
        locked.state = ChargingSession.State.COMPLETED
        locked.stopped_at = stopped_at
        locked.meter_stop_wh = meter_stop_wh
        locked.energy_wh = meter_stop_wh - locked.meter_start_wh
        locked.stop_reason = reason[:40]
        locked.last_message_at = max(filter(None, [locked.last_message_at, stopped_at]))
        locked.save()
        session_completed.send(sender=ChargingSession, session=locked)
    return locked


def session_fail(*, session: ChargingSession, reason: str) -> ChargingSession:
    """Close a session that never delivered a usable stop (charger lost, aborted start).

    The energy counted is what the last sample shows, never more; the session is not announced
    for settlement as a completed charge. Repeating it changes nothing.
    """
    with transaction.atomic():
        locked = ChargingSession.objects.select_for_update().get(pk=session.pk)
        if locked.state != ChargingSession.State.ACTIVE:
            return locked
        last = locked.samples.order_by("-taken_at").first()
        locked.state = ChargingSession.State.FAILED
        locked.stopped_at = max(last.taken_at if last else locked.started_at, locked.started_at)
        locked.meter_stop_wh = max(last.energy_wh if last else locked.meter_start_wh, locked.meter_start_wh)
        locked.energy_wh = locked.meter_stop_wh - locked.meter_start_wh
        locked.stop_reason = reason[:40]
        locked.save()
    return locked


def sessions_close_stale(*, now: datetime | None = None) -> int:
    """Fail active sessions whose charger has been silent for SESSION_STALE_AFTER_HOURS."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.SESSION_STALE_AFTER_HOURS)
    stale = ChargingSession.objects.filter(state=ChargingSession.State.ACTIVE, last_message_at__lt=cutoff)
    count = 0
    for session in stale:
        session_fail(session=session, reason="StaleNoStop")
        count += 1
    if count:
        logger.info("closed %d stale sessions", count)
    return count


def session_start_reported(
    *,
    connector: Connector,
    started_at: datetime,
    meter_start_wh: Decimal,
    transaction_ref: str,
    id_token: IdToken | None = None,
) -> ChargingSession:
    """A start a charger reports: the transaction already runs on the charger, so it is recorded.

    A charger only starts a transaction on a free connector, so an older session still active on
    it lost its stop (offline, crash): that one is failed (`Superseded`) to make room. A start older
    than the active session (a late, out-of-order message) is refused.
    """
    try:
        return session_start(
            connector=connector, started_at=started_at, meter_start_wh=meter_start_wh,
            transaction_ref=transaction_ref, id_token=id_token,
        )
    except SessionError:
        active = ChargingSession.objects.filter(connector=connector, state=ChargingSession.State.ACTIVE).first()
        if active is None or active.started_at > started_at:
            raise
        logger.warning("session %s on %s superseded by a new start", active.pk, connector)
        session_fail(session=active, reason="Superseded")
        return session_start(
            connector=connector, started_at=started_at, meter_start_wh=meter_start_wh,
            transaction_ref=transaction_ref, id_token=id_token,
        )


# --- Stations, connectors and tokens as the OCPP gateway sees them --------------------------------

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
    """May the token `uid` charge at `station`? Only tokens of the station's operator are known."""
    at = at or timezone.now()
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
    refusal = _payment_standing(token=token, station=station, at=at)
    if refusal:
        return Authorization("Blocked", token, reason=refusal)
    return Authorization("Accepted", token)


@cache
def _standing_function(path: str):
    return import_string(path) if path else None


def _payment_standing(*, token: IdToken, station: ChargingStation, at: datetime) -> str | None:
    """The payment hook named in SESSIONS_PAYMENT_STANDING_FUNCTION (billing places its pay-as-you-go hold
    there; sessions_app never imports billing): None accepts, a reason string refuses."""
    check = _standing_function(getattr(settings, "SESSIONS_PAYMENT_STANDING_FUNCTION", ""))
    if check is None:
        return None
    refusal = check(id_token=token, station=station, at=at)
    if refusal:
        logger.info("token %s refused at %s: %s", token.uid, station, refusal)
    return refusal


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


def session_attach_token(*, session: ChargingSession, id_token: IdToken) -> ChargingSession:
    """Name the token (and driver) of a session that started before anyone authorized (OCPP 2.0.1
    starts a transaction at plug-in). A session that already has a token keeps it."""
    if id_token.operator_id != session.operator_id:
        raise SessionError("This token belongs to another operator.")
    ChargingSession.objects.filter(pk=session.pk, id_token__isnull=True).update(
        id_token=id_token, driver_id=id_token.driver_id
    )
    session.refresh_from_db(fields=["id_token", "driver"])
    return session


# --- Group commit: many chargers' MeterValues in one transaction (the OCPP gateway's writer) -----

@dataclass(frozen=True, slots=True)
class SampleReport:
    """The meter samples one MeterValues message reported for a transaction (our session id)."""

    station_id: int
    session_id: int
    samples: tuple[SampleIn, ...]


def samples_validate(*, samples: Iterable[SampleIn]) -> None:
    """Raise SessionError for a sample no session may store (checked before a sample is queued)."""
    for sample in samples:
        _validate_sample(sample)


def session_samples_record_many(
    *, reports: list[SampleReport], seen_station_ids: Iterable[int] = (), seen_at: datetime | None = None
) -> list[bool]:
    """Store the samples of many MeterValues messages in one transaction; returns, per report,
    whether its session exists on its station (an unknown one stores nothing).

    The same rules as session_record_samples, applied to all reports at once: one sample per
    (session, instant), the first one reported winning (re-sent or duplicated values insert
    nothing, enforced by the unique constraint); only samples inside the session's window are
    kept; last_message_at only moves forward. The stations in `seen_station_ids` get last_seen_at
    = `seen_at` in the same transaction.
    """
    for report in reports:
        samples_validate(samples=report.samples)
    seen_station_ids = list(seen_station_ids)
    if not reports and not seen_station_ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        sessions = {
            pk: (station_id, started_at, stopped_at)
            for pk, station_id, started_at, stopped_at in ChargingSession.objects.filter(
                pk__in={r.session_id for r in reports}
            ).values_list("pk", "connector__station_id", "started_at", "stopped_at")
        }
        known, rows, latest = [], {}, {}
        for report in reports:
            found = sessions.get(report.session_id)
            known.append(found is not None and found[0] == report.station_id)
            if not known[-1]:
                continue
            _station_id, started_at, stopped_at = found
            window_end = stopped_at or now + timedelta(minutes=5)
            for s in report.samples:
                if started_at <= s.taken_at <= window_end:
                    rows.setdefault((report.session_id, s.taken_at), MeterSample(
                        session_id=report.session_id, taken_at=s.taken_at, energy_wh=s.energy_wh,
                        power_w=s.power_w, current_a=s.current_a, soc_percent=s.soc_percent,
                    ))
                    latest[report.session_id] = max(s.taken_at, latest.get(report.session_id, s.taken_at))
        MeterSample.objects.bulk_create(rows.values(), ignore_conflicts=True)
        _sessions_heard_at(latest)
        if seen_station_ids:
            ChargingStation.objects.filter(
                Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=seen_at or now), pk__in=seen_station_ids
            ).update(last_seen_at=seen_at or now)
    return known


def _sessions_heard_at(latest: dict[int, datetime]) -> None:
    """last_message_at = max(last_message_at, latest[session]) for many sessions.

    One parametrised statement run for every session (executemany): the ORM has no bulk
    "update each row to its own value only if greater", and building it as CASE WHEN costs more
    than storing the samples.
    """
    if not latest:
        return
    meta = ChargingSession._meta
    column = connection.ops.quote_name(meta.get_field("last_message_at").column)
    sql = (  # only quoted model metadata is interpolated; every value is a parameter
        f"UPDATE {connection.ops.quote_name(meta.db_table)} SET {column} = %s "  # noqa: S608
        f"WHERE {connection.ops.quote_name(meta.pk.column)} = %s AND ({column} IS NULL OR {column} < %s)"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(sql, [(adapt(at), pk, adapt(at)) for pk, at in latest.items()])


def session_charging_state_record(
    *, session: ChargingSession, state: str, at: datetime, received_at: datetime, seq_no: int | None = None
) -> ConnectorStatusEvent | None:
    """Put an OCPP 2.0.1 chargingState (Charging, SuspendedEV, SuspendedEVSE, EVConnected, Idle)
    on the session's connector timeline, where billing finds SuspendedEVSE to waive idle fees.

    Only changes are kept: a state equal to the one in force at `at` (the timeline's latest event
    at or before it) adds nothing, so periodic events and re-sent ones store nothing twice, and a
    late event still lands in its place by timestamp. The connector's shown status (from
    StatusNotification) is left as it is.
    """
    _require_aware(at, "at")
    connector = session.connector
    with transaction.atomic():
        current = (
            ConnectorStatusEvent.objects.filter(
                station_id=connector.station_id, connector_number=connector.number, timestamp__lte=at
            )
            .order_by("-timestamp", "-pk")
            .values_list("status", flat=True)
            .first()
        )
        if current == state[:30]:
            return None
        event, _created = ConnectorStatusEvent.objects.get_or_create(
            station_id=connector.station_id, connector_number=connector.number, timestamp=at,
            status=state[:30], error_code="",
            defaults={
                "info": f"chargingState, seqNo {seq_no}" if seq_no is not None else "chargingState",
                "received_at": received_at,
            },
        )
    return event
