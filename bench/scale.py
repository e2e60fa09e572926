"""Scale benchmark on PostgreSQL: load 1M sessions / 50M meter samples, then print the insert rates,
the month-end billing run time and the slowest portal, API and admin queries.

    .venv/bin/python bench/scale.py                                   # 1M sessions x 50 samples
    .venv/bin/python bench/scale.py --sessions 20000 --samples-per-session 20   # a quick run
    .venv/bin/python bench/scale.py --keep       # leave evbilling_bench for bench/web_load.py
    .venv/bin/python bench/scale.py --reuse      # measure an existing evbilling_bench again, no load

The database (`--database`, default evbilling_bench, on the server of DATABASE_URL or
127.0.0.1:5432) is dropped and created, migrated for real (meter samples partitioned by month) and
filled by bench/dataset.py with COPY. Insert rates are COPY rows per second into the indexed
tables as they are in production (constraints, foreign keys and indexes in place). The billing run is
the real one (`billing_app.invoicing.billing_run.billing_run`) for the last closed month, PDFs and emails
suppressed. Pages are requested through Django's test client as the heaviest driver, operator staff
and support staff, each several times: the table shows the median time of the page, its query count
and its slowest SQL statement; the slowest statements are then EXPLAINed.
"""
import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

BIG_TABLES = ("sessions_app_chargingsession", "sessions_app_metersample", "billing_app_sessioncharge",
              "billing_app_invoice", "billing_app_invoiceline")


def _database_url(name: str) -> str:
    base = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/evbilling_bench"))
    if not base.scheme.startswith("postgres"):
        base = urlsplit("postgres://postgres@127.0.0.1:5432/evbilling_bench")
    return urlunsplit((base.scheme, base.netloc, f"/{name}", "", ""))


def _recreate(url: str, name: str) -> None:
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str, name: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--samples-per-session", type=int, default=50)
    parser.add_argument("--database", default="evbilling_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database (for bench/web_load.py)")
    parser.add_argument("--reuse", action="store_true", help="measure the existing database; load nothing")
    parser.add_argument("--repeat", type=int, default=5, help="requests per page (default 5)")
    args = parser.parse_args()
    if args.sessions < 1000 or args.samples_per_session < 2:
        parser.error("--sessions must be at least 1000 and --samples-per-session at least 2")
    url = _database_url(args.database)
    os.environ["DATABASE_URL"] = url
    if not args.reuse:
        _recreate(url, args.database)

    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command

    logging.disable(logging.WARNING)
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["*"]
    settings.INVOICE_RECEIPTS_ON_SETTLE = False

    print(f"database {args.database}: {args.sessions:,} sessions x {args.samples_per_session} samples")
    try:
        if not args.reuse:
            began = time.perf_counter()
            call_command("migrate", verbosity=0)
            print(f"migrate: {time.perf_counter() - began:.0f} s")
            load(args)
        else:
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        run_billing()
        queries(repeat=args.repeat)
        disk()
    finally:
        if not args.keep and not args.reuse:
            drop_database(url, args.database)
            print(f"database {args.database} dropped (--keep leaves it for bench/web_load.py)")


def load(args) -> None:
    from bench import dataset

    marks = {}

    def progress(stage: str, n: int) -> None:
        marks[stage] = marks.get(stage, 0) + n
        if stage == "samples":
            print(f"  ... {marks[stage]:,} sessions' samples", end="\r", flush=True)

    began = time.perf_counter()
    stats = dataset.build(sessions=args.sessions, samples_per_session=args.samples_per_session, progress=progress)
    total = time.perf_counter() - began
    print(" " * 60, end="\r")
    print(f"load: {total:.0f} s in all (reference data, templates, COPY, ANALYZE {stats.seconds['analyze']:.0f} s)")
    print(f"{'table':<32} {'rows':>12} {'seconds':>9} {'rows/s':>10}")
    for table in stats.rows:
        print(f"{table:<32} {stats.rows[table]:>12,} {stats.seconds[table]:>9.1f} {stats.rate(table):>10,.0f}")


def run_billing() -> None:
    from django.utils import timezone

    from billing_app.invoicing import delivery_suppressed, receipts_issue_pending
    from billing_app.invoicing.billing_run import billing_run, previous_month
    from sessions_app.models import Operator

    operator = Operator.objects.order_by("pk").first()
    period = previous_month(timezone.now(), operator)
    with delivery_suppressed():
        began = time.perf_counter()
        receipts = receipts_issue_pending()
        sweep = time.perf_counter() - began
        began = time.perf_counter()
        results = billing_run(period=period)
        elapsed = time.perf_counter() - began
    issued = sum(r.issued for r in results)
    accounts = sum(r.accounts for r in results)
    print(f"month-end billing run {period:%Y-%m}: {issued:,} statements for {accounts:,} monthly accounts "
          f"in {elapsed:.1f} s ({issued / elapsed if elapsed else 0:,.0f} statements/s); "
          f"receipts sweep beforehand: {receipts} pending, {sweep * 1000:.0f} ms")
    from billing_app.settlement.services import unpriced_sessions

    began = time.perf_counter()
    unpriced = unpriced_sessions().count()
    elapsed = (time.perf_counter() - began) * 1000
    print(f"settle sweep (unpriced completed sessions): {unpriced} found in {elapsed:.0f} ms")


def _pages():
    """(who, label, url) for every list page, as the users who load them."""
    from django.urls import reverse

    from billing_app.models import Invoice
    from sessions_app.models import ChargingSession, ChargingStation, User

    driver = User.objects.get(username="driver")
    sessions = ChargingSession.objects.filter(driver=driver)
    count = sessions.count()
    one = sessions.filter(state="completed").order_by("-started_at").first()
    recent = one.started_at
    month_ago = (recent - timedelta(days=30)).date()
    operator = User.objects.get(username="operator")
    op_sessions = ChargingSession.objects.filter(operator_id=operator.operator_id)
    op_count = op_sessions.count()
    station = ChargingStation.objects.filter(location__operator_id=operator.operator_id).order_by("pk").last()
    routes = {r.name for r in __import__("evbilling.api", fromlist=["router"]).router.urls}
    pages = [
        ("driver", "portal dashboard", reverse("portal:dashboard")),
        ("driver", f"portal sessions p1 ({count:,} sessions)", reverse("portal:sessions")),
        ("driver", "portal sessions last page", reverse("portal:sessions") + f"?page={(count + 24) // 25}"),
        ("driver", "portal sessions, state+dates", reverse("portal:sessions")
         + f"?state=completed&start={month_ago}&end={recent.date()}"),
        ("driver", "portal session detail + samples", reverse("portal:session", args=[one.pk])),
        ("driver", f"portal invoices ({Invoice.objects.filter(driver=driver).count():,})", reverse("portal:invoices")),
        ("driver", "API sessions p1", "/api/v1/sessions/"),
        ("driver", "API sessions last page", f"/api/v1/sessions/?page={(count + 49) // 50}"),
        ("driver", "API session samples", f"/api/v1/sessions/{one.pk}/samples/"),
        ("operator", f"API sessions p1 ({op_count:,} sessions)", "/api/v1/sessions/"),
        ("operator", "API sessions page 1000", "/api/v1/sessions/?page=1000"),
        ("operator", "API sessions, a week", f"/api/v1/sessions/?started_after={(recent - timedelta(days=7)).date()}"
         f"T00:00:00Z&started_before={recent.date()}T00:00:00Z"),
        ("operator", "API sessions, a station", f"/api/v1/sessions/?station={station.ocpp_identity}"),
        ("operator", "API sessions, active", "/api/v1/sessions/?state=active"),
        ("operator", "admin sessions", "/admin/sessions_app/chargingsession/"),
        ("operator", "admin sessions page 100", "/admin/sessions_app/chargingsession/?p=100"),
        ("operator", "admin sessions, a month", "/admin/sessions_app/chargingsession/"
         f"?started_at__year={recent.year}&started_at__month={recent.month}"),
        ("operator", "admin invoices", "/admin/billing_app/invoice/"),
        ("operator", "admin session charges", "/admin/billing_app/sessioncharge/"),
        ("operator", "admin payments", "/admin/billing_app/payment/"),
        ("operator", "admin meter samples", "/admin/sessions_app/metersample/"),
        ("operator", "admin analytics (default range)", "/admin/analytics/"),
        ("support", "admin sessions (2 operators)", "/admin/sessions_app/chargingsession/"),
        ("support", "admin invoices (2 operators)", "/admin/billing_app/invoice/"),
        ("support", "API sessions p1 (2 operators)", "/api/v1/sessions/"),
    ]
    if any(name and name.startswith("invoice") for name in routes):
        pages.insert(9, ("driver", "API invoices", "/api/v1/invoices/"))
        pages.append(("operator", "API invoices", "/api/v1/invoices/"))
    return pages


def queries(*, repeat: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from sessions_app.models import User

    clients = {}
    for who in ("driver", "operator", "support"):
        clients[who] = Client()
        clients[who].force_login(User.objects.get(username=who))
    rows, slow_sql = [], []
    for who, label, url in _pages():
        client = clients[who]
        times = []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - began)
        if response.status_code != 200:
            rows.append((float("inf"), who, label, f"HTTP {response.status_code}", 0, 0.0))
            continue
        slowest = max(captured.captured_queries, key=lambda q: float(q["time"]), default=None)
        slow_ms = float(slowest["time"]) * 1000 if slowest else 0.0
        if slowest:
            slow_sql.append((slow_ms, label, slowest["sql"]))
        rows.append((statistics.median(times) * 1000, who, label, url, len(captured.captured_queries), slow_ms))
    rows.sort(key=lambda r: -r[0])
    print(f"\n{'page (as who)':<52} {'median ms':>9} {'queries':>7} {'slowest SQL ms':>14}")
    for ms, who, label, url, count, slow_ms in rows:
        shown = f"{ms:9.1f}" if ms != float("inf") else f"{url:>9}"
        print(f"{label + ' (' + who + ')':<52} {shown} {count:>7} {slow_ms:>14.1f}")
    slow_sql.sort(key=lambda r: -r[0])
    print(f"\nslowest portal/API/admin query: {slow_sql[0][0]:.1f} ms on '{slow_sql[0][1]}'")
    print("\nEXPLAIN of the five slowest statements (plans with a sequential scan of a big table are flagged):")
    with connection.cursor() as cursor:
        for ms, label, sql in slow_sql[:5]:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF) " + sql)
            plan = [row[0] for row in cursor.fetchall()]
            seq = [line.strip() for line in plan if "Seq Scan" in line and any(t in line for t in BIG_TABLES)]
            print(f"-- {label}: {ms:.1f} ms{'  SEQ SCAN: ' + '; '.join(seq) if seq else ''}")
            print(f"   {sql[:300]}{'...' if len(sql) > 300 else ''}")
            for line in plan[:12]:
                print(f"   | {line}")


def disk() -> None:
    from django.db import connection

    from sessions_app import partitions

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        print(f"\ndatabase size: {cursor.fetchone()[0]}")
        for table in BIG_TABLES[:1] + BIG_TABLES[2:]:
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [table])
            print(f"  {table}: {cursor.fetchone()[0]}")
    parts = partitions.sample_partitions_list()
    total = sum(p.total_bytes for p in parts)
    print(f"  sessions_app_metersample: {total / 2**30:.2f} GiB in {len(parts)} partitions "
          f"(largest month {max(p.total_bytes for p in parts) / 2**20:,.0f} MiB)")


if __name__ == "__main__":
    main()
