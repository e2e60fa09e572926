"""Benchmark of the tariff what-if: sessions compared per second and DB queries per session for a range of
realistic priced sessions, against the pure engine pricing the same sessions from inputs already in memory
(what the what-if adds is reading each session's meter samples and status timeline, as settlement does).

    .venv/bin/python bench/what_if.py                      # SQLite (a throwaway file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evbilling_ci .venv/bin/python bench/what_if.py

Runs in a throwaway test database (tables created without migrations), never in yours. Each session charges
an hour at 11 kW (four quarter-hour samples) and idles 0 to 45 minutes; it is settled by the real settlement
with a day/night tariff with a parking fee; the draft changes the prices.
"""
import argparse
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.throwaway_db import throwaway_database  # noqa: E402

START = datetime(2026, 10, 1, 5, tzinfo=UTC)


def _tariff_data(tariff_id: str, day: str, night: str) -> dict:
    def element(price, restrictions=None):
        return {"price_components": [{"type": "ENERGY", "price": Decimal(price), "vat": Decimal(19), "step_size": 1}],
                **({"restrictions": restrictions} if restrictions else {})}

    return {"country_code": "DE", "party_id": "BEN", "id": tariff_id, "currency": "EUR",
            "last_updated": "2026-01-01T00:00:00Z", "elements": [
                element(day, {"start_time": "07:00", "end_time": "22:00"}), element(night),
                {"price_components": [{"type": "PARKING_TIME", "price": Decimal(6), "vat": Decimal(19),
                                       "step_size": 300}],
                 "restrictions": {"start_time": "08:00", "end_time": "20:00"}}]}


def build(count: int, tag: str):
    from billing_app.models import TariffAssignment
    from billing_app.settlement.services import session_settle
    from billing_app.tariffs.services import tariff_import_ocpi
    from sessions_app.models import ChargingSession, ChargingStation, Connector, Location, Operator
    from sessions_app.services import SampleIn, session_record_samples

    operator = Operator.objects.create(name=f"Bench {tag}", legal_name=f"Bench {tag} GmbH", vat_id="DE123456789",
                                       country="DE", default_currency="EUR", invoice_prefix=f"B{tag}")
    location = Location.objects.create(operator=operator, name="Site", address="Main St 1", postal_code="10115",
                                       city="Berlin", country="DE", time_zone="Europe/Berlin",
                                       latitude=Decimal("52.5"), longitude=Decimal("13.4"))
    station = ChargingStation.objects.create(location=location, ocpp_identity=f"BENCH-{tag}")
    connector = Connector.objects.create(station=station, number=1, standard="IEC_62196_T2",
                                         power_type="AC_3_PHASE", max_power_kw=Decimal(22))
    tariff = tariff_import_ocpi(operator=operator, data=_tariff_data(f"STD-{tag}", "0.39", "0.29"))
    TariffAssignment.objects.create(tariff=tariff)
    draft = tariff_import_ocpi(operator=operator, data=_tariff_data(f"DRAFT-{tag}", "0.45", "0.25"))
    for n in range(count):
        began = START + timedelta(minutes=97 * n)
        session = ChargingSession.objects.create(operator=operator, connector=connector, transaction_ref=f"{tag}-{n}",
                                                 started_at=began, meter_start_wh=Decimal(0))
        samples = [SampleIn(began + timedelta(minutes=15 * q), Decimal(2750 * q), Decimal(11000), Decimal(16))
                   for q in range(1, 5)]
        samples += [SampleIn(began + timedelta(minutes=60 + 15 * q), Decimal(11000), Decimal(0), Decimal(0))
                    for q in range(1, 1 + n % 4)]
        session_record_samples(session=session, samples=samples)
        ChargingSession.objects.filter(pk=session.pk).update(state="completed", meter_stop_wh=Decimal(11000),
                                                             stopped_at=samples[-1].taken_at)
        session_settle(session_id=session.pk)
    return operator, draft


def measure(operator, draft) -> tuple[int, float, int, float]:
    from billing_app import pricing
    from billing_app.pricing import ocpi
    from billing_app.tariffs import what_if
    from billing_app.tariffs.cdr import session_pricing_input
    from billing_app.tariffs.services import snapshot
    from sessions_app.models import ChargingSession

    run = what_if.what_if_create(operator=operator, created_by=None, draft=ocpi.loads(snapshot(draft)),
                                 draft_name="bench", start_date=date(2026, 9, 30), end_date=date(2027, 12, 31))
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        run = what_if.what_if_compute(run_id=run.pk)
        elapsed = time.perf_counter() - began
    assert run.state == "done", run.error
    compared = run.summary["sessions"]
    engine_draft = ocpi.tariff_from_ocpi(ocpi.loads(snapshot(draft)))
    inputs = [ocpi.session_from_json(session_pricing_input(s)) for s in ChargingSession.objects.filter(
        operator=operator).select_related("connector__station__location")]
    began = time.perf_counter()
    for session in inputs:
        pricing.price_session(tariff=engine_draft, session=session)
    engine_rate = len(inputs) / (time.perf_counter() - began)
    return compared, elapsed, len(queries.captured_queries), engine_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500", help="sessions per run, comma-separated (default 100,500)")
    args = parser.parse_args()
    settings.INVOICE_RECEIPTS_ON_SETTLE = False
    from evbilling.celery import app

    app.conf.task_always_eager = True
    with throwaway_database("evbilling_bench_what_if"):
        print(f"database: {connection.vendor}")
        print(f"{'sessions':>9} {'what-if s':>10} {'sessions/s':>11} {'queries/session':>16} {'engine only/s':>14}")
        for size in (int(s) for s in args.sizes.split(",")):
            operator, draft = build(size, f"W{size}")
            compared, elapsed, queries, engine_rate = measure(operator, draft)
            print(f"{compared:>9} {elapsed:>10.2f} {compared / elapsed:>11.0f} {queries / compared:>16.1f} "
                  f"{engine_rate:>14.0f}")


if __name__ == "__main__":
    main()
