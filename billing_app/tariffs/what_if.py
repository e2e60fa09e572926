"""Tariff what-if: a draft tariff tried on the sessions of a date range, compared with what they were charged.

The draft is an OCPI 2.2.1 Tariff object (an edited, unassigned copy of a stored tariff, see
`tariffs.services.tariff_copy_draft`, or an uploaded file), frozen as JSON on the run. Each session of the
range (started on the run's days in the operator's time zone, at its locations, optionally only those charged
with one tariff) is priced again by the pure engine with the same input settlement uses
(`tariffs.cdr.session_pricing_input`), and compared with its stored charge. Nothing is written but the run and
its rows: a stored charge never changes.

Left out of the comparison, and counted: sessions whose charge a subscription plan reduced (their price
depends on the plan, not only the tariff), sessions charged in another currency than the draft's, and sessions
the draft cannot price. The draft's own validity dates are ignored (the question is "what if it had applied").

Per session the difference is incl. VAT (what the driver pays); totals and stations show both excl. and incl.
VAT. Amounts are the engine's rounded totals and the stored 2-place charges; sums are exact Decimals.

A run that makes no progress for `WHAT_IF_STALLED_AFTER_MINUTES` (its worker died, its task was lost) is
stalled. Starting it again starts over, never resumes: each take of the run by a worker is a new `attempt`,
which first discards the rows a previous attempt left; every chunk of rows is written in a transaction that
holds the run's row and checks the attempt is still the current one, so an attempt that wakes up late writes
nothing, and results are shown only once the run is done. No row is ever written twice.
"""
from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from billing_app import pricing
from billing_app.models import SessionCharge, Tariff, WhatIfRun, WhatIfSession
from billing_app.pricing import ocpi
from billing_app.settlement.selectors import charge_vat_breakdown
from billing_app.tariffs.cdr import session_pricing_input
from billing_app.tariffs.checks import TariffWarning, tariff_checks
from billing_app.tariffs.import_messages import import_error_text
from evbilling.errors import ApplicationError, ConflictError
from sessions_app.models import ChargingSession, Location, Operator, User
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

CHUNK = 200
TOP_CHANGES = 10
#: Bucket bounds of a per-session difference, in currency units: [0.01, 0.50), [0.50, 1), [1, 2), [2, 5), 5 and more.
BUCKET_BOUNDS = (Decimal("0.50"), Decimal(1), Decimal(2), Decimal(5))
CENT = Decimal("0.01")
SKIP_PLAN, SKIP_CURRENCY, SKIP_UNPRICEABLE = "plan", "currency", "unpriceable"


class WhatIfError(ApplicationError):
    """A what-if that cannot be made (a draft the engine cannot read); the message names the path."""


class WhatIfBusyError(WhatIfError, ConflictError):
    """A run that is done, or still making progress, is not started again."""


class _Superseded(Exception):
    """This attempt is no longer the run's current one (the run was started again): it stops, writing nothing."""


def draft_from_ocpi(data: Any) -> pricing.Tariff:
    """The draft as the engine reads it, or WhatIfError naming the path (`elements[2].restrictions...`)."""
    try:
        return ocpi.tariff_from_ocpi(data)
    except ocpi.OcpiError as error:
        raise WhatIfError(import_error_text(str(error))) from None


def draft_warnings(run: WhatIfRun) -> list[TariffWarning]:
    """The tariff checks of the run's draft (shown beside its result)."""
    return tariff_checks(draft_from_ocpi(ocpi.loads(run.draft_ocpi_json)))


@transaction.atomic
def what_if_create(*, operator: Operator, created_by: User | None, draft: dict[str, Any], draft_name: str,
                   start_date: date, end_date: date, locations: Iterable[Location] = (),
                   draft_tariff: Tariff | None = None, compared_tariff: Tariff | None = None) -> WhatIfRun:
    """Store a queued run (the caller queues its task after commit). The draft is validated by the engine's
    parser; tariffs and locations must be the operator's (the forms scope them; this is the last word)."""
    draft_from_ocpi(draft)
    if end_date < start_date:
        raise WhatIfError(gettext("The end date is before the start date."))
    locations = list(locations)
    for name, owner in [("draft_tariff", draft_tariff and draft_tariff.operator_id),
                        ("compared_tariff", compared_tariff and compared_tariff.operator_id),
                        *(("locations", loc.operator_id) for loc in locations)]:
        if owner and owner != operator.pk:
            raise WhatIfError(gettext("%(field)s: belongs to another operator.") % {"field": name})
    run = WhatIfRun.objects.create(
        operator=operator, created_by=created_by, draft_name=draft_name[:160], draft_tariff=draft_tariff,
        draft_ocpi_json=ocpi.dumps(draft), compared_tariff=compared_tariff, start_date=start_date, end_date=end_date,
        heartbeat_at=timezone.now(),
    )
    run.locations.set(locations)
    return run


def what_if_sessions(run: WhatIfRun) -> QuerySet[ChargingSession]:
    """The priced sessions a run compares: started on its days (operator's time zone), the operator's only."""
    zone = operator_time_zone(run.operator_id)
    since = datetime.combine(run.start_date, time.min, zone)
    until = datetime.combine(run.end_date + timedelta(days=1), time.min, zone)
    sessions = ChargingSession.objects.filter(operator_id=run.operator_id, state=ChargingSession.State.COMPLETED,
                                              started_at__gte=since, started_at__lt=until, charge__isnull=False)
    location_ids = list(run.locations.values_list("pk", flat=True))
    if location_ids:
        sessions = sessions.filter(connector__station__location_id__in=location_ids)
    if run.compared_tariff_id:
        sessions = sessions.filter(charge__tariff_id=run.compared_tariff_id)
    return sessions.order_by("started_at", "pk")


@dataclass
class _Figures:
    sessions: int = 0
    charged_excl: Decimal = Decimal(0)
    charged_incl: Decimal = Decimal(0)
    draft_excl: Decimal = Decimal(0)
    draft_incl: Decimal = Decimal(0)

    def add(self, row: WhatIfSession) -> None:
        self.sessions += 1
        self.charged_excl += row.charged_excl_vat
        self.charged_incl += row.charged_incl_vat
        self.draft_excl += row.draft_excl_vat
        self.draft_incl += row.draft_incl_vat

    def as_dict(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "charged": {"excl_vat": str(self.charged_excl), "incl_vat": str(self.charged_incl)},
            "draft": {"excl_vat": str(self.draft_excl), "incl_vat": str(self.draft_incl)},
            "difference": {"excl_vat": str(self.draft_excl - self.charged_excl),
                           "incl_vat": str(self.draft_incl - self.charged_incl)},
            "difference_percent": (str(((self.draft_excl - self.charged_excl) * 100 / self.charged_excl)
                                       .quantize(Decimal("0.1")))
                                   if self.charged_excl else None),
        }


def bucket_of(difference: Decimal) -> int:
    """Index of a difference's bucket: 0..4 less (largest first), 5 the same, 6..10 more (smallest first)."""
    if difference == 0:
        return len(BUCKET_BOUNDS) + 1
    size = sum(1 for bound in BUCKET_BOUNDS if abs(difference) >= bound)
    return len(BUCKET_BOUNDS) - size if difference < 0 else len(BUCKET_BOUNDS) + 2 + size


def bucket_labels() -> list[str]:
    lows = (CENT, *BUCKET_BOUNDS)
    spans = [f"{low:.2f} to {high - CENT:.2f}" for low, high in zip(lows, BUCKET_BOUNDS, strict=False)]
    spans.append(f"{BUCKET_BOUNDS[-1]:.2f} or more")
    return [f"less by {s}" for s in reversed(spans)] + ["the same"] + [f"more by {s}" for s in spans]


@dataclass
class Comparison:
    """The run's figures, accumulated session by session (memory bounded: stations and the top changes)."""

    currency: str
    total: _Figures = field(default_factory=_Figures)
    stations: dict[str, _Figures] = field(default_factory=dict)
    locations: dict[str, str] = field(default_factory=dict)
    buckets: list[int] = field(default_factory=lambda: [0] * (2 * len(BUCKET_BOUNDS) + 3))
    more: list = field(default_factory=lambda: [0, Decimal(0)])
    less: list = field(default_factory=lambda: [0, Decimal(0)])
    skipped: dict[str, int] = field(default_factory=lambda: {SKIP_PLAN: 0, SKIP_CURRENCY: 0, SKIP_UNPRICEABLE: 0})
    top: list = field(default_factory=list)  # heap of (|difference|, -session id, entry)

    def add(self, row: WhatIfSession, *, location: str, started_at: datetime, charged: dict, draft: dict) -> None:
        self.total.add(row)
        self.stations.setdefault(row.station, _Figures()).add(row)
        self.locations[row.station] = location
        difference = row.difference_incl_vat
        self.buckets[bucket_of(difference)] += 1
        if difference > 0:
            self.more[0] += 1
            self.more[1] += difference
        elif difference < 0:
            self.less[0] += 1
            self.less[1] += difference
        key = (abs(difference), -row.session_id)
        if len(self.top) < TOP_CHANGES or key > self.top[0][:2]:
            entry = {"session_id": row.session_id, "station": row.station, "started_at": started_at.isoformat(),
                     "difference": str(difference), "charged": charged, "draft": draft}
            item = (*key, entry)
            if len(self.top) < TOP_CHANGES:
                heapq.heappush(self.top, item)
            else:
                heapq.heapreplace(self.top, item)

    def summary(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            **self.total.as_dict(),
            "skipped": self.skipped,
            "more": {"count": self.more[0], "amount": str(self.more[1])},
            "less": {"count": self.less[0], "amount": str(self.less[1])},
            "same": {"count": self.total.sessions - self.more[0] - self.less[0]},
            "buckets": [{"label": label, "count": count} for label, count in zip(bucket_labels(), self.buckets,
                                                                                  strict=True)],
            "stations": [{"station": station, "location": self.locations[station], **figures.as_dict()}
                         for station, figures in sorted(self.stations.items())],
            "top": [entry for *_, entry in sorted(self.top, key=lambda item: item[:2], reverse=True)],
        }


def stalled_after() -> timedelta:
    return timedelta(minutes=settings.WHAT_IF_STALLED_AFTER_MINUTES)


def what_if_stalled(run: WhatIfRun, *, now: datetime | None = None) -> bool:
    """Queued or running, and no progress for `WHAT_IF_STALLED_AFTER_MINUTES`: its worker stopped or its task
    was lost (a run stored before heartbeats counts from its creation)."""
    if run.state not in (WhatIfRun.State.QUEUED, WhatIfRun.State.RUNNING):
        return False
    return (run.heartbeat_at or run.created_at) < (now or timezone.now()) - stalled_after()


_RESET = {"sessions_done": 0, "sessions_total": 0, "summary": {}, "error": "", "finished_at": None}


@transaction.atomic
def what_if_requeue(*, run_id: int) -> WhatIfRun:
    """Make a failed or stalled run queued again (the caller queues its task after commit), discarding the rows
    it had written, in one transaction under the run's row lock. A done run, or one still making progress, is
    refused (WhatIfBusyError). Scoping is the caller's (the admin finds the run among the user's)."""
    run = WhatIfRun.objects.select_for_update().get(pk=run_id)
    if not (run.state == WhatIfRun.State.FAILED or what_if_stalled(run)):
        raise WhatIfBusyError(gettext("Only a failed or stalled run can be started again."))
    run.sessions.all().delete()
    for name, value in {**_RESET, "state": WhatIfRun.State.QUEUED, "heartbeat_at": timezone.now()}.items():
        setattr(run, name, value)
    run.save(update_fields=[*_RESET, "state", "heartbeat_at"])
    return run


@transaction.atomic
def _claim(run_id: int) -> int | None:
    """Take the run for a new attempt and return its number, or None. A queued run is taken once (a duplicated
    task finds nothing to take); a running one only when stalled (Celery redelivers the task of a worker that
    died). The previous attempt's rows go in the same transaction."""
    run = WhatIfRun.objects.select_for_update().filter(pk=run_id).first()
    if run is None or not (run.state == WhatIfRun.State.QUEUED
                           or (run.state == WhatIfRun.State.RUNNING and what_if_stalled(run))):
        return None
    run.sessions.all().delete()
    run.attempt += 1
    for name, value in {**_RESET, "state": WhatIfRun.State.RUNNING, "heartbeat_at": timezone.now()}.items():
        setattr(run, name, value)
    run.save(update_fields=[*_RESET, "state", "heartbeat_at", "attempt"])
    return run.attempt


def _current(run: WhatIfRun, attempt: int) -> QuerySet[WhatIfRun]:
    return WhatIfRun.objects.filter(pk=run.pk, state=WhatIfRun.State.RUNNING, attempt=attempt)


def what_if_compute(*, run_id: int) -> WhatIfRun:
    """Price the run's sessions with its draft and store the comparison (rows per session, the summary).

    Status-guarded: only a queued run, or a stalled running one, is taken (a new attempt), so a repeated task
    changes nothing. Progress (`sessions_done` of `sessions_total`, `heartbeat_at`) is saved after every chunk
    with that chunk's rows, for the result page to show. Reads charges, never writes one. A failure marks the
    run failed with the reason; an attempt superseded by a newer one stops and writes nothing."""
    attempt = _claim(run_id)
    if attempt is None:
        return WhatIfRun.objects.get(pk=run_id)
    run = WhatIfRun.objects.get(pk=run_id)
    try:
        _compute(run, attempt)
    except _Superseded:
        logger.info("what-if run %s: attempt %s was superseded", run_id, attempt)
    except Exception as error:  # a report, not money: record why and let the operator try again
        logger.exception("what-if run %s failed", run_id)
        _current(run, attempt).update(state=WhatIfRun.State.FAILED, error=str(error)[:2000],
                                      finished_at=timezone.now())
    return WhatIfRun.objects.get(pk=run_id)


def _compute(run: WhatIfRun, attempt: int) -> None:
    draft = draft_from_ocpi(ocpi.loads(run.draft_ocpi_json))
    sessions = what_if_sessions(run)
    total = sessions.count()
    if not _current(run, attempt).update(sessions_total=total, heartbeat_at=timezone.now()):
        raise _Superseded
    comparison = Comparison(draft.currency)
    rows: list[WhatIfSession] = []
    done = 0
    for session in sessions.select_related("charge", "connector__station__location").iterator(chunk_size=CHUNK):
        _compare(run, draft, session, session.charge, comparison, rows)
        done += 1
        if done % CHUNK == 0:
            _flush(run, attempt, rows, done)
    _flush(run, attempt, rows, done)
    if not _current(run, attempt).update(state=WhatIfRun.State.DONE, summary=comparison.summary(),
                                         finished_at=timezone.now(), heartbeat_at=timezone.now()):
        raise _Superseded


def _compare(run: WhatIfRun, draft: pricing.Tariff, session: ChargingSession, charge: SessionCharge,
             comparison: Comparison, rows: list[WhatIfSession]) -> None:
    if charge.breakdown.get("plan"):
        comparison.skipped[SKIP_PLAN] += 1
        return
    if charge.currency != draft.currency:
        comparison.skipped[SKIP_CURRENCY] += 1
        return
    try:
        priced = pricing.price_session(tariff=draft, session=ocpi.session_from_json(session_pricing_input(session)))
    except ValueError as error:  # PricingError, OcpiError: the draft cannot price this session
        logger.info("what-if run %s: session %s not priced: %s", run.pk, session.pk, error)
        comparison.skipped[SKIP_UNPRICEABLE] += 1
        return
    station = session.connector.station
    row = WhatIfSession(
        run=run, session=session, station=station.ocpp_identity, currency=charge.currency,
        energy_kwh=charge.total_energy_kwh, charged_excl_vat=charge.total_excl_vat,
        charged_incl_vat=charge.total_incl_vat, draft_excl_vat=priced.total_cost.excl_vat,
        draft_incl_vat=priced.total_cost.incl_vat,
        difference_incl_vat=priced.total_cost.incl_vat - charge.total_incl_vat,
    )
    rows.append(row)
    comparison.add(row, location=station.location.name, started_at=session.started_at,
                   charged={**charge.breakdown, "vat_breakdown": charge_vat_breakdown(charge)}, draft=priced.to_dict())


@transaction.atomic
def _flush(run: WhatIfRun, attempt: int, rows: list[WhatIfSession], done: int) -> None:
    """A chunk's rows and the progress, only while `attempt` is the run's current one (checked under the run's
    row lock, which a re-queue and a new attempt take too)."""
    if _current(run, attempt).select_for_update().values_list("pk", flat=True).first() is None:
        raise _Superseded
    WhatIfSession.objects.bulk_create(rows)
    rows.clear()
    _current(run, attempt).update(sessions_done=done, heartbeat_at=timezone.now())


CSV_COLUMNS = [
    "session_id", "started_at", "location", "station", "connector", "currency", "energy_kwh", "charged_excl_vat",
    "charged_incl_vat", "draft_excl_vat", "draft_incl_vat", "difference_excl_vat", "difference_incl_vat",
]


def what_if_rows(run: WhatIfRun):
    """A header, then every compared session of the run (for `reporting.exports.csv_lines`)."""
    yield CSV_COLUMNS
    rows = (run.sessions.select_related("session__connector__station__location").order_by("session__started_at",
                                                                                          "session_id"))
    for r in rows.iterator(chunk_size=2000):
        s = r.session
        yield [
            s.pk, s.started_at.isoformat(), s.connector.station.location.name, r.station, s.connector.number,
            r.currency, r.energy_kwh, r.charged_excl_vat, r.charged_incl_vat, r.draft_excl_vat, r.draft_incl_vat,
            r.draft_excl_vat - r.charged_excl_vat, r.difference_incl_vat,
        ]
