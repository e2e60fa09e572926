"""Benchmark of the pricing engine: sessions priced per second on one core, before and after.

    .venv/bin/python bench/pricing.py [--seconds 2] [--before REVISION] [--corpus 500]
    .venv/bin/python bench/pricing.py --instructions    # needs valgrind

Each case is priced by this tree's engine ("now") and by the engine of git revision `--before`
("before"; default ff9010c, main on 29 Nov 2026 before the speed-up of issue 16 item 7; 6068163
is the engine the regression corpus was recorded with), loaded from `git archive` into a temporary
directory, alternately in short rounds timed in CPU time so that both see the same machine load;
the outputs of both are compared on the case and on the first `--corpus` cases of the regression
corpus (tests/billing_app/data/pricing_corpus.jsonl.gz). Without git, only this tree's figures
print. `--instructions` counts CPU instructions per session instead (valgrind's callgrind, 50 runs
of each): slower, but a figure other work on a shared machine does not move. It also counts the
realistic case as settlement prices it (reading the tariff snapshot's JSON text and the session's
periods first), the engine's whole share of settling a session.

"now" is the engine as this tree imports it: compiled with Cython when build/pricing/ holds a build
of these sources (`make compile-pricing`; docs/tariffs.md, "Compiled build"), else pure Python. When
it is compiled, this tree's sources are also loaded as a pure-Python package from a temporary copy
("now pure", sharing `billing_app/money.py`) and timed beside it, so that before, now in pure Python
and now compiled show side by side. EVBILLING_PURE_PRICING=1 times pure Python as "now".

Realistic: 60 charging periods (5 h in Europe/Berlin, crossing a 22:00 tariff boundary in the
middle of a period, with power varying around a 22 kW threshold, ending with parking) priced
with a 6-element tariff (time-of-day and power restrictions, flat fee, parking fee).
Simple: 2 periods priced with a 1-element tariff. Needs no Django settings.
"""

import argparse
import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing_app import pricing
from billing_app.pricing import Session, Tariff, ocpi, price_session
from billing_app.pricing.ocpi import session_from_json, tariff_from_ocpi
from tests.billing_app.pricing_corpus import expected_outputs, read_corpus

ROOT = Path(__file__).resolve().parent.parent
# Main before the speed-up of issue 16 item 7 (the engine the corpus was recorded with: 6068163).
BEFORE = "ff9010c"

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


def load_engine(revision: str, into: Path):
    """`price_session` of the engine at a git revision, or None without git: billing_app/pricing/ as a
    package of its own, importing the money module of the same revision (`billing_app/money.py` as it
    was then), so that "before" is that revision's code as a whole."""
    try:
        archive = subprocess.run(  # noqa: S603 (git, with a revision the user gives)
            ["git", "archive", revision, "billing_app/pricing", "billing_app/money.py"],  # noqa: S607
            cwd=ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"(no engine from git revision {revision}: {error}; only this tree's figures)")
        return None
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    money_spec = importlib.util.spec_from_file_location("money_before", into / "billing_app" / "money.py")
    money = importlib.util.module_from_spec(money_spec)
    sys.modules["money_before"] = money  # (dataclasses look their module up)
    money_spec.loader.exec_module(money)
    ours = sys.modules["billing_app.money"]
    sys.modules["billing_app.money"] = money  # the old engine's `from billing_app.money import ...`
    try:
        module = load_package(into, "pricing_before")
        importlib.import_module("pricing_before.ocpi")  # (settlement_like's reader, with the same money module)
    finally:
        sys.modules["billing_app.money"] = ours
    return module.price_session


def load_pure(into: Path):
    """`price_session` of this tree's engine in pure Python: its sources copied to a temporary directory and
    loaded as a package of their own (with no build beside them), sharing this tree's money module and its
    `types` (never compiled): the objects the cases are read into are the engine's own, as with
    EVBILLING_PURE_PRICING=1 (a copy of `types` has a ZERO of its own, which the walk's `is ZERO` checks of absent
    volumes would never meet)."""
    shutil.copytree(pricing.SOURCE_DIR, into / "billing_app" / "pricing", ignore=shutil.ignore_patterns("__py*"))
    sys.modules["pricing_pure.types"] = pricing.types
    module = load_package(into, "pricing_pure")
    assert not module.COMPILED and module.engine.__file__.endswith(".py")
    return module.price_session


def load_package(root: Path, name: str):
    """`root`/billing_app/pricing/ imported as the package `name`."""
    package = root / "billing_app" / "pricing"
    spec = importlib.util.spec_from_file_location(name, package / "__init__.py",
                                                  submodule_search_locations=[str(package)])  # fmt: skip
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


NOW_PURE = ", now pure: this tree in pure Python"


def engine_now() -> str:
    return "compiled (Cython, build/pricing/)" if pricing.COMPILED else "pure Python"


def rates(engines: dict, tariff: Tariff, session: Session, seconds: float) -> dict[str, float]:
    """Sessions per second of each engine, timed in alternating rounds of ~0.1 s."""
    counts = dict.fromkeys(engines, 0)
    spent = dict.fromkeys(engines, 0.0)
    batch = 10
    while min(spent.values()) < seconds:
        for name, engine in engines.items():
            began = time.process_time()
            for _ in range(batch):
                engine(tariff=tariff, session=session)
            spent[name] += time.process_time() - began
            counts[name] += batch
        batch = max(10, int(batch * 0.1 / max(spent[name] / counts[name] * batch, 1e-9)))
    return {name: counts[name] / spent[name] for name in engines}


def same_results(other, tariff: Tariff, session: Session) -> bool:
    return expected_outputs(other(tariff=tariff, session=session)) == expected_outputs(
        price_session(tariff=tariff, session=session)
    )


def count_instructions(before_revision: str, runs: int) -> None:
    """Instructions per session of each engine under valgrind's callgrind: a figure that, unlike
    time, does not move with other work on the machine. The child marks each measured stretch by
    calling getppid(), before which callgrind writes its counters."""
    if shutil.which("valgrind") is None:
        print("--instructions needs valgrind (apt-get install valgrind)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        command = [
            "valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={tmp}/out",
            sys.executable, __file__, "--before", before_revision, "--instructions-child", str(runs),
        ]  # fmt: skip
        child = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603 (our command line)
        dumps = sorted(Path(tmp).glob("out.*"), key=lambda path: int(path.suffix[1:]))
        counts = [int(re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)[1]) for dump in dumps]
    engines = child.stdout.splitlines()[-1].removeprefix("engines: ").split("|")  # before, [now pure,] now
    measured = counts[1::2]  # dump 1: start-up and warm-up; then measured runs and the next warm-up, in turn
    print(f"instructions per session (valgrind, {runs} runs); before: the engine at {before_revision}, "
          f"now: this tree, {engine_now()}{NOW_PURE if 'now pure' in engines else ''}")  # fmt: skip
    names = [name for name, _, _ in CASES] + [PARSED]
    for index, name in enumerate(names):
        each = dict(zip(engines, measured[len(engines) * index : len(engines) * (index + 1)], strict=True))
        then, now = each["before"] / runs, each["now"] / runs
        pure = f"now pure {each['now pure'] / runs / 1000:>8,.0f}k  " if "now pure" in each else ""
        print(f"{name:<36} before {then / 1000:>8,.0f}k  {pure}now {now / 1000:>8,.0f}k  x{then / now:.2f} as fast"
              + (f" (pure Python x{each['before'] / each['now pure']:.2f})" if pure else ""))  # fmt: skip


def instructions_child(before_revision: str, runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engines = {"before": load_engine(before_revision, Path(tmp) / "before")}
        if pricing.COMPILED:
            engines["now pure"] = load_pure(Path(tmp) / "pure")
        engines["now"] = price_session
        for _, tariff_data, session_data in CASES:
            tariff, session = tariff_from_ocpi(tariff_data), session_from_json(session_data)
            for engine in engines.values():
                for _ in range(3):
                    engine(tariff=tariff, session=session)
                os.getppid()
                for _ in range(runs):
                    engine(tariff=tariff, session=session)
                os.getppid()
        for priced in settlement_like(engines).values():
            for _ in range(3):
                priced()
            os.getppid()
            for _ in range(runs):
                priced()
            os.getppid()
    print("engines: " + "|".join(engines))


PARSED = "realistic, parsed as settlement does"


def settlement_like(engines: dict) -> dict:
    """The realistic case as settlement prices it: the tariff snapshot read from its OCPI JSON text, the
    session from its charging periods (a dict with Decimals), then priced; before (with that revision's
    reader, which reads and compiles the tariff for every session) and now (this tree's reader, which is
    not compiled, then each engine of this tree)."""
    old = importlib.import_module("pricing_before.ocpi")
    text, session_data = ocpi.dumps(REALISTIC_TARIFF), realistic_session()

    def then() -> None:
        engines["before"](tariff=old.tariff_from_ocpi(old.loads(text)), session=old.session_from_json(session_data))

    def now(engine) -> None:
        engine(tariff=ocpi.tariff_from_text(text), session=session_from_json(session_data))

    return {name: then if name == "before" else partial(now, engine) for name, engine in engines.items()}


CASES = (
    ("realistic (60 periods, 6 elements)", REALISTIC_TARIFF, realistic_session()),
    ("simple (2 periods, 1 element)", SIMPLE_TARIFF, simple_session()),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each case and engine")
    parser.add_argument("--before", default=BEFORE, help="git revision of the engine to compare with")
    parser.add_argument("--corpus", type=int, default=500, help="corpus cases whose outputs are compared")
    parser.add_argument("--instructions", action="store_true", help="count instructions under valgrind instead")
    parser.add_argument("--instructions-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.instructions_child:
        instructions_child(args.before, args.instructions_child)
        return
    if args.instructions:
        count_instructions(args.before, 50)
        return
    with tempfile.TemporaryDirectory() as tmp:
        before = load_engine(args.before, Path(tmp) / "before")
        engines = {} if before is None else {"before": before}
        if pricing.COMPILED:
            engines["now pure"] = load_pure(Path(tmp) / "pure")
        engines["now"] = price_session
        others = {name: engine for name, engine in engines.items() if name != "now"}
        print(f"engine now: {engine_now()}")
        for name, other in others.items():
            differ = 0
            for case in read_corpus()[: args.corpus]:
                tariff, session = tariff_from_ocpi(case["tariff"]), session_from_json(case["session"])
                with contextlib.suppress(ValueError):  # a case both refuse; the corpus test checks the message
                    differ += not same_results(other, tariff, session)
            than = "before" if name == "before" else "now in pure Python"
            print(f"corpus: {args.corpus - differ} of {args.corpus} cases price the same {than} and now")
        if others:
            print(f"CPU time per session; before: the engine at {args.before}, now: this tree, {engine_now()}"
                  f"{NOW_PURE if 'now pure' in others else ''}")  # fmt: skip
        for name, tariff_data, session_data in CASES:
            tariff, session = tariff_from_ocpi(tariff_data), session_from_json(session_data)
            total = price_session(tariff=tariff, session=session).total_cost.incl_vat
            per_second = rates(engines, tariff, session, args.seconds)
            now = per_second["now"]
            line = f"{name:<36} "
            if "before" in per_second:
                then = per_second["before"]
                line += f"before {1e6 / then:>7,.1f} us ({then:>7,.0f}/s)  "
            if "now pure" in per_second:
                pure = per_second["now pure"]
                line += f"now pure {1e6 / pure:>7,.1f} us ({pure:>7,.0f}/s)  "
            line += f"now {1e6 / now:>7,.1f} us ({now:>7,.0f}/s)"
            if "before" in per_second:
                line += f"  x{now / then:.2f} as fast"
            if "now pure" in per_second and "before" in per_second:
                line += f" (pure Python x{pure / then:.2f})"
            if others:
                same = all(same_results(other, tariff, session) for other in others.values())
                line += ", same results" if same else ", RESULTS DIFFER"
            print(f"{line}, total {total} EUR")


if __name__ == "__main__":
    main()
