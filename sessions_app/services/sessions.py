"""Sessions from start to stop: each operation transactional and safe to repeat (chargers re-send
messages after a reconnect, so the same start, samples or stop arriving twice changes nothing)."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from evbilling.errors import ApplicationError

from ..models import ChargingSession, Connector, IdToken, MeterSample
from ..signals import session_authorized, session_completed

logger = logging.getLogger(__name__)


class SessionError(ApplicationError):
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
            session = ChargingSession.objects.create(
                operator=operator,
                connector=connector,
                id_token=id_token,
                driver=id_token.driver if id_token else None,
                **(id_token.session_billing() if id_token else {}),
                transaction_ref=transaction_ref,
                started_at=started_at,
                meter_start_wh=meter_start_wh,
                last_message_at=started_at,
            )
            if id_token is not None:
                session_authorized.send_robust(sender=ChargingSession, session=session)
            return session
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


def session_attach_token(*, session: ChargingSession, id_token: IdToken) -> ChargingSession:
    """Name the token (and driver) of a session that started before anyone authorized (OCPP 2.0.1
    starts a transaction at plug-in). A session that already has a token keeps it."""
    if id_token.operator_id != session.operator_id:
        raise SessionError("This token belongs to another operator.")
    with transaction.atomic():
        attached = ChargingSession.objects.filter(pk=session.pk, id_token__isnull=True).update(
            id_token=id_token, driver_id=id_token.driver_id, **id_token.session_billing()
        )
        session.refresh_from_db(fields=["id_token", "driver", "company", "cost_centre"])
        if attached:
            session_authorized.send_robust(sender=ChargingSession, session=session)
    return session
