"""Benchmark of signed meter value verification: sessions checked per second on one core.

    .venv/bin/python bench/ocmf_verify.py [--seconds 2]

Each session is a begin and an end OCMF record signed by a TEST meter (ECDSA secp256r1, SHA-256), checked by
`sessions_app.ocmf.verification.verify_session` (parsing, two signatures, the Transparenzsoftware's rules,
same transaction, energy): the work settlement adds per session at a calibration-law site. Also times building
the Transparenzsoftware's XML container. Pure: needs no database.
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evbilling.settings")

import django

django.setup()

from sessions_app.ocmf.signing import TestMeter  # noqa: E402
from sessions_app.ocmf.transparency import transparency_xml  # noqa: E402
from sessions_app.ocmf.verification import VERIFIED, MeterKey, SignedRecord, verify_session  # noqa: E402


def _sessions(count: int):
    meter = TestMeter("bench", serial="TM-BENCH")
    start = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    for n in range(count):
        begin_at = start + timedelta(hours=2 * n)
        begin_wh, end_wh = 1_000_000 + 30_000 * n, 1_000_000 + 30_000 * n + 21_345
        yield (meter, begin_at, begin_wh, end_wh,
               [SignedRecord(meter.reading(at=begin_at, wh=begin_wh, tx="B", id_tag="04AABBCC")),
                SignedRecord(meter.reading(at=begin_at + timedelta(hours=1), wh=end_wh, tx="E", id_tag="04AABBCC"))])


def _rate(fn, items, seconds: float) -> tuple[int, float]:
    done, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        fn(items[done % len(items)])
        done += 1
    return done, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    sessions = list(_sessions(200))
    key = MeterKey(sessions[0][0].public_key_hex, "TM-BENCH")

    def verify(item):
        _, at, begin_wh, end_wh, records = item
        result = verify_session(records=records, key=key, billed_energy_wh=Decimal(end_wh - begin_wh),
                                started_at=at, stopped_at=at + timedelta(hours=1))
        assert result.status == VERIFIED, result.reasons

    def container(item):
        transparency_xml(records=[r.ocmf for r in item[4]], public_key_hex=key.public_key, transaction_id=1)

    for name, fn in (("verify_session (begin + end)", verify), ("transparency_xml", container)):
        done, took = _rate(fn, sessions, args.seconds)
        print(f"{name:32s} {done / took:8.0f} sessions/s  {took / done * 1000:6.2f} ms/session  "
              f"({done} in {took:.1f} s)")


if __name__ == "__main__":
    main()
