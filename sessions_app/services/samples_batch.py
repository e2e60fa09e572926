"""Group commit: many chargers' MeterValues written in one transaction (the OCPP gateway's writer)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ..models import ChargingSession, ChargingStation, ConnectorStatusEvent, MeterSample
from .sessions import SampleIn, _require_aware, _validate_sample

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SampleReport:
    """The meter samples one MeterValues message reported for a transaction (our session id)."""

    station_id: int
    session_id: int
    samples: tuple[SampleIn, ...]


#: The largest id a session can have (a bigint column); a charger's transaction id past it is unknown.
_MAX_ID = 2**63 - 1

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
                pk__in={r.session_id for r in reports if 0 < r.session_id <= _MAX_ID}  # past the column: unknown
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
