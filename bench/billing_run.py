"""Benchmark of invoicing: invoices issued per second (no PDF) and DB queries per invoice for a month
of demo-scale data and 10x that, then PDFs rendered per second against WeasyPrint rendering a
minimal HTML page in the same run.

    .venv/bin/python bench/billing_run.py                      # SQLite (a throwaway file)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/evbilling_ci .venv/bin/python bench/billing_run.py

Runs in a throwaway test database (tables created without migrations), never in yours. Demo scale
is the demo's month: 40 drivers (34 pay as you go, 6 postpaid) and ~1,200 sessions; 10x is 400
drivers and ~12,000 sessions. Each session carries a realistic 3-line breakdown (flat fee, energy,
parking). Issuing = the receipts of the pay-as-you-go sessions plus the billing run's statements.
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

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.throwaway_db import throwaway_database  # noqa: E402

MONTH = date(2026, 10, 1)
SESSIONS_PER_DRIVER = 30


def _breakdown() -> dict:
    from billing_app import pricing

    start = datetime(2026, 10, 5, 8, tzinfo=UTC)
    tariff = pricing.Tariff(currency="EUR", elements=(pricing.TariffElement(price_components=(
        pricing.PriceComponent(type="FLAT", price=Decimal("0.49"), step_size=1, vat=Decimal(19)),
        pricing.PriceComponent(type="ENERGY", price=Decimal("0.59"), step_size=1, vat=Decimal(19)),
        pricing.PriceComponent(type="PARKING_TIME", price=Decimal("6.00"), step_size=300, vat=Decimal(19)),
    )),))
    session = pricing.Session(start_date_time=start, end_date_time=start + timedelta(hours=2), charging_periods=(
        pricing.ChargingPeriod(start_date_time=start, energy=Decimal("23.4"), time=Decimal("1.5")),
        pricing.ChargingPeriod(start_date_time=start + timedelta(hours=1.5), parking_time=Decimal("0.5")),
    ), time_zone="Europe/Berlin")
    return pricing.price_session(tariff=tariff, session=session).to_dict()


def build(scale: int, tag: str) -> None:
    """An operator with 40 x scale drivers and their month of priced sessions (bulk inserts)."""
    from billing_app.models import BillingAccount, SessionCharge
    from sessions_app.models import ChargingSession, ChargingStation, Connector, DriverProfile, Location, Operator, User

    operator = Operator.objects.create(name=f"Bench {tag}", legal_name=f"Bench {tag} GmbH", vat_id="DE123456789",
                                       country="DE", default_currency="EUR", invoice_prefix=f"B{tag}")
    location = Location.objects.create(operator=operator, name="Site", address="Main St 1", postal_code="10115",
                                       city="Berlin", country="DE", time_zone="Europe/Berlin",
                                       latitude=Decimal("52.5"), longitude=Decimal("13.4"))
    station = ChargingStation.objects.create(location=location, ocpp_identity=f"BENCH-{tag}")
    connector = Connector.objects.create(station=station, number=1, standard="IEC_62196_T2",
                                         power_type="AC_3_PHASE", max_power_kw=Decimal(22))
    drivers = User.objects.bulk_create([User(username=f"bench{tag}-{i}", email=f"b{tag}-{i}@example.com",
                                             operator=operator, role="driver") for i in range(40 * scale)])
    DriverProfile.objects.bulk_create([DriverProfile(user=d, full_name=d.username, country="DE",
                                                     company_name="Fleet" if i % 7 == 3 else "")
                                       for i, d in enumerate(drivers)])
    BillingAccount.objects.bulk_create([BillingAccount(driver=d, operator=operator, payment_mode="postpaid"
                                                       if i % 7 == 3 else "payg") for i, d in enumerate(drivers)])
    breakdown = _breakdown()
    total = breakdown["total_cost"]
    start = datetime(2026, 10, 1, 6, tzinfo=UTC)
    sessions = []
    for i, driver in enumerate(drivers):
        for n in range(SESSIONS_PER_DRIVER):
            began = start + timedelta(hours=(n * 24 + i % 24) * 29 / 30)
            sessions.append(ChargingSession(operator=operator, connector=connector, driver=driver, state="completed",
                                            transaction_ref=f"{tag}-{i}-{n}", started_at=began,
                                            stopped_at=began + timedelta(hours=2), meter_start_wh=Decimal(0),
                                            meter_stop_wh=Decimal(23400), energy_wh=Decimal(23400)))
    sessions = ChargingSession.objects.bulk_create(sessions, batch_size=2000)
    SessionCharge.objects.bulk_create([SessionCharge(
        session=s, tariff_snapshot_json="{}", currency="EUR", total_excl_vat=Decimal(total["excl_vat"]),
        total_vat=Decimal(total["incl_vat"]) - Decimal(total["excl_vat"]), total_incl_vat=Decimal(total["incl_vat"]),
        total_energy_kwh=Decimal("23.4"), total_time_hours=Decimal(2), total_parking_hours=Decimal("0.5"),
        breakdown=breakdown) for s in sessions], batch_size=2000)


def issue(tag: str) -> tuple[int, float, int]:
    from billing_app.invoicing import delivery_suppressed, receipts_issue_pending
    from billing_app.invoicing.billing_run import operator_billing_run
    from sessions_app.models import Operator

    operator = Operator.objects.get(name=f"Bench {tag}")
    with delivery_suppressed(), CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        receipts = receipts_issue_pending(operator_id=operator.pk)
        statements = operator_billing_run(operator=operator, period=MONTH).issued
        elapsed = time.perf_counter() - began
    return receipts + statements, elapsed, len(queries.captured_queries)


def pdf_rates(count: int) -> tuple[float, float]:
    from billing_app.invoicing import pdf
    from billing_app.models import Invoice

    minimal = "<html><body><p>Hello</p></body></html>"
    invoices = list(Invoice.objects.filter(kind="receipt").select_related("operator")[:count])
    pdf.html_to_pdf(minimal, identifier=b"warm-up")
    pdf.document_pdf(invoices[0])
    began = time.perf_counter()
    for invoice in invoices:
        pdf.document_pdf(invoice)
    ours = len(invoices) / (time.perf_counter() - began)
    began = time.perf_counter()
    for n in range(len(invoices)):
        pdf.html_to_pdf(minimal, identifier=str(n).encode())
    return ours, len(invoices) / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=20, help="PDFs to render for the comparison (default 20)")
    args = parser.parse_args()
    with throwaway_database("evbilling_bench"):
        print(f"database: {connection.vendor}")
        for scale, tag in ((1, "X1"), (10, "X10")):
            build(scale, tag)
            issued, elapsed, queries = issue(tag)
            print(f"scale {scale:>2}x: {issued:>6} invoices issued in {elapsed:6.2f} s = {issued / elapsed:7.0f} "
                  f"invoices/s (no PDF), {queries / issued:.3f} queries per invoice ({queries} queries)")
        ours, minimal = pdf_rates(args.pdfs)
        print(f"PDF: {ours:.2f} invoices/s vs {minimal:.2f} minimal pages/s: ours takes {minimal / ours:.2f}x "
              "the time of a minimal WeasyPrint render")


if __name__ == "__main__":
    main()
