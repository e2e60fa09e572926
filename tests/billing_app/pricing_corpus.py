"""Random pricing cases with their recorded outputs: the engine's regression corpus.

    .venv/bin/python -m tests.billing_app.pricing_corpus [--cases 6000] [--seed 16]

writes `tests/billing_app/data/pricing_corpus.jsonl.gz`: one JSON object per line,
`{"tariff": <OCPI Tariff>, "session": <session file>, "expected": <outputs>}`, the cases drawn
with a fixed seed and the outputs those of the engine at the time of writing. The cases cover
every TariffRestrictions field (start/end time and date, kWh, power, current, duration,
day_of_week, reservation), sessions over midnight, over the DST nights of Europe/Berlin and
America/New_York and longer than a week, step sizes, min/max prices, parking grace, periods
suspended by the EVSE, every TariffDimensionType and several currencies (2, 0 and 3 decimals).

`test_pricing_corpus.py` re-prices every case and compares. Only outputs that do not depend on
how VAT is totalled are recorded (`expected_outputs`). Regenerate the file only for an intended
change of results, and say so in the commit.
"""

from __future__ import annotations

import argparse
import gzip
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from billing_app.pricing import MAX_PRICE, MIN_PRICE, CostBreakdown, PricingError, price_session
from billing_app.pricing.ocpi import dumps, loads, session_from_json, tariff_from_ocpi

CORPUS = Path(__file__).resolve().parent / "data" / "pricing_corpus.jsonl.gz"
SEED = 16
CASES = 6000

CURRENCIES = ("EUR", "EUR", "EUR", "USD", "GBP", "CHF", "SEK", "JPY", "KWD")
ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata")
# UTC instants of the DST changes (spring forward, fall back) the sessions cross.
DST_CHANGES = {
    "Europe/Berlin": (datetime(2025, 3, 30, 1, tzinfo=UTC), datetime(2025, 10, 26, 1, tzinfo=UTC)),
    "America/New_York": (datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC)),
}
DAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
VAT_RATES = (None, Decimal(0), Decimal("5.5"), Decimal(7), Decimal(19), Decimal(19), Decimal(20), Decimal(21))
ENERGY_STEPS = (1, 1, 1, 10, 100, 250, 500, 1000)
TIME_STEPS = (1, 1, 60, 60, 300, 900, 3600, 7)
TIMES_OF_DAY = ("00:00", "06:00", "07:00", "07:30", "08:00", "12:00", "17:00", "18:30", "20:00", "22:00", "23:00")


COST_TOTALS = (
    "total_cost", "total_fixed_cost", "total_energy_cost", "total_time_cost", "total_parking_cost",
    "total_reservation_cost",
)  # fmt: skip


def _decimal(rng: random.Random, low: float, high: float, places: int) -> Decimal:
    return Decimal(round(rng.uniform(low, high), places)).quantize(Decimal(1).scaleb(-places))


def _restrictions(rng: random.Random, start: datetime) -> dict[str, Any]:
    r: dict[str, Any] = {}
    kinds = rng.sample(
        ("time", "date", "kwh", "power", "current", "duration", "day_of_week"), k=rng.choice((1, 1, 1, 2, 2, 3))
    )
    for kind in kinds:
        if kind == "time":
            a, b = rng.sample(TIMES_OF_DAY, 2)
            if rng.random() < 0.2:
                r["start_time"] = a
            elif rng.random() < 0.2:
                r["end_time"] = b
            else:
                r["start_time"], r["end_time"] = a, b
        elif kind == "date":
            day = start.date() + timedelta(days=rng.randint(-2, 2))
            if rng.random() < 0.5:
                r["start_date"] = day.isoformat()
            if rng.random() < 0.6 or "start_date" not in r:
                r["end_date"] = (day + timedelta(days=rng.randint(0, 3))).isoformat()
        elif kind == "kwh":
            low = _decimal(rng, 0, 30, rng.choice((0, 1, 3)))
            if rng.random() < 0.6:
                r["min_kwh"] = low
            if rng.random() < 0.6 or "min_kwh" not in r:
                r["max_kwh"] = low + _decimal(rng, 0.5, 40, 1)
        elif kind == "power":
            low = _decimal(rng, 3, 60, rng.choice((0, 1)))
            if rng.random() < 0.6:
                r["min_power"] = low
            if rng.random() < 0.5 or "min_power" not in r:
                r["max_power"] = low + _decimal(rng, 1, 100, 0)
        elif kind == "current":
            low = _decimal(rng, 6, 100, 0)
            if rng.random() < 0.6:
                r["min_current"] = low
            if rng.random() < 0.5 or "min_current" not in r:
                r["max_current"] = low + _decimal(rng, 5, 200, 0)
        elif kind == "duration":
            low = rng.choice((0, 300, 1800, 3600, 5400, 7200, 10800)) + rng.choice((0, 0, 17))
            if rng.random() < 0.6:
                r["min_duration"] = low
            if rng.random() < 0.5 or "min_duration" not in r:
                r["max_duration"] = low + rng.choice((600, 1800, 3600, 7200))
        else:
            r["day_of_week"] = sorted(rng.sample(DAYS, rng.randint(1, 5)), key=DAYS.index)
    return r


def _component(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "FLAT":
        price, step = _decimal(rng, 0, 3, 2), 1
    elif kind == "ENERGY":
        price, step = _decimal(rng, 0.05, 0.9, rng.choice((2, 2, 3, 4))), rng.choice(ENERGY_STEPS)
    else:
        price, step = _decimal(rng, 0, 12, rng.choice((2, 2, 3))), rng.choice(TIME_STEPS)
    component: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    vat = rng.choice(VAT_RATES)
    if vat is not None:
        component["vat"] = vat
    return component


def random_tariff(rng: random.Random, start: datetime, reservation: str | None) -> dict[str, Any]:
    """An OCPI Tariff of 1 to 7 elements, usually ending with an unrestricted fallback."""
    currency = rng.choice(CURRENCIES)
    elements = []
    for _ in range(rng.randint(1, 6)):
        kinds = rng.sample(("ENERGY", "TIME", "PARKING_TIME", "FLAT"), rng.choice((1, 1, 2, 3)))
        if rng.random() < 0.1:
            kinds.append(kinds[0])  # a second component of the same type: only the first counts
        element: dict[str, Any] = {"price_components": [_component(rng, kind) for kind in kinds]}
        if rng.random() < 0.8:
            element["restrictions"] = _restrictions(rng, start)
        elements.append(element)
    if reservation is not None or rng.random() < 0.05:
        for kind in rng.sample(("RESERVATION", "RESERVATION_EXPIRES"), rng.randint(1, 2)):
            types = rng.sample(("TIME", "FLAT"), rng.randint(1, 2))
            restrictions = {"reservation": kind}
            if rng.random() < 0.3:
                restrictions |= _restrictions(rng, start)
            position = rng.randint(0, len(elements))
            elements.insert(
                position, {"price_components": [_component(rng, t) for t in types], "restrictions": restrictions}
            )
    if rng.random() < 0.75:
        kinds = rng.sample(("ENERGY", "TIME", "PARKING_TIME", "FLAT"), rng.randint(1, 3))
        elements.append({"price_components": [_component(rng, kind) for kind in kinds]})
    tariff: dict[str, Any] = {
        "country_code": "DE",
        "party_id": "EVB",
        "id": f"corpus-{rng.randrange(10**6)}",
        "currency": currency,
        "elements": elements,
        "last_updated": "2025-01-01T00:00:00Z",
    }
    scale = Decimal(100) if currency == "JPY" else Decimal(1)
    if rng.random() < 0.2:
        tariff["min_price"] = {"excl_vat": _decimal(rng, 0.5, 10, 2) * scale}
        if rng.random() < 0.5:
            tariff["min_price"]["incl_vat"] = (tariff["min_price"]["excl_vat"] * Decimal("1.19")).quantize(
                Decimal("0.01")
            )
    if rng.random() < 0.2:
        low = tariff.get("min_price", {}).get("excl_vat", Decimal(0))
        tariff["max_price"] = {"excl_vat": low + _decimal(rng, 1, 60, 2) * scale}
        if rng.random() < 0.5:
            tariff["max_price"]["incl_vat"] = (tariff["max_price"]["excl_vat"] * Decimal("1.2")).quantize(
                Decimal("0.01")
            )
    if rng.random() < 0.2:
        tariff["evbilling_parking_grace_minutes"] = rng.choice((5, 10, 15, 30, 60))
    return tariff


def _session_start(rng: random.Random, zone: str) -> datetime:
    kind = rng.random()
    if zone in DST_CHANGES and kind < 0.3:
        change = rng.choice(DST_CHANGES[zone])
        return change - timedelta(minutes=rng.randint(5, 8 * 60), seconds=rng.choice((0, 0, rng.randint(0, 59))))
    day = datetime(2025, 1, 1) + timedelta(days=rng.randint(0, 540))
    if kind < 0.65:  # evening: the session runs over midnight
        local = day.replace(hour=rng.randint(19, 23), minute=rng.randint(0, 59))
    else:
        local = day + timedelta(minutes=rng.randint(0, 24 * 60 - 1))
    local = local.replace(second=rng.choice((0, 0, rng.randint(0, 59))))
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _hours(rng: random.Random, seconds: int) -> Decimal:
    """A period's duration in hours as a CDR may state it: exact, or to OCPI's 4 decimals."""
    exact = Decimal(seconds) / 3600
    return exact if rng.random() < 0.6 else exact.quantize(Decimal("0.0001"))


def random_session(rng: random.Random, reservation: str | None) -> dict[str, Any]:
    """A session file of 1 to 40 charging periods, then parking; with MIN/MAX_POWER, POWER,
    CURRENT and MIN/MAX_CURRENT dimensions in some periods."""
    zone = rng.choice(ZONES)
    start = _session_start(rng, zone)
    moment = start
    periods: list[dict[str, Any]] = []
    if reservation is not None:
        seconds = rng.randint(5, 30) * 60
        periods.append(
            {"start_date_time": moment, "dimensions": [{"type": "RESERVATION_TIME", "volume": _hours(rng, seconds)}]}
        )
        moment += timedelta(seconds=seconds)
    if reservation != "RESERVATION_EXPIRES":
        long_session = rng.random() < 0.02
        count = rng.choice((1, 2, 3, 5, 8, 12, 20, 40))
        for _ in range(count):
            seconds = rng.choice((60, 300, 900, 1800, 3600, 5400)) + rng.choice((0, 0, rng.randint(1, 600)))
            if long_session:
                seconds *= 48
            power = _decimal(rng, 0, 150, rng.choice((0, 1, 2)))
            energy = (power * seconds / 3600).quantize(Decimal("0.001"))
            dims: list[dict[str, Any]] = []
            if energy or rng.random() < 0.5:
                dims.append({"type": "ENERGY", "volume": energy})
            dims.append({"type": "TIME", "volume": _hours(rng, seconds)})
            extra = rng.random()
            if extra < 0.3:
                dims += [
                    {"type": "MIN_POWER", "volume": max(power - _decimal(rng, 0, 10, 1), Decimal(0))},
                    {"type": "MAX_POWER", "volume": power + _decimal(rng, 0, 10, 1)},
                ]
            elif extra < 0.45:
                dims.append({"type": "MAX_POWER", "volume": power})
            elif extra < 0.6:
                dims.append({"type": "POWER", "volume": power})
            if rng.random() < 0.3:
                current = (power * 1000 / 400).quantize(Decimal(1))
                if rng.random() < 0.5:
                    dims.append({"type": "CURRENT", "volume": current})
                else:
                    dims += [
                        {"type": "MIN_CURRENT", "volume": max(current - 5, Decimal(0))},
                        {"type": "MAX_CURRENT", "volume": current + 3},
                    ]
            rng.shuffle(dims)
            periods.append({"start_date_time": moment, "dimensions": dims})
            moment += timedelta(seconds=seconds)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            seconds = rng.choice((120, 600, 1800, 3600, 7200)) + rng.randint(0, 300)
            parking = [{"type": "PARKING_TIME", "volume": _hours(rng, seconds)}]
            period: dict[str, Any] = {"start_date_time": moment, "dimensions": parking}
            if rng.random() < 0.25:
                period["evbilling_suspended_by_evse"] = True
            periods.append(period)
            moment += timedelta(seconds=seconds)
    end = moment + timedelta(seconds=rng.choice((0, 0, 0, rng.randint(1, 300))))
    for period in periods:
        period["start_date_time"] = _iso(period["start_date_time"])
    session: dict[str, Any] = {
        "start_date_time": _iso(start),
        "end_date_time": _iso(end),
        "time_zone": zone,
        "charging_periods": periods,
    }
    if reservation is not None:
        session["reservation"] = reservation
    return session


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def random_case(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    roll = rng.random()
    reservation = "RESERVATION" if roll < 0.06 else "RESERVATION_EXPIRES" if roll < 0.09 else None
    session = random_session(rng, reservation)
    start = datetime.fromisoformat(session["start_date_time"])
    return random_tariff(rng, start, reservation), session


def expected_outputs(breakdown: CostBreakdown) -> dict[str, Any]:
    """The outputs that do not depend on how VAT is totalled: each priced line (dimension,
    element and component, periods, quantities, unit price, VAT rate, amount excl. VAT), the
    min/max price adjustment excl. VAT per kind, every total excl. VAT and the quantities."""
    lines = []
    bounds: dict[str, str] = {}
    for line in breakdown.lines:
        if line.dimension in (MIN_PRICE, MAX_PRICE):
            bounds[line.dimension] = str(Decimal(bounds.get(line.dimension, 0)) + line.amount_excl_vat)
            continue
        lines.append(
            [
                line.dimension,
                line.element_index,
                line.component_index,
                list(line.period_indices),
                str(line.quantity),
                str(line.billed_quantity),
                str(line.unit_price),
                None if line.vat_rate is None else str(line.vat_rate),
                str(line.amount_excl_vat),
            ]
        )
    totals = {name: str(getattr(breakdown, name).excl_vat) for name in COST_TOTALS}
    quantities = {name: str(getattr(breakdown, name)) for name in ("total_energy", "total_time", "total_parking_time")}
    return {"lines": lines, "bounds": bounds, "totals": totals, "quantities": quantities}


def price_case(tariff: dict[str, Any], session: dict[str, Any]) -> dict[str, Any]:
    """The recorded outputs of one case, or `{"error": message}` for a case the engine refuses."""
    try:
        breakdown = price_session(tariff=tariff_from_ocpi(tariff), session=session_from_json(session))
    except PricingError as error:
        return {"error": str(error)}
    return expected_outputs(breakdown)


def read_corpus(path: Path = CORPUS) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [loads(line) for line in lines]


def write_corpus(*, cases: int, seed: int, path: Path = CORPUS) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as raw:
        for _ in range(cases):
            tariff, session = random_case(rng)
            # Through JSON first, so the expectation is that of the case exactly as stored.
            tariff, session = loads(dumps(tariff)), loads(dumps(session))
            expected = price_case(tariff, session)
            record = {"tariff": tariff, "session": session, "expected": expected}
            raw.write((dumps(record) + "\n").encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=CASES)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    write_corpus(cases=args.cases, seed=args.seed)
    print(f"{args.cases} cases written to {CORPUS} ({CORPUS.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
