"""A large, realistic evbilling dataset loaded into PostgreSQL with COPY (for bench/scale.py and
bench/web_load.py; not a test fixture).

Shape: the demo's two operators (EUR and GBP, reference data from `sessions_app.demo` and
`billing_app.demo`), each grown to LOCATIONS_PER_OPERATOR sites of two stations with two connectors,
and DRIVERS_PER_OPERATOR drivers with a token, a profile and a billing account each (one in seven a
postpaid fleet, the others pay as they go). Sessions spread over the last MONTHS months on random
connectors; drivers are skewed (a few fleet cards charge daily, most drivers a few times a month): the
demo's `driver` login is the heaviest. Each session carries `samples_per_session` meter samples.

Prices are consistent without pricing a million sessions: per operator a few template sessions are
stored and priced by the real settlement (`billing_app.settlement.services.session_settle`) with the operator's
demo tariffs, and every generated session copies one template's shape: same duration, energy, sample
curve (shifted to its own start) and the template's charge (snapshot, breakdown, totals). A pay-as-you-go
session gets a paid receipt whose lines are `lines_from_breakdown` of that charge, numbered in sequence
per operator and year as `invoice_issue` would, and the number counters are moved past them, so the
month-end billing run continues the sequences. Monthly statements of past months are not generated:
postpaid sessions wait for the run being measured. Payments rows are not generated either.
"""
from __future__ import annotations

import io
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone
from psycopg import OperationalError

MONTHS = 12
LOCATIONS_PER_OPERATOR = 150
DRIVERS_PER_OPERATOR = 20_000
TEMPLATES_PER_OPERATOR = 8
HEAVY_DRIVER = "driver"  # the demo login: the driver with the most sessions
OPERATOR_SHARE = 0.6  # of sessions at the first operator
CHUNK = 1 << 20  # bytes per COPY write
SAMPLE_CHUNK = 20_000  # sessions per samples COPY
SAMPLE_STREAMS = 2  # samples COPYs at once

Progress = Callable[[str, int], None]


@dataclass
class LoadStats:
    """Rows written and seconds spent per table (COPY only; reference data not counted)."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def rate(self, table: str) -> float:
        return self.rows.get(table, 0) / self.seconds[table] if self.seconds.get(table) else 0.0


@dataclass(frozen=True)
class Template:
    operator_id: int
    duration: timedelta
    energy_wh: int
    samples: tuple[tuple[int, int, str, str, int], ...]  # (seconds after start, Wh since start, W, A, SoC)
    charge: dict  # SessionCharge column values (JSON already dumped to text)
    lines: tuple  # invoicing LineIn of the charge, session ids to be replaced
    totals: tuple[Decimal, Decimal, Decimal]


def _text(value: str) -> str:
    """A value for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _null(value) -> str:
    return "\\N" if value is None else str(value)


def copy_rows(table: str, columns: Iterable[str], lines: Iterable[str], stats: LoadStats | None = None) -> int:
    """COPY tab-separated `lines` (each ending in a newline) into `table`; returns the rows written."""
    connection.ensure_connection()
    raw = connection.connection
    began = time.perf_counter()
    count = 0
    buffer = io.StringIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for line in lines:
            buffer.write(line)
            count += 1
            if buffer.tell() >= CHUNK:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    if not raw.autocommit:
        raw.commit()
    if stats is not None:
        stats.rows[table] = stats.rows.get(table, 0) + count
        stats.seconds[table] = stats.seconds.get(table, 0.0) + time.perf_counter() - began
    return count


def _reserve_ids(table: str, count: int) -> int:
    """Take `count` ids from the table's sequence; returns the first."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        current = cursor.fetchone()[0]
        cursor.execute("SELECT setval(%s, %s)", [sequence, current + count])
    return current + 1


# --- Reference data ----------------------------------------------------------------------------------

def load_reference(*, rng: random.Random, locations: int, drivers: int) -> None:
    """The demo's operators, logins and tariffs, grown to `locations` sites and `drivers` drivers each."""
    from billing_app.demo import load_accounts, load_tariffs
    from sessions_app.demo import load_reference_data
    from sessions_app.models import ChargingStation, Connector, Location, Operator

    with transaction.atomic():
        operators, _drivers = load_reference_data(rng)
    load_tariffs()
    load_accounts()
    password = make_password("driver")
    station_hash = ChargingStation.objects.filter(location__operator=operators[0]).first().password_hash
    now = timezone.now().isoformat()
    for op_index, operator in enumerate(Operator.objects.filter(pk__in=[o.pk for o in operators]).order_by("pk")):
        prefix = operator.invoice_prefix
        sites = list(Location.objects.filter(operator=operator).order_by("pk"))
        main = sites[0]
        new_sites = Location.objects.bulk_create([Location(
            operator=operator, name=f"{main.city} site {n:03d}", address=f"{n} Charging Way",
            postal_code=main.postal_code, city=main.city, country=main.country, time_zone=main.time_zone,
            latitude=main.latitude + Decimal(n) / 1000, longitude=main.longitude)
            for n in range(len(sites), locations)])
        stations = ChargingStation.objects.bulk_create([ChargingStation(
            location=site, ocpp_identity=f"{prefix}-B{site.pk:05d}-{k}", vendor="ABB" if k == 1 else "Alpitronic",
            model="Terra AC W22" if k == 1 else "HYC150", password_hash=station_hash,
            status=ChargingStation.Status.AVAILABLE) for site in new_sites for k in (1, 2)])
        Connector.objects.bulk_create([Connector(
            station=station, number=n, status="Available",
            standard="IEC_62196_T2" if station.model.startswith("Terra") else "IEC_62196_T2_COMBO",
            power_type="AC_3_PHASE" if station.model.startswith("Terra") else "DC",
            max_power_kw=Decimal(22) if station.model.startswith("Terra") else Decimal(150))
            for station in stations for n in (1, 2)])
        first_user = _reserve_ids("sessions_app_user", drivers)
        users = range(first_user, first_user + drivers)
        copy_rows("sessions_app_user", ["id", "password", "is_superuser", "username", "first_name", "last_name",
                                        "email", "is_staff", "is_active", "date_joined", "role", "operator_id"],
                  (f"{uid}\t{password}\tf\tbench{op_index + 1}-{n:06d}\tBench\tDriver {n}\t"
                   f"bench{op_index + 1}-{n:06d}@drivers.example\tf\tt\t{now}\tdriver\t{operator.pk}\n"
                   for n, uid in enumerate(users)))
        copy_rows("sessions_app_driverprofile", ["full_name", "address", "postal_code", "city", "country",
                                                 "company_name", "company_vat_id", "user_id"],
                  (f"Bench Driver {n}\t{n} Bench Street\t{main.postal_code}\t{main.city}\t{operator.country}\t"
                   f"{'Fleet ' + str(n) + ' Ltd' if n % 7 == 3 else ''}\t\t{uid}\n" for n, uid in enumerate(users)))
        copy_rows("sessions_app_idtoken", ["uid", "type", "status", "created_at", "driver_id", "operator_id"],
                  (f"B{op_index + 1}{n:08X}\tRFID\taccepted\t{now}\t{uid}\t{operator.pk}\n"
                   for n, uid in enumerate(users)))
        copy_rows("billing_app_billingaccount", ["payment_mode", "created_at", "driver_id", "operator_id"],
                  (f"{'postpaid' if n % 7 == 3 else 'payg'}\t{now}\t{uid}\t{operator.pk}\n"
                   for n, uid in enumerate(users)))


# --- Priced templates --------------------------------------------------------------------------------

def _template_curve(rng: random.Random, *, samples: int, dc: bool) -> tuple[timedelta, list[tuple]]:
    """A session's samples: power at the peak, tapering above 80 % state of charge, then idle."""
    step = timedelta(minutes=2 if dc else 5)
    peak_w = rng.choice([50_000, 75_000, 110_000]) if dc else rng.choice([7_400, 11_000, 22_000])
    soc = rng.randint(10, 40)
    idle = rng.choice([0, 0, 2, 5]) if dc else rng.choice([0, 3, 6, 12])
    idle = min(idle, samples // 3)
    capacity_wh = rng.choice([52_000, 64_000, 77_000])
    rows, delivered = [], 0
    for n in range(1, samples + 1):
        charging = n <= samples - idle
        taper = 1.0 if soc < 80 else max(0.15, (100 - soc) / 20)
        power = int(peak_w * taper * rng.uniform(0.93, 1.0)) if charging else 0
        energy = power * step.total_seconds() / 3600
        delivered += int(energy)
        soc = min(100, soc + max(1, round(energy / capacity_wh * 100))) if charging else soc
        amps = f"{power / (400 if dc else 400 * 1.732):.2f}"
        rows.append((int(step.total_seconds()) * n, delivered, f"{power}.0", amps, soc))
    return step * samples + timedelta(seconds=20), rows


def make_templates(*, rng: random.Random, samples_per_session: int, when: datetime) -> list[Template]:
    """TEMPLATES_PER_OPERATOR sessions per operator, stored with their samples and priced for real."""
    from billing_app.invoicing.lines import lines_from_breakdown, totals
    from billing_app.settlement.services import session_settle
    from sessions_app.models import ChargingSession, Connector, IdToken, MeterSample, Operator

    templates = []
    for operator in Operator.objects.filter(invoice_prefix__in=["VOLT", "BRL"]).order_by("pk"):
        token = IdToken.objects.filter(operator=operator, driver__username__startswith="bench").order_by("pk").first()
        connectors = list(Connector.objects.filter(station__location__operator=operator).order_by("pk")[:20])
        for n in range(TEMPLATES_PER_OPERATOR):
            connector = connectors[n % len(connectors)]
            dc = connector.power_type == "DC"
            duration, curve = _template_curve(rng, samples=samples_per_session, dc=dc)
            start = when + timedelta(hours=n * 5)
            meter = 1_000_000
            session = ChargingSession.objects.create(
                operator=operator, connector=connector, id_token=token, driver_id=token.driver_id,
                transaction_ref=f"bench-template-{n}", state="completed", started_at=start,
                stopped_at=start + duration, meter_start_wh=meter, meter_stop_wh=meter + curve[-1][1],
                energy_wh=curve[-1][1], stop_reason="EVDisconnected", last_message_at=start + duration)
            MeterSample.objects.bulk_create([
                MeterSample(session=session, taken_at=start + timedelta(seconds=s), energy_wh=meter + wh,
                            power_w=Decimal(w), current_a=Decimal(a), soc_percent=soc) for s, wh, w, a, soc in curve])
            charge = session_settle(session_id=session.pk)
            lines = lines_from_breakdown(charge.breakdown, currency=charge.currency, session_id=0, session_charge_id=0)
            templates.append(Template(
                operator_id=operator.pk, duration=duration, energy_wh=curve[-1][1], samples=tuple(curve),
                charge={"tariff_snapshot_json": _text(charge.tariff_snapshot_json), "currency": charge.currency,
                        "total_excl_vat": charge.total_excl_vat, "total_vat": charge.total_vat,
                        "total_incl_vat": charge.total_incl_vat, "total_energy_kwh": charge.total_energy_kwh,
                        "total_time_hours": charge.total_time_hours,
                        "total_parking_hours": charge.total_parking_hours,
                        "breakdown": _text(json.dumps(charge.breakdown)), "tariff_id": charge.tariff_id},
                lines=tuple(lines), totals=totals(lines, charge.currency)))
    return templates


# --- Sessions, samples, charges, receipts ------------------------------------------------------------

@dataclass(slots=True)
class _Session:
    id: int
    operator_id: int
    driver_id: int
    account_mode: str
    template: int
    start: int  # epoch seconds
    state: str
    connector_id: int
    token_id: int
    tz: str


def _plan_sessions(*, rng: random.Random, count: int, templates: list[Template], now: datetime,
                   months: int) -> list[_Session]:
    """Who charged where and when (in memory; ~100 bytes a session)."""
    from billing_app.models import BillingAccount
    from sessions_app.models import Connector, IdToken, Operator

    operators = list(Operator.objects.filter(invoice_prefix__in=["VOLT", "BRL"]).order_by("pk"))
    by_operator = {o.pk: [i for i, t in enumerate(templates) if t.operator_id == o.pk] for o in operators}
    modes = dict(BillingAccount.objects.values_list("driver_id", "payment_mode"))
    first_id = _reserve_ids("sessions_app_chargingsession", count)
    span = int(timedelta(days=30 * months).total_seconds())
    end = int(now.timestamp()) - 3600 * 3
    plan: list[_Session] = []
    active_connectors: set[int] = set()
    shares = [OPERATOR_SHARE, 1 - OPERATOR_SHARE]
    for op_index, operator in enumerate(operators):
        n = round(count * shares[op_index]) if op_index == 0 else count - len(plan)
        connectors = list(Connector.objects.filter(station__location__operator=operator)
                          .values_list("pk", "station__location__time_zone"))
        tokens = list(IdToken.objects.filter(operator=operator).order_by("pk").values_list("pk", "driver_id",
                                                                                            "driver__username"))
        tokens.sort(key=lambda t: t[2] != HEAVY_DRIVER)  # the demo login first: the heaviest
        for _ in range(n):
            token_id, driver_id, _name = tokens[int(len(tokens) * rng.random() ** 1.6)]
            connector_id, tz = connectors[rng.randrange(len(connectors))]
            template = rng.choice(by_operator[operator.pk])
            start = end - int(span * rng.random()) - int(templates[template].duration.total_seconds())
            plan.append(_Session(first_id + len(plan), operator.pk, driver_id, modes.get(driver_id, "payg"),
                                 template, start, "completed", connector_id, token_id, tz))
    for session in rng.sample(plan, min(len(plan) // 50, len(plan))):  # 2 % failed: no charge
        session.state = "failed"
    recent = sorted(plan, key=lambda s: -s.start)[: max(1, len(plan) // 2000)]
    for session in recent:  # charging now (one per connector)
        if session.connector_id not in active_connectors:
            active_connectors.add(session.connector_id)
            session.state = "active"
            session.start = int(now.timestamp()) - rng.randint(60, 1800)
    return plan


def _timestamp_text(day0: int) -> Callable[[int], str]:
    """Epoch seconds -> 'YYYY-MM-DD HH:MM:SS+00', from tables (strftime per row is too slow)."""
    days = [(datetime.fromtimestamp(0, UTC) + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(day0, day0 + 800)]
    clock = [f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]

    def text(epoch: int) -> str:
        return f"{days[epoch // 86400 - day0]} {clock[epoch % 86400]}+00"
    return text


def load_sessions(*, plan: list[_Session], templates: list[Template], stats: LoadStats, now: datetime,
                  progress: Progress) -> None:
    day0 = min(s.start for s in plan) // 86400 - 1
    ts = _timestamp_text(day0)
    created = now.isoformat()
    meter0 = 1_000_000
    now_epoch = int(now.timestamp())

    def sessions() -> Iterator[str]:
        for s in plan:
            t = templates[s.template]
            if s.state == "active":
                yield (f"{s.id}\tb{s.id}\tactive\t{ts(s.start)}\t\\N\t{meter0}\t\\N\t0\t\t{ts(s.start)}\t{created}\t"
                       f"{s.driver_id}\t{s.connector_id}\t{s.token_id}\t{s.operator_id}\n")
                continue
            stop = ts(s.start + int(t.duration.total_seconds()))
            reason = "EVDisconnected" if s.state == "completed" else "PowerLoss"
            yield (f"{s.id}\tb{s.id}\t{s.state}\t{ts(s.start)}\t{stop}\t{meter0}\t{meter0 + t.energy_wh}\t"
                   f"{t.energy_wh}\t{reason}\t{stop}\t{created}\t{s.driver_id}\t{s.connector_id}\t{s.token_id}\t{s.operator_id}\n")

    copy_rows("sessions_app_chargingsession",
              ["id", "transaction_ref", "state", "started_at", "stopped_at", "meter_start_wh", "meter_stop_wh",
               "energy_wh", "stop_reason", "last_message_at", "created_at", "driver_id", "connector_id", "id_token_id",
               "operator_id"], sessions(), stats)
    progress("sessions", len(plan))

    def samples(chunk: list[_Session]) -> Iterator[str]:
        for s in chunk:
            t = templates[s.template]
            rows = t.samples if s.state != "active" else [r for r in t.samples if s.start + r[0] <= now_epoch]
            sid, start = s.id, s.start
            for offset, wh, watts, amps, soc in rows:
                yield f"{sid}\t{ts(start + offset)}\t{meter0 + wh}\t{watts}\t{amps}\t{soc}\n"

    def copy_chunk(chunk: list[_Session]) -> int:
        for attempt in range(3):  # a chunk is one transaction: a dropped connection rolls it back whole
            try:
                return copy_rows("sessions_app_metersample", ["session_id", "taken_at", "energy_wh", "power_w",
                                                              "current_a", "soc_percent"], samples(chunk))
            except OperationalError:
                if attempt == 2:
                    raise
            finally:
                connection.close()  # this thread's own connection
        return 0

    # One COPY (one transaction) per SAMPLE_CHUNK sessions, SAMPLE_STREAMS at a time: the deferred
    # foreign key checks of a transaction stay bounded, and two server processes share the load.
    began = time.perf_counter()
    chunks = [plan[n:n + SAMPLE_CHUNK] for n in range(0, len(plan), SAMPLE_CHUNK)]
    with ThreadPoolExecutor(SAMPLE_STREAMS) as pool:
        for chunk, written in zip(chunks, pool.map(copy_chunk, chunks), strict=True):
            stats.rows["sessions_app_metersample"] = stats.rows.get("sessions_app_metersample", 0) + written
            progress("samples", len(chunk))
    stats.seconds["sessions_app_metersample"] = time.perf_counter() - began


def load_charges_and_receipts(*, plan: list[_Session], templates: list[Template], stats: LoadStats,
                              now: datetime, progress: Progress) -> None:
    from billing_app.invoicing.documents import seller_snapshot
    from billing_app.invoicing.numbering import number_format
    from billing_app.models import NumberSequence
    from sessions_app.models import Operator
    from sessions_app.selectors import operator_time_zone

    priced = [s for s in plan if s.state == "completed"]
    first_charge = _reserve_ids("billing_app_sessioncharge", len(priced))
    charge_ids = {s.id: first_charge + n for n, s in enumerate(priced)}
    priced_at = timezone.now().isoformat()

    def charges() -> Iterator[str]:
        for s in priced:
            c = templates[s.template].charge
            yield (f"{charge_ids[s.id]}\t{c['tariff_snapshot_json']}\t{c['currency']}\t{c['total_excl_vat']}\t"
                   f"{c['total_vat']}\t{c['total_incl_vat']}\t{c['total_energy_kwh']}\t{c['total_time_hours']}\t"
                   f"{c['total_parking_hours']}\t{c['breakdown']}\t{priced_at}\t{s.id}\t{_null(c['tariff_id'])}\n")

    copy_rows("billing_app_sessioncharge", ["id", "tariff_snapshot_json", "currency", "total_excl_vat", "total_vat",
                                            "total_incl_vat", "total_energy_kwh", "total_time_hours",
                                            "total_parking_hours", "breakdown", "priced_at", "session_id",
                                            "tariff_id"], charges(), stats)
    progress("charges", len(priced))

    receipts = sorted((s for s in priced if s.account_mode == "payg" and templates[s.template].totals[2] > 0),
                      key=lambda s: (s.operator_id, s.start, s.id))
    operators = {o.pk: o for o in Operator.objects.filter(pk__in={s.operator_id for s in receipts})}
    sellers = {pk: _text(json.dumps(seller_snapshot(o))) for pk, o in operators.items()}
    zones = {pk: operator_time_zone(pk) for pk in operators}
    buyers = _buyers({s.driver_id for s in receipts})
    accounts = _accounts()
    counters: dict[tuple[int, int], int] = defaultdict(int)
    for seq in NumberSequence.objects.filter(kind="invoice"):
        counters[(seq.operator_id, seq.year)] = seq.last_value
    first_invoice = _reserve_ids("billing_app_invoice", len(receipts))
    local_zones: dict[str, ZoneInfo] = {}

    def invoices() -> Iterator[str]:
        for n, s in enumerate(receipts):
            t = templates[s.template]
            stopped = datetime.fromtimestamp(s.start + int(t.duration.total_seconds()), UTC)
            issued = stopped + timedelta(minutes=10)
            year = issued.astimezone(zones[s.operator_id]).year
            counters[(s.operator_id, year)] += 1
            sequence = counters[(s.operator_id, year)]
            number = number_format(prefix=operators[s.operator_id].invoice_prefix, year=year, sequence=sequence,
                                   kind="invoice")
            day = stopped.astimezone(local_zones.get(s.tz) or local_zones.setdefault(s.tz, ZoneInfo(s.tz))).date()
            excl, vat, incl = t.totals
            yield (f"{first_invoice + n}\treceipt\t{day}\t{day}\t{t.charge['currency']}\tpaid\t{number}\t{year}\t"
                   f"{sequence}\t{issued.isoformat()}\t{issued.isoformat()}\tbench card\t\\N\t\t"
                   f"{sellers[s.operator_id]}\t{buyers[s.driver_id]}\t{excl}\t{vat}\t{incl}\t\t\t\\N\t{issued.isoformat()}\t"
                   f"{accounts[s.driver_id]}\t{s.driver_id}\t{s.operator_id}\t{s.id}\n")

    copy_rows("billing_app_invoice", ["id", "kind", "period_start", "period_end", "currency", "state", "number",
                                      "number_year", "number_sequence", "issued_at", "paid_at", "payment_reference",
                                      "voided_at", "void_reason", "seller", "buyer", "total_excl_vat", "total_vat",
                                      "total_incl_vat", "pdf", "pdf_sha256", "emailed_at", "created_at",
                                      "account_id", "driver_id", "operator_id", "session_id"], invoices(), stats)
    progress("receipts", len(receipts))

    def lines() -> Iterator[str]:
        for n, s in enumerate(receipts):
            for position, line in enumerate(templates[s.template].lines, start=1):
                yield (f"{position}\t{line.kind}\t{_text(line.description)}\t{_null(line.source_index)}\t"
                       f"{line.quantity}\t{line.unit}\t{line.unit_price}\t{_null(line.vat_rate)}\t{line.amount_excl_vat}\t"
                       f"{line.vat_amount}\t{line.amount_incl_vat}\t{first_invoice + n}\t{s.id}\t{charge_ids[s.id]}\n")

    copy_rows("billing_app_invoiceline", ["position", "kind", "description", "source_index", "quantity", "unit",
                                          "unit_price", "vat_rate", "amount_excl_vat", "vat_amount", "amount_incl_vat",
                                          "invoice_id", "session_id", "session_charge_id"], lines(), stats)
    for (operator_id, year), last in counters.items():
        NumberSequence.objects.update_or_create(operator_id=operator_id, year=year, kind="invoice",
                                                defaults={"last_value": last})


def _buyers(driver_ids: set[int]) -> dict[int, str]:
    from sessions_app.models import DriverProfile

    buyers = {}
    for p in DriverProfile.objects.filter(user_id__in=driver_ids).select_related("user").iterator(chunk_size=5000):
        buyers[p.user_id] = _text(json.dumps({
            "name": p.full_name, "company_name": p.company_name, "vat_id": p.company_vat_id, "address": p.address,
            "postal_code": p.postal_code, "city": p.city, "country": p.country, "email": p.user.email}))
    return buyers


def _accounts() -> dict[int, int]:
    from billing_app.models import BillingAccount

    return dict(BillingAccount.objects.values_list("driver_id", "pk"))


def build(*, sessions: int, samples_per_session: int, seed: int = 2026, now: datetime | None = None,
          months: int = MONTHS, locations: int = LOCATIONS_PER_OPERATOR, drivers: int = DRIVERS_PER_OPERATOR,
          progress: Progress = lambda stage, n: None) -> LoadStats:
    """Load the dataset into the (migrated, empty) database Django is connected to."""
    from billing_app.invoicing import delivery_suppressed
    from sessions_app import partitions

    if connection.vendor != "postgresql":
        raise RuntimeError("The scale dataset is loaded with PostgreSQL's COPY: point DATABASE_URL at PostgreSQL.")
    rng = random.Random(seed)
    now = now or timezone.now()
    stats = LoadStats()
    # Samples of the whole history land in monthly partitions, not in DEFAULT.
    partitions.sample_partitions_ensure(since=(now - timedelta(days=30 * months + 31)).date(), now=now)
    load_reference(rng=rng, locations=locations, drivers=drivers)
    progress("reference", 1)
    template_day = datetime.combine(date.fromordinal((now - timedelta(days=20)).toordinal()), datetime.min.time(), UTC)
    with delivery_suppressed():
        templates = make_templates(rng=rng, samples_per_session=samples_per_session, when=template_day)
    plan = _plan_sessions(rng=rng, count=sessions, templates=templates, now=now, months=months)
    load_sessions(plan=plan, templates=templates, stats=stats, now=now, progress=progress)
    load_charges_and_receipts(plan=plan, templates=templates, stats=stats, now=now, progress=progress)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    stats.seconds["analyze"] = time.perf_counter() - began
    return stats
