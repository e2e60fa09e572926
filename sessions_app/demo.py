"""Demo data: two operators, their sites and chargers, forty drivers and ninety days of sessions.

Deterministic for a given seed. Loading twice duplicates nothing: reference rows are looked up by
their natural keys and sessions are generated only for operators that have none yet. Sessions are
shaped like real ones: a power curve that tapers as the battery fills, an idle tail after charging
on many AC sessions, and a few aborted starts. German sites run in calibration-law mode (Eichrecht):
their stations' TEST meters (`demo_meter`, a key derived from the station's identity, registered as the
station's meter key) sign every session's begin and end reading, as `simulate_chargers` does for them.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .models import (
    ChargingSession,
    ChargingStation,
    Company,
    Connector,
    DriverProfile,
    IdToken,
    Location,
    MeterSample,
    Operator,
    User,
)
from .ocmf.signing import TestMeter
from .services import SignedReadingIn, meter_key_register, session_signed_values_record

#: Calibration-law mode (German Eichrecht) is on for the demo sites in these countries.
CALIBRATION_LAW_COUNTRIES = {"DE"}
METER_KEYS_FROM = datetime(2020, 1, 1, tzinfo=ZoneInfo("UTC"))


def demo_meter(ocpp_identity: str) -> TestMeter:
    """The TEST meter of a demo station (the same key pair every time; never a real meter)."""
    return TestMeter(f"demo station {ocpp_identity}", serial=f"TM-{ocpp_identity}")

DEMO_STATION_PASSWORD = "evbilling-demo-station"  # noqa: S105 - documented demo credential

OPERATORS = [
    {
        "name": "Voltara Charging",
        "legal_name": "Voltara Charging GmbH",
        "vat_id": "DE298765431",
        "address": "Invalidenstrasse 112",
        "postal_code": "10115",
        "city": "Berlin",
        "phone": "+49 30 5550 1120",
        "iban": "DE89370400440532013000",
        "country": "DE",
        "default_currency": "EUR",
        "invoice_prefix": "VOLT",
        "email": "billing@voltara.example",
        "locations": [
            ("Berlin Hauptbahnhof P2", "Europa-Platz 1", "10557", "Berlin", "DE", "Europe/Berlin", "52.525", "13.369"),
            ("Wien Prater Garage", "Ausstellungsstrasse 9", "1020", "Wien", "AT", "Europe/Vienna", "48.216", "16.396"),
            ("Helsinki Kamppi", "Urho Kekkosen katu 1", "00100", "Helsinki", "FI", "Europe/Helsinki",
             "60.169", "24.932"),
        ],
    },
    {
        "name": "Brightline Charge",
        "legal_name": "Brightline Charge Ltd",
        "vat_id": "GB123456789",
        "address": "1 Canada Square",
        "postal_code": "E14 5AB",
        "city": "London",
        "country": "GB",
        "default_currency": "GBP",
        "invoice_prefix": "BRL",
        "email": "accounts@brightline.example",
        "locations": [
            ("London King's Cross", "Goods Way 4", "N1C 4AB", "London", "GB", "Europe/London", "51.535", "-0.125"),
            ("Dublin Docklands", "North Wall Quay 25", "D01 H104", "Dublin", "IE", "Europe/Dublin", "53.348", "-6.239"),
            ("Gibraltar Ocean Village", "Ocean Village Promenade", "GX11 1AA", "Gibraltar", "GI", "Europe/Gibraltar",
             "36.146", "-5.356"),
        ],
    },
]

FIRST_NAMES = ["Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas",
               "Katja", "Liam", "Mila", "Noah", "Olivia", "Paul", "Quinn", "Rosa", "Sami", "Tara"]
LAST_NAMES = ["Novak", "Schmidt", "Byrne", "Okafor", "Larsen", "Rossi", "Khan", "Silva", "Weber", "Murphy"]


@dataclass(frozen=True)
class DemoSummary:
    operators: int
    stations: int
    drivers: int
    sessions_created: int
    samples_created: int


def _user(username: str, password_hash: str, **fields) -> User:
    user, _created = User.objects.get_or_create(username=username, defaults={"password": password_hash, **fields})
    return user


def load_reference_data(rng: random.Random) -> tuple[list[Operator], list[User]]:
    """Operators, locations, stations, connectors, logins, drivers and their tokens."""
    station_hash = make_password(DEMO_STATION_PASSWORD)
    driver_hash = make_password("driver")
    operators, drivers = [], []
    for op_index, spec in enumerate(OPERATORS):
        fields = {k: v for k, v in spec.items() if k not in ("name", "locations")}
        operator, _ = Operator.objects.get_or_create(name=spec["name"], defaults=fields)
        operators.append(operator)
        for loc_index, (name, street, postal, city, country, tz, lat, lon) in enumerate(spec["locations"]):
            location, _ = Location.objects.get_or_create(
                operator=operator,
                name=name,
                defaults={
                    "address": street, "postal_code": postal, "city": city, "country": country,
                    "time_zone": tz, "latitude": Decimal(lat), "longitude": Decimal(lon),
                    "calibration_law": country in CALIBRATION_LAW_COUNTRIES,
                },
            )
            for station_index in range(2):
                identity = f"{spec['invoice_prefix']}-{loc_index + 1:02d}-{station_index + 1:02d}"
                is_dc = station_index == 1
                station, created = ChargingStation.objects.get_or_create(
                    ocpp_identity=identity,
                    defaults={
                        "location": location,
                        "vendor": "Alpitronic" if is_dc else "ABB",
                        "model": "HYC150" if is_dc else "Terra AC W22",
                        "serial_number": f"SN{op_index}{loc_index}{station_index}0042",
                        "password_hash": station_hash,
                        "status": ChargingStation.Status.AVAILABLE,
                    },
                )
                if location.calibration_law:
                    meter = demo_meter(identity)
                    meter_key_register(station=station, evse_number=None, public_key=meter.public_key_hex,
                                       meter_serial=meter.serial, valid_from=METER_KEYS_FROM)
                if created:
                    count = rng.randint(1, 4)
                    Connector.objects.bulk_create(
                        Connector(
                            station=station,
                            number=n,
                            standard=Connector.Standard.CCS2 if is_dc else Connector.Standard.TYPE2,
                            power_type=Connector.PowerType.DC if is_dc else Connector.PowerType.AC_3_PHASE,
                            max_power_kw=Decimal("150") if is_dc else Decimal("22"),
                            status="Available",
                        )
                        for n in range(1, count + 1)
                    )
        for d in range(20):
            username = "driver" if (op_index == 0 and d == 0) else f"driver{op_index + 1}{d + 1:02d}"
            first, last = FIRST_NAMES[d], LAST_NAMES[(d + op_index * 3) % len(LAST_NAMES)]
            driver = _user(
                username, driver_hash, role=User.Role.DRIVER, operator=operator,
                first_name=first, last_name=last, email=f"{username}@drivers.example",
                # Half of the German operator's drivers read the portal in German (driver102, driver104, ...).
                language="de" if op_index == 0 and d % 2 == 1 else "",
            )
            DriverProfile.objects.get_or_create(
                user=driver,
                defaults={
                    "full_name": f"{first} {last}",
                    "address": f"{10 + d} Demo Street",
                    "postal_code": "10115" if op_index == 0 else "E1 6AN",
                    "city": "Berlin" if op_index == 0 else "London",
                    "country": operator.country,
                    "company_name": "Fleetwise Logistics" if d % 7 == 3 else "",
                    "company_vat_id": (f"{operator.country}99887766{d}" if d % 7 == 3 else ""),
                },
            )
            IdToken.objects.get_or_create(
                operator=operator,
                uid=f"04{op_index + 1:02X}{d + 1:02X}A1B2C3",
                defaults={"driver": driver, "type": IdToken.Type.RFID},
            )
            drivers.append(driver)

    _user("admin", make_password("admin"), is_staff=True, is_superuser=True, email="admin@evbilling.example")
    _user("operator", make_password("operator"), is_staff=True, role=User.Role.OPERATOR_STAFF,
          operator=operators[0], email="ops@voltara.example")
    support = _user("support", make_password("support"), is_staff=True, role=User.Role.SUPPORT,
                    email="support@evbilling.example")
    support.supported_operators.add(*operators)
    load_companies(operators)
    return operators, drivers


# Each operator's "Fleetwise Logistics" (the drivers whose profile names it) is a company: its drivers' cards are
# business cards in two or three cost centres, one member also has a private card, one card a monthly cap.
COMPANIES = [
    {"legal_name": "Fleetwise Logistics GmbH", "address": "Lagerstrasse 7", "postal_code": "10117", "city": "Berlin",
     "country": "DE", "vat_id": "DE136695976", "buyer_reference": "04011000-1234512345-06",
     "billing_email": "ap@fleetwise.example", "payment_terms_days": 30, "purchase_order": "PO-2026-0042",
     "cost_centres": ["Sales", "Service", "Logistics"], "manager": "fleet"},
    {"legal_name": "Fleetwise Logistics Ltd", "address": "12 Dock Road", "postal_code": "E16 1AA",
     "city": "London", "country": "GB", "vat_id": "GB980780684", "billing_email": "ap@fleetwise-uk.example",
     "payment_terms_days": 30, "cost_centres": ["Operations", "Field"], "manager": None},
]


def load_companies(operators: list[Operator]) -> None:
    """The demo companies, their members and cards (idempotent: looked up by name, cards set up once), and the
    fleet manager login `fleet`/`fleet` of the first."""
    for operator, spec in zip(operators, COMPANIES, strict=False):
        fields = {k: v for k, v in spec.items() if k not in ("legal_name", "cost_centres", "manager")}
        company, _ = Company.objects.get_or_create(operator=operator, legal_name=spec["legal_name"], defaults=fields)
        members = list(User.objects.filter(operator=operator, role=User.Role.DRIVER,
                                           driver_profile__company_name="Fleetwise Logistics").order_by("username"))
        User.objects.filter(pk__in=[m.pk for m in members]).update(company=company)
        for index, member in enumerate(members):
            plate = f"{'B-FW' if operator.country == 'DE' else 'FW'} {1001 + index}"
            IdToken.objects.filter(driver=member, company__isnull=True).update(
                company=company, charging=IdToken.Charging.BUSINESS, licence_plate=plate,
                cost_centre=spec["cost_centres"][index % len(spec["cost_centres"])],
                monthly_cap=Decimal("400.00") if index == 0 else None)
        if members:
            IdToken.objects.get_or_create(operator=operator, uid=f"04{operator.pk:02X}F1EE70P1", defaults={
                "driver": members[0], "company": company, "charging": IdToken.Charging.PRIVATE})
        if spec["manager"]:
            _user(spec["manager"], make_password(spec["manager"]), role=User.Role.FLEET_MANAGER, operator=operator,
                  company=company, first_name="Fiona", last_name="Fleet", email="fleet@fleetwise.example")


def _charge_profile(rng: random.Random, *, dc: bool, max_kw: float) -> tuple[float, float, int]:
    """(energy wanted kWh, peak kW, idle tail minutes) for one realistic session."""
    if dc:
        return rng.uniform(15, 60), min(max_kw, rng.choice([50.0, 75.0, 110.0, 150.0])), rng.choice([0, 0, 0, 5, 12])
    return rng.uniform(5, 40), min(max_kw, rng.choice([7.4, 11.0, 11.0, 22.0])), rng.choice([0, 15, 30, 60, 120, 240])


def _session_rows(rng: random.Random, connector: Connector, start: datetime, token: IdToken, seq: int):
    """One session and its samples, in memory: power tapers after 80 % state of charge."""
    dc = connector.power_type == Connector.PowerType.DC
    wanted_kwh, peak_kw, idle_min = _charge_profile(rng, dc=dc, max_kw=float(connector.max_power_kw))
    step = timedelta(minutes=2 if dc else 5)
    soc = rng.randint(10, 45)
    capacity_kwh = rng.choice([52.0, 64.0, 77.0, 82.0])
    meter = Decimal(rng.randint(100_000, 9_000_000))
    meter_start = meter
    aborted = rng.random() < 0.03
    samples, t, delivered = [], start, 0.0
    while not aborted and delivered < wanted_kwh and soc < 100:
        taper = 1.0 if soc < 80 else max(0.15, (100 - soc) / 20)
        power_kw = peak_kw * taper * rng.uniform(0.93, 1.0)
        energy = power_kw * step.total_seconds() / 3600
        delivered += energy
        soc = min(100, soc + round(energy / capacity_kwh * 100) or 1)
        meter += Decimal(str(round(energy * 1000, 1)))
        t += step
        samples.append((t, meter, Decimal(str(round(power_kw * 1000, 1))),
                        Decimal(str(round(power_kw * 1000 / (400 * 1.732 if not dc else 400), 2))), soc))
    for _ in range(idle_min // int(step.total_seconds() // 60)) if not aborted else ():
        t += step
        samples.append((t, meter, Decimal("0.0"), Decimal("0.00"), soc))
    stop = t + timedelta(seconds=rng.randint(5, 50))
    session = ChargingSession(
        operator_id=token.operator_id, connector=connector, id_token=token, driver_id=token.driver_id,
        **token.session_billing(),
        transaction_ref=f"demo-{connector.pk}-{seq}",
        state=ChargingSession.State.FAILED if aborted else ChargingSession.State.COMPLETED,
        started_at=start, stopped_at=stop, meter_start_wh=meter_start, meter_stop_wh=meter,
        energy_wh=meter - meter_start, stop_reason="EVDisconnected" if not aborted else "PowerLoss",
        last_message_at=stop,
    )
    return session, samples


def _meter_samples(session: ChargingSession, samples) -> list[MeterSample]:
    return [MeterSample(session=session, taken_at=at, energy_wh=e, power_w=p, current_a=c, soc_percent=soc)
            for (at, e, p, c, soc) in samples]


def demo_session_save(rng: random.Random, connector: Connector, start: datetime, token: IdToken, *,
                      transaction_ref: str) -> ChargingSession:
    """One completed session of the demo's history and its samples, saved under `transaction_ref`: the charges
    other apps' demos place at set times (guests', roaming drivers'), apart from `load_sessions`' mornings."""
    session, samples = _session_rows(rng, connector, start, token, seq=int(start.timestamp()))
    session.transaction_ref = transaction_ref
    session.state = ChargingSession.State.COMPLETED
    session.save()
    MeterSample.objects.bulk_create(_meter_samples(session, samples))
    return session


def load_sessions(
    rng: random.Random, operators: list[Operator], *, days: int, today: date,
    progress: Callable[[int], None] = lambda n: None,
) -> tuple[int, int]:
    """Sessions for the past `days` days on every connector of operators that have none yet."""
    sessions_created = samples_created = 0
    for operator in operators:
        if ChargingSession.objects.filter(operator=operator).exists():
            progress(days)
            continue
        tokens = list(IdToken.objects.filter(operator=operator).order_by("uid"))
        connectors = list(Connector.objects.filter(station__location__operator=operator)
                          .select_related("station__location").order_by("pk"))
        for day_offset in range(days, 0, -1):
            day = today - timedelta(days=day_offset)
            batch = []
            for connector in connectors:
                zone = ZoneInfo(connector.station.location.time_zone)
                free_from = datetime.combine(day, time(6, 0), zone)
                for _seq in range(rng.choice([0, 1, 1, 2, 2, 3])):
                    start = free_from + timedelta(minutes=rng.randint(0, 300))
                    if start.date() != day:
                        break
                    session, samples = _session_rows(rng, connector, start, rng.choice(tokens),
                                                     seq=int(start.timestamp()))
                    batch.append((session, samples))
                    free_from = session.stopped_at + timedelta(minutes=rng.randint(5, 90))
            with transaction.atomic():
                ChargingSession.objects.bulk_create([s for s, _ in batch])
                rows = [row for s, samples in batch for row in _meter_samples(s, samples)]
                MeterSample.objects.bulk_create(rows, batch_size=2000)
                for session, _ in batch:
                    if session.connector.station.location.calibration_law:
                        _sign(session, tokens)
            sessions_created += len(batch)
            samples_created += len(rows)
            progress(1)
    return sessions_created, samples_created


def _sign(session: ChargingSession, tokens: list[IdToken]) -> None:
    """The station's TEST meter signs the session's begin and end reading (OCMF, as its charger would send)."""
    meter = demo_meter(session.connector.station.ocpp_identity)
    uid = next((t.uid for t in tokens if t.pk == session.id_token_id), "")
    readings = []
    for at, wh, tx, context in ((session.started_at, session.meter_start_wh, "B", "Transaction.Begin"),
                                (session.stopped_at, session.meter_stop_wh, "E", "Transaction.End")):
        record = meter.reading(at=at, wh=wh, tx=tx, id_tag=uid)
        readings.append(SignedReadingIn(taken_at=at, signed_data=record, format="OCMF", encoding="plain",
                                        ocmf=record, context=context))
    session_signed_values_record(session=session, readings=readings)


def load_demo(*, days: int = 90, seed: int = 2026, progress: Callable[[int], None] = lambda n: None) -> DemoSummary:
    rng = random.Random(seed)
    with transaction.atomic():
        operators, drivers = load_reference_data(rng)
    sessions, samples = load_sessions(rng, operators, days=days, today=timezone.localdate(), progress=progress)
    return DemoSummary(
        operators=len(operators),
        stations=ChargingStation.objects.filter(location__operator__in=operators).count(),
        drivers=len(drivers),
        sessions_created=sessions,
        samples_created=samples,
    )
