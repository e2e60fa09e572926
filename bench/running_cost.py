"""Benchmark of the running cost (issue 16): what one meter reading of an active session costs the gateway,
for sessions of 10, 100 and 300 readings, before and after.

    .venv/bin/python bench/running_cost.py [--readings 10,100,300] [--repeat 15]   # SQLite (a throwaway file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evbilling_ci .venv/bin/python bench/running_cost.py

Runs in a throwaway test database (tables created without migrations), never in yours. One session per size
at a charger in Europe/Berlin, priced with a 6-element tariff (flat fee, energy by power and time of day,
time after 90 minutes, parking, a max price); a reading every 2 minutes with power around 22 kW. The session
first gets its readings one by one, the running cost asked after each (as the gateway asks); then
`--repeat` more readings come, and after each one both paths price the session, alternately:

- before: the straightforward path, as it was (kept here): the session row read alone, the tariff row
  written as OCPI JSON and parsed (`tariff_from_ocpi(tariff_to_ocpi(...))`), every sample read as a
  MeterSample row and all periods derived again, the pricing input parsed (`session_from_json`), priced;
- after: what the gateway runs now (`sessions_app.ocpp.running_cost.active_session_running_cost`'s session
  read, `billing_app.settlement.running_cost.session_running_breakdown`).

Prints the median wall and CPU time of one reading (CPU: this process only; the database server's work
shows in wall time) and the queries per reading, and checks that both paths give the same breakdown.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.throwaway_db import throwaway_database  # noqa: E402

STEP = timedelta(minutes=2)


def _component(kind: str, price: str, step_size: int = 1) -> dict:
    return {"type": kind, "price": Decimal(price), "vat": Decimal(19), "step_size": step_size}


TARIFF = {
    "country_code": "DE", "party_id": "EVB", "id": "BENCH-RC", "currency": "EUR",
    "last_updated": "2026-01-01T00:00:00Z",
    "elements": [
        {"price_components": [_component("FLAT", "0.49")]},
        {"price_components": [_component("ENERGY", "0.69")], "restrictions": {"min_power": Decimal(22)}},
        {"price_components": [_component("ENERGY", "0.59")],
         "restrictions": {"start_time": "07:00", "end_time": "22:00"}},
        {"price_components": [_component("ENERGY", "0.45")],
         "restrictions": {"start_time": "22:00", "end_time": "07:00"}},
        {"price_components": [_component("TIME", "1.20", 60)], "restrictions": {"min_duration": 5400}},
        {"price_components": [_component("PARKING_TIME", "6.00", 300)]},
    ],
    "max_price": {"excl_vat": Decimal("150.00")},
}  # fmt: skip


def build() -> tuple:
    """An operator with a charger in Berlin (a connector for each session), a driver's token and the tariff as
    the operator's default."""
    from billing_app.models import TariffAssignment
    from billing_app.tariffs.services import tariff_import_ocpi
    from sessions_app.models import ChargingStation, Connector, IdToken, Location, Operator, User

    operator = Operator.objects.create(
        name="Bench",
        legal_name="Bench GmbH",
        vat_id="DE123456789",
        country="DE",
        default_currency="EUR",
        invoice_prefix="BRC",
    )
    location = Location.objects.create(
        operator=operator,
        name="Site",
        address="Main St 1",
        postal_code="10115",
        city="Berlin",
        country="DE",
        time_zone="Europe/Berlin",
        latitude=Decimal("52.5"),
        longitude=Decimal("13.4"),
    )
    station = ChargingStation.objects.create(location=location, ocpp_identity="BENCH-RC")
    connectors = [
        Connector.objects.create(
            station=station, number=n, standard="IEC_62196_T2", power_type="AC_3_PHASE", max_power_kw=Decimal(22)
        )
        for n in range(1, 9)
    ]
    driver = User.objects.create(username="bench-rc", email="rc@example.com", operator=operator, role="driver")
    token = IdToken.objects.create(operator=operator, driver=driver, uid="BENCHRC01")
    TariffAssignment.objects.create(tariff=tariff_import_ocpi(operator=operator, data=TARIFF))
    return connectors, token


def reading(started_at: datetime, number: int, energy_wh: Decimal):
    """The session's `number`th reading (from 1): 2 minutes apart, power 11 to 30 kW, idle every 40 minutes."""
    from sessions_app.services import SampleIn

    power = Decimal((11000, 18000, 24000, 30000)[number % 4] if number % 20 else 0)
    return SampleIn(started_at + number * STEP, energy_wh + power / 30, power, Decimal(16 if power < 20000 else 32))


def before(session_id: int):
    """The running cost as the gateway computed it before issue 16's change (the straightforward path)."""
    from billing_app import pricing
    from billing_app.pricing import ocpi
    from billing_app.tariffs.cdr import idle_power_w, session_pricing_input
    from billing_app.tariffs.services import tariff_for_session, tariff_to_ocpi
    from sessions_app.models import ChargingSession
    from sessions_app.periods import Reading, derive_periods
    from sessions_app.selectors import session_samples

    session = ChargingSession.objects.filter(pk=session_id, state=ChargingSession.State.ACTIVE).first()
    tariff = tariff_for_session(session)
    readings = [
        Reading(at=s.taken_at, energy_wh=s.energy_wh, power_w=s.power_w, current_a=s.current_a)
        for s in session_samples(session)
    ]
    periods = derive_periods(
        readings,
        started_at=session.started_at,
        stopped_at=readings[-1].at,
        meter_start_wh=session.meter_start_wh,
        meter_stop_wh=readings[-1].energy_wh,
        idle_power_w=idle_power_w(),
    )
    pricing_input = session_pricing_input(session, periods=periods)
    return pricing.price_session(
        tariff=ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff)), session=ocpi.session_from_json(pricing_input)
    )


def after(session_id: int):
    """The running cost as the gateway computes it now."""
    from billing_app.settlement.running_cost import session_running_breakdown
    from sessions_app.models import ChargingSession

    session = (
        ChargingSession.objects.filter(pk=session_id, state=ChargingSession.State.ACTIVE)
        .select_related("connector__station__location", "id_token")
        .first()
    )
    return session_running_breakdown(session)[0]


def _timed(function, session_id: int) -> tuple[float, float, int, object]:
    with CaptureQueriesContext(connection) as queries:
        wall, cpu = time.perf_counter(), time.process_time()
        result = function(session_id)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return wall, cpu, len(queries), result


def measure(connector, token, readings: int, repeat: int) -> dict:
    from sessions_app import services

    # a live session: its last reading is now, where the running cost ends it
    started_at = datetime.now(UTC).replace(microsecond=0) - (readings + repeat) * STEP
    session = services.session_start(
        connector=connector,
        id_token=token,
        started_at=started_at,
        meter_start_wh=Decimal(0),
        transaction_ref=f"bench-rc-{readings}",
    )
    energy = Decimal(0)
    for number in range(1, readings + 1):
        sample = reading(started_at, number, energy)
        energy = sample.energy_wh
        services.session_record_samples(session=session, samples=[sample])
        after(session.pk)  # the gateway asks at every reading
    figures: dict[str, list] = {"before": [], "after": []}
    same = True
    for number in range(readings + 1, readings + repeat + 1):
        sample = reading(started_at, number, energy)
        energy = sample.energy_wh
        services.session_record_samples(session=session, samples=[sample])
        for name, function in (
            (("before", before), ("after", after)) if number % 2 else (("after", after), ("before", before))
        ):
            *figure, _result = _timed(function, session.pk)
            figures[name].append(figure)
        same &= _same(session.pk)
    return {
        name: [statistics.median(column) for column in zip(*rows, strict=True)] for name, rows in figures.items()
    } | {"same": same}


def _same(session_id: int) -> bool:
    """Whether both paths price the same: the same tariff and session read (each path ends an active session
    at its own "now", in whole seconds: aligned here), the same breakdown."""
    from dataclasses import replace

    from billing_app import pricing
    from billing_app.pricing import ocpi
    from billing_app.settlement.running_cost import session_running_pricing
    from billing_app.tariffs.cdr import session_pricing_input
    from billing_app.tariffs.services import tariff_for_session, tariff_to_ocpi
    from sessions_app.models import ChargingSession

    session = ChargingSession.objects.get(pk=session_id)
    tariff, priced, _currency = session_running_pricing(session)
    plain_tariff = ocpi.tariff_from_ocpi(tariff_to_ocpi(tariff_for_session(session)))
    plain = ocpi.session_from_json(session_pricing_input(session))
    priced = replace(priced, end_date_time=plain.end_date_time)
    return (tariff, priced) == (plain_tariff, plain) and pricing.price_session(
        tariff=tariff, session=priced
    ) == pricing.price_session(tariff=plain_tariff, session=plain)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", default="10,100,300", help="session sizes (default 10,100,300)")
    parser.add_argument("--repeat", type=int, default=15, help="readings timed per size (default 15)")
    args = parser.parse_args()
    with throwaway_database("evbilling_bench_running_cost"):
        print(f"database: {connection.vendor}; one meter reading's running cost, median of {args.repeat}")
        connectors, token = build()
        print(
            f"{'readings':>8} | {'before: wall / CPU ms, queries':>30} | {'after: wall / CPU ms, queries':>30} | "
            f"{'x (wall)':>8} | same"
        )
        for connector, size in zip(connectors, (int(n) for n in args.readings.split(",")), strict=False):
            found = measure(connector, token, size, args.repeat)
            (b_wall, b_cpu, b_queries), (a_wall, a_cpu, a_queries) = found["before"], found["after"]
            print(
                f"{size:>8} | {b_wall * 1000:9.2f} / {b_cpu * 1000:6.2f} ms, {b_queries:>3.0f} q | "
                f"{a_wall * 1000:9.2f} / {a_cpu * 1000:6.2f} ms, {a_queries:>3.0f} q | {b_wall / a_wall:8.1f} | "
                f"{'yes' if found['same'] else 'NO'}"
            )


if __name__ == "__main__":
    main()
