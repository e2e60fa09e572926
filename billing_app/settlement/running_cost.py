"""What an active session has cost so far, for the charger's display (OCPP 2.0.1 totalCost).

Set as `sessions_app.hooks.running_cost` by billing's AppConfig, so the gateway (sessions_app) can call it
without importing billing.

The gateway asks at every meter reading, so a reading must not cost the whole session again (issue 16): the
engine's tariff is kept per tariff row and version (`tariffs.services.engine_tariff`), and each active
session's periods are derived on from where the last reading left them (`_running_periods`), in this
process's memory, for the last 1,024 sessions asked about. Both give exactly what reading everything again
gives (`tests/billing_app/test_running_cost.py` compares them).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing_app import pricing
from billing_app.pricing import ocpi
from billing_app.tariffs.cdr import idle_power_w, session_periods, session_pricing_input
from billing_app.tariffs.services import engine_tariff, tariff_for_session
from sessions_app.models import ChargingSession
from sessions_app.periods import Period, PeriodDeriver, Reading
from sessions_app.selectors import session_readings, session_sample_count

_RUNNING_MAX = 1024


@dataclass(slots=True)
class _Running:
    """An active session's periods derived through all its readings but the latest, which ends them."""

    basis: tuple[str, datetime, Decimal, Decimal]  # transaction ref, start, meter start, idle power
    deriver: PeriodDeriver
    latest: Reading | None  # the latest reading: where the periods end (not added to the deriver)
    readings: int  # how many readings this covers (latest included)


_running: OrderedDict[int, _Running] = OrderedDict()
_running_lock = threading.Lock()


def _running_periods(session: ChargingSession) -> list[Period]:
    """`cdr.session_periods(session)` of an active session, reading only the samples from the latest one it
    saw on. A sample that arrives late (taken before that one: a charger sending what it buffered offline)
    shows in the count of the session's samples, and the session is read again from the start."""
    basis = (session.transaction_ref, session.started_at, session.meter_start_wh, idle_power_w())
    with _running_lock:  # taken out while in use: a second thread asking at the same time starts afresh
        running = _running.pop(session.pk, None)
    new: list[Reading] = []
    if running is not None and running.basis == basis and running.latest is not None:
        new = session_readings(session, since=running.latest.at)
        seen = running.readings - 1 + len(new)
        if not new or new[0] != running.latest or seen != session_sample_count(session):
            running = None
        else:
            new = new[1:]
    else:
        running = None
    if running is None:
        new = session_readings(session)
        running = _Running(
            basis,
            PeriodDeriver(started_at=session.started_at, meter_start_wh=session.meter_start_wh, idle_power_w=basis[-1]),
            None,
            0,
        )
    for reading in new:
        if running.latest is not None and running.latest.at > session.started_at:
            running.deriver.add(running.latest)
        running.latest = reading
        running.readings += 1
    latest = running.latest
    periods = (
        []
        if latest is None or latest.at <= session.started_at
        else running.deriver.periods_until(latest.at, latest.energy_wh)
    )
    with _running_lock:
        _running[session.pk] = running
        while len(_running) > _RUNNING_MAX:
            _running.popitem(last=False)
    return periods


def session_running_pricing(session: ChargingSession) -> tuple[pricing.Tariff, pricing.Session, str] | None:
    """What the running cost prices: (the engine's tariff, the session up to its latest meter reading, the
    currency); None when no tariff applies or nothing was measured yet. The same objects as
    `ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff))` and `ocpi.session_from_json(session_pricing_input(session))`,
    read at less cost."""
    tariff = tariff_for_session(session)
    if tariff is None:
        return None
    periods = _running_periods(session) if session.stopped_at is None else session_periods(session)
    pricing_input = session_pricing_input(session, periods=periods)
    if not pricing_input["charging_periods"]:
        return None  # just started, nothing measured yet: no cost so far (not an error)
    return engine_tariff(tariff), ocpi.session_from_json(pricing_input), tariff.currency


def session_running_breakdown(session: ChargingSession) -> tuple[pricing.CostBreakdown, str] | None:
    """The session priced up to its latest meter reading: (the engine's breakdown, currency); None when no
    tariff applies or nothing was measured yet. OCPI session updates send its total excl. and incl. VAT."""
    found = session_running_pricing(session)
    if found is None:
        return None
    tariff, priced_session, currency = found
    return pricing.price_session(tariff=tariff, session=priced_session), currency


def session_running_total(session: ChargingSession) -> tuple[Decimal, str] | None:
    """The session priced up to its latest meter reading: (incl. VAT, currency); None when no tariff applies."""
    found = session_running_breakdown(session)
    return None if found is None else (found[0].total_cost.incl_vat, found[1])


def session_running_cost(session: ChargingSession) -> Decimal | None:
    """The running total incl. VAT alone, as the charger's display wants it."""
    total = session_running_total(session)
    return None if total is None else total[0]
