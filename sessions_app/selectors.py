"""Read queries shared by the admin, views and API, each scoped to who asks."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Min, Q, QuerySet

from .models import (
    ChargingSession,
    Location,
    MeterPublicKey,
    MeterSample,
    MeterSignatureCheck,
    Operator,
    SignedMeterValue,
    User,
)
from .ocmf.decoding import public_key_base64
from .ocmf.transparency import transparency_xml
from .periods import Reading


def operator_ids_for(user: User) -> set[int] | None:
    """The operators whose rows `user` may see; None means all of them (superusers)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    if user.is_operator_staff:
        return {user.operator_id} if user.operator_id else set()
    if user.is_support:
        return set(user.supported_operators.values_list("pk", flat=True))
    return set()


def scope_to_user(queryset: QuerySet, user: User) -> QuerySet:
    """Filter `queryset` to the rows of the operators `user` may see. Each scoped model names the
    way to its operator in `OWNER_PATH` (e.g. "location__operator"; "" for Operator itself)."""
    allowed = operator_ids_for(user)
    if allowed is None:
        return queryset
    path = queryset.model.OWNER_PATH
    lookup = f"{path}__in" if path else "pk__in"
    return queryset.filter(**{lookup: allowed})


def is_back_office(user: User) -> bool:
    """Active staff accounts with one of our back-office roles (or superusers): who may open the
    admin's scoped pages, analytics and audit log."""
    return bool(user.is_active and user.is_staff
                and (user.is_superuser or user.is_operator_staff or user.is_support))


def stations_online(now: datetime) -> Q:
    """ChargingStation.is_online as a query condition: connected, and heard from within two heartbeats."""
    horizon = now - timedelta(seconds=2 * settings.OCPP_HEARTBEAT_INTERVAL + 60)
    return Q(last_seen_at__gte=horizon) & ~Q(connected_to="")


def operators_for(user: User) -> QuerySet[Operator]:
    return scope_to_user(Operator.objects.all(), user)


def sessions_for_driver(driver: User) -> QuerySet[ChargingSession]:
    return ChargingSession.objects.filter(driver=driver).select_related(
        "connector__station__location", "operator"
    )


def session_samples(session: ChargingSession) -> QuerySet[MeterSample]:
    return MeterSample.objects.filter(session=session).order_by("taken_at")


def session_readings(session: ChargingSession, *, since: datetime | None = None) -> list[Reading]:
    """The session's meter readings in time order, as `periods.Reading`s (only those taken at or after `since`,
    when given): the values alone, without building a MeterSample per row."""
    samples = session_samples(session)
    if since is not None:
        samples = samples.filter(taken_at__gte=since)
    return [Reading(at, energy_wh, power_w, current_a)
            for at, energy_wh, power_w, current_a in samples.values_list("taken_at", "energy_wh", "power_w",
                                                                        "current_a")]


def session_sample_count(session: ChargingSession) -> int:
    return MeterSample.objects.filter(session=session).count()


def session_energy_so_far_wh(session: ChargingSession) -> Decimal:
    """Energy delivered so far: the final figure once stopped, else the latest meter reading since the start."""
    if session.state != ChargingSession.State.ACTIVE:
        return session.energy_wh
    readings = MeterSample.objects.filter(session=session).order_by("-taken_at")
    latest = readings.values_list("energy_wh", flat=True).first()
    return max(latest - session.meter_start_wh, Decimal(0)) if latest is not None else Decimal(0)


def visible_to(queryset: QuerySet, user: User, *, driver_path: str | None) -> QuerySet:
    """Rows `user` may see: a driver their own (reached by `driver_path`, e.g. "driver"; None means
    drivers see none of these), staff and support their operators' rows, superusers all."""
    if user.is_authenticated and user.is_active and user.is_driver and not user.is_superuser:
        return queryset.filter(**{driver_path: user}) if driver_path else queryset.none()
    return scope_to_user(queryset, user)


def operator_time_zone(operator_id: int) -> ZoneInfo:
    """The operator's time zone: that of most of its locations (ties: its first location).

    Operator has no time zone field of its own yet; this is the one place that decides."""
    row = (Location.objects.filter(operator_id=operator_id).values("time_zone")
           .annotate(n=Count("pk"), first=Min("pk")).order_by("-n", "first").first())
    return ZoneInfo(row["time_zone"] if row else settings.TIME_ZONE)


def session_signed_data(session: ChargingSession) -> tuple[list[str], MeterPublicKey | None]:
    """The session's signed OCMF records (plain text, in the order taken, each once) and the meter key that
    checks them: the one its signature check used, else the key in service at its start."""
    from .services.signed_values import meter_key_for

    records = list(dict.fromkeys(
        SignedMeterValue.objects.filter(session=session).exclude(ocmf="").order_by("taken_at", "pk")
        .values_list("ocmf", flat=True)))
    check = MeterSignatureCheck.objects.filter(session=session).select_related("meter_key").first()
    key = check.meter_key if check is not None and check.meter_key_id else meter_key_for(
        station=session.connector.station, evse_number=session.connector.number, at=session.started_at)
    return records, key


def session_transparency_xml(session: ChargingSession) -> bytes | None:
    """The session's signed data in the S.A.F.E. Transparenzsoftware's XML container; None when unsigned."""
    records, key = session_signed_data(session)
    if not records:
        return None
    return transparency_xml(records=records, public_key_hex=key.public_key if key else "", transaction_id=session.pk)


def meter_key_pem(key: MeterPublicKey) -> str:
    """The meter's public key as a PEM file's text."""
    body = public_key_base64(key.public_key)
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join(["-----BEGIN PUBLIC KEY-----", *lines, "-----END PUBLIC KEY-----", ""])
