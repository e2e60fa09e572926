"""The OCPI 2.2.1 pricing engine: `price_session` and the objects it reads and writes.

Pure (no ORM, no I/O). One module per rule of the spec: `restrictions`, `elements` (element
choice), `periods` (period splitting), `step_size`, `lines` (lines and totals), `bounds`
(min/max price); `engine` walks the periods; `types` holds the OCPI objects. Money is rounded
by `billing_app.money`.

The modules of the walk (`COMPILED_MODULES`) may also be compiled with Cython
(`tools/compile_pricing.py`, run by `make install`) into `build/pricing/`: they are imported from
there when its stamp matches these sources exactly, else (no build, a stale one, or
`EVBILLING_PURE_PRICING=1`) from the .py files beside this one. Both give the same results;
`COMPILED` tells which one runs (docs/tariffs.md, "Compiled build").
"""

from __future__ import annotations

import hashlib
import os
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from billing_app.money import MINOR_UNITS

#: The modules compiled (not `types`: its records are built by an exec-made constructor and given their
#: class afterwards; not `ocpi`, the JSON reader).
COMPILED_MODULES = ("engine", "periods", "volumes", "lines", "step_size", "bounds", "restrictions", "elements")
SOURCE_DIR = Path(__file__).resolve().parent
BUILD_DIR = SOURCE_DIR.parents[1] / "build" / "pricing"
STAMP_NAME = "stamp"


def source_stamp() -> dict[str, str]:
    """What a build must have been made from to be used: these sources (sha256) and this Python's ABI."""
    digest = hashlib.sha256()
    for name in COMPILED_MODULES:
        source = (SOURCE_DIR / f"{name}.py").read_bytes()
        digest.update(f"{name}.py {len(source)}\n".encode() + source)
    return {"sources": digest.hexdigest(), "abi": EXTENSION_SUFFIXES[0]}


def read_stamp(build_dir: Path = BUILD_DIR) -> dict[str, str]:
    """The stamp a build wrote (`key value` lines), {} without one."""
    try:
        text = (build_dir / STAMP_NAME).read_text()
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in text.splitlines() if " " in line)


def write_stamp(build_dir: Path, stamp: dict[str, str]) -> None:
    (build_dir / STAMP_NAME).write_text("".join(f"{key} {value}\n" for key, value in stamp.items()))


def build_is_current(build_dir: Path = BUILD_DIR) -> bool:
    """Whether `build_dir` holds a build of exactly these sources for this Python."""
    stamp = read_stamp(build_dir)
    return bool(stamp) and all(stamp.get(key) == value for key, value in source_stamp().items())


PURE_REQUESTED = os.environ.get("EVBILLING_PURE_PRICING", "") not in ("", "0")
#: Whether the modules of the walk run compiled in this process.
COMPILED = not PURE_REQUESTED and build_is_current()
if COMPILED:
    __path__.insert(0, str(BUILD_DIR))

from .engine import price_session  # noqa: E402 (after the choice of build)
from .types import (  # noqa: E402
    DAYS_OF_WEEK,
    ENERGY,
    FLAT,
    MAX_PRICE,
    MIN_PRICE,
    PARKING_TIME,
    RESERVATION,
    RESERVATION_EXPIRES,
    RESERVATION_FLAT,
    RESERVATION_TIME,
    RESERVATION_TYPES,
    TARIFF_DIMENSIONS,
    TARIFF_TYPES,
    TIME,
    ZERO,
    ChargingPeriod,
    CostBreakdown,
    CostLine,
    DisplayText,
    Price,
    PriceComponent,
    PricingError,
    Session,
    Tariff,
    TariffElement,
    TariffRestrictions,
)

__all__ = [
    "DAYS_OF_WEEK",
    "ENERGY",
    "FLAT",
    "MAX_PRICE",
    "MINOR_UNITS",
    "MIN_PRICE",
    "PARKING_TIME",
    "RESERVATION",
    "RESERVATION_EXPIRES",
    "RESERVATION_FLAT",
    "RESERVATION_TIME",
    "RESERVATION_TYPES",
    "TARIFF_DIMENSIONS",
    "TARIFF_TYPES",
    "TIME",
    "ZERO",
    "ChargingPeriod",
    "CostBreakdown",
    "CostLine",
    "DisplayText",
    "Price",
    "PriceComponent",
    "PricingError",
    "Session",
    "Tariff",
    "TariffElement",
    "TariffRestrictions",
    "price_session",
]
