"""Benchmark of the pricing engine: sessions priced per second on one core.

    .venv/bin/python bench/pricing.py [--seconds 2]

Realistic: 60 charging periods (5 h in Europe/Berlin, crossing a 22:00 tariff boundary in the
middle of a period, with power varying around a 22 kW threshold, ending with parking) priced
with a 6-element tariff (time-of-day and power restrictions, flat fee, parking fee).
Simple: 2 periods priced with a 1-element tariff. Needs no Django settings.
"""

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing_app.pricing import Session, Tariff, price_session
from billing_app.pricing.ocpi import session_from_json, tariff_from_ocpi

REALISTIC_TARIFF = {
    "country_code": "DE",
    "party_id": "EVB",
    "id": "bench-6",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": Decimal("0.49"), "vat": Decimal("19"), "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": Decimal("0.69"), "vat": Decimal("19"), "step_size": 1}],
            "restrictions": {"min_power": Decimal("22")},
        },
        {
            "price_components": [{"type": "ENERGY", "price": Decimal("0.59"), "vat": Decimal("19"), "step_size": 1}],
            "restrictions": {"start_time": "07:00", "end_time": "22:00"},
        },
        {
            "price_components": [{"type": "ENERGY", "price": Decimal("0.45"), "vat": Decimal("19"), "step_size": 1}],
            "restrictions": {"start_time": "22:00", "end_time": "07:00"},
        },
        {
            "price_components": [{"type": "TIME", "price": Decimal("1.20"), "vat": Decimal("19"), "step_size": 60}],
            "restrictions": {"min_duration": 10800},
        },
        {
            "price_components": [
                {"type": "PARKING_TIME", "price": Decimal("6.00"), "vat": Decimal("19"), "step_size": 300}
            ],
            "restrictions": {"start_time": "08:00", "end_time": "22:00"},
        },
    ],
    "max_price": {"excl_vat": Decimal("150.00"), "incl_vat": Decimal("178.50")},
    "last_updated": "2025-01-01T00:00:00Z",
}
SIMPLE_TARIFF = {
    "country_code": "DE",
    "party_id": "EVB",
    "id": "bench-1",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "ENERGY", "price": Decimal("0.39"), "vat": Decimal("19"), "step_size": 1},
                {"type": "PARKING_TIME", "price": Decimal("3.00"), "vat": Decimal("19"), "step_size": 60},
            ]
        }
    ],
    "last_updated": "2025-01-01T00:00:00Z",
}


def realistic_session() -> dict:
    start = datetime(2025, 3, 12, 18, 2, 30, tzinfo=UTC)  # 19:02:30 in Berlin
    periods = []
    moment = start
    for i in range(60):
        if i < 50:
            power = Decimal(11 + (i * 7) % 40)  # 11..50 kW
            dims = [
                {"type": "ENERGY", "volume": (power / 12).quantize(Decimal("0.001"))},
                {"type": "TIME", "volume": Decimal(5) / 60},
                {"type": "MAX_POWER", "volume": power},
                {"type": "MIN_POWER", "volume": power - 2},
            ]
        else:
            dims = [{"type": "PARKING_TIME", "volume": Decimal(5) / 60}]
        periods.append({"start_date_time": moment.isoformat(), "dimensions": dims})
        moment += timedelta(minutes=5)
    return {
        "start_date_time": start.isoformat(),
        "end_date_time": moment.isoformat(),
        "time_zone": "Europe/Berlin",
        "charging_periods": periods,
    }


def simple_session() -> dict:
    return {
        "start_date_time": "2025-03-12T10:00:00Z",
        "end_date_time": "2025-03-12T11:10:00Z",
        "charging_periods": [
            {
                "start_date_time": "2025-03-12T10:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": Decimal("21.345")}, {"type": "TIME", "volume": 1}],
            },
            {
                "start_date_time": "2025-03-12T11:00:00Z",
                "dimensions": [{"type": "PARKING_TIME", "volume": Decimal("0.1667")}],
            },
        ],
    }


def rate(tariff: Tariff, session: Session, seconds: float) -> tuple[float, str]:
    breakdown = price_session(tariff=tariff, session=session)
    count = 0
    began = time.perf_counter()
    deadline = began + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            price_session(tariff=tariff, session=session)
        count += 100
    return count / (time.perf_counter() - began), str(breakdown.total_cost.incl_vat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each case")
    seconds = parser.parse_args().seconds
    cases = [
        ("realistic (60 periods, 6 elements)", tariff_from_ocpi(REALISTIC_TARIFF), realistic_session()),
        ("simple (2 periods, 1 element)", tariff_from_ocpi(SIMPLE_TARIFF), simple_session()),
    ]
    for name, tariff, raw in cases:
        session = session_from_json(raw)
        per_second, total = rate(tariff, session, seconds)
        print(f"{name:<38} {per_second:>10,.0f} sessions/s  ({1e6 / per_second:,.1f} us each, total {total} EUR)")


if __name__ == "__main__":
    main()
