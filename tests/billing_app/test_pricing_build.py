"""The pricing engine compiled with Cython (`tools/compile_pricing.py`, build/pricing/) and in pure Python give
the recorded outputs on the whole regression corpus, each in a process of its own that says which one ran; a
build is used only while its stamp matches the sources (docs/tariffs.md, "Compiled build").

In CI (`.ci/run`: EVBILLING_REQUIRE_COMPILED_PRICING=1) a missing or stale build fails instead of skipping."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from billing_app import pricing

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = os.environ.get("EVBILLING_REQUIRE_COMPILED_PRICING", "") not in ("", "0")

#: Prices the corpus and prints which files the engine's modules came from and the cases that differ.
PRICE_CORPUS = """
import importlib, json
from billing_app import pricing
from tests.billing_app.pricing_corpus import price_case, read_corpus
corpus = read_corpus()
differ = [number for number, case in enumerate(corpus, start=1)
          if price_case(case["tariff"], case["session"]) != case["expected"]]
files = {name: importlib.import_module(f"billing_app.pricing.{name}").__file__
         for name in (*pricing.COMPILED_MODULES, "types", "ocpi")}
print(json.dumps({"compiled": pricing.COMPILED, "files": files, "cases": len(corpus), "differ": differ}))
"""
#: Imports the engine and prints where its walk came from.
IMPORT_ENGINE = """
import json
from billing_app import pricing
from billing_app.pricing import engine
print(json.dumps({"compiled": pricing.COMPILED, "engine": engine.__file__}))
"""


def run_python(code: str, *, cwd: Path = ROOT, pure: bool = False) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "EVBILLING_PURE_PRICING"}
    if pure:
        env["EVBILLING_PURE_PRICING"] = "1"
    env["PYTHONPATH"] = str(ROOT)  # after the working directory: a copied billing_app/ is found first
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def require_current_build() -> None:
    if not pricing.build_is_current():
        message = "no build of these sources in build/pricing/ (make compile-pricing)"
        if REQUIRED:
            pytest.fail(f"EVBILLING_REQUIRE_COMPILED_PRICING is set but there is {message}")
        pytest.skip(message)


def test_the_corpus_prices_as_recorded_in_pure_python():
    ran = run_python(PRICE_CORPUS, pure=True)
    assert ran["compiled"] is False
    assert all(Path(file).parent == pricing.SOURCE_DIR and file.endswith(".py") for file in ran["files"].values())
    assert ran["cases"] > 0
    assert ran["differ"] == []


def test_the_corpus_prices_as_recorded_compiled():
    require_current_build()
    ran = run_python(PRICE_CORPUS)
    assert ran["compiled"] is True
    for name in pricing.COMPILED_MODULES:
        assert Path(ran["files"][name]).parent == pricing.BUILD_DIR and ran["files"][name].endswith(".so"), name
    assert ran["files"]["types"] == str(pricing.SOURCE_DIR / "types.py")  # not compiled (its records' constructor)
    assert ran["cases"] > 0
    assert ran["differ"] == []


def test_the_compiled_engine_runs_where_required():
    """In CI the whole suite (this process too) prices with the compiled engine."""
    if not REQUIRED:
        pytest.skip("EVBILLING_REQUIRE_COMPILED_PRICING is not set")
    assert pricing.COMPILED
    assert pricing.engine.__file__.endswith(".so")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of billing_app's engine (sources) with a build beside it, made of the sources themselves: a build
    that is used shows as modules loaded from build/pricing/."""
    (tmp_path / "billing_app").mkdir()
    for name in ("__init__.py", "money.py"):
        shutil.copy2(ROOT / "billing_app" / name, tmp_path / "billing_app" / name)
    shutil.copytree(pricing.SOURCE_DIR, tmp_path / "billing_app" / "pricing", ignore=shutil.ignore_patterns("__py*"))
    build = tmp_path / "build" / "pricing"
    build.mkdir(parents=True)
    for name in pricing.COMPILED_MODULES:
        shutil.copy2(pricing.SOURCE_DIR / f"{name}.py", build / f"{name}.py")
    pricing.write_stamp(build, {**pricing.source_stamp(), "cython": "3"})
    return tmp_path


def test_a_build_of_these_sources_is_used(tree: Path):
    ran = run_python(IMPORT_ENGINE, cwd=tree)
    assert ran == {"compiled": True, "engine": str(tree / "build" / "pricing" / "engine.py")}


@pytest.mark.parametrize("stale", ["a source edited", "another Python's build", "no stamp"])
def test_a_stale_build_is_not_used(tree: Path, stale: str):
    build = tree / "build" / "pricing"
    if stale == "a source edited":
        with (tree / "billing_app" / "pricing" / "lines.py").open("a") as source:
            source.write("# edited after the build\n")
    elif stale == "another Python's build":
        pricing.write_stamp(build, {**pricing.source_stamp(), "abi": ".cpython-312-x86_64-linux-gnu.so"})
    else:
        (build / pricing.STAMP_NAME).unlink()
    ran = run_python(IMPORT_ENGINE, cwd=tree)
    assert ran == {"compiled": False, "engine": str(tree / "billing_app" / "pricing" / "engine.py")}


def test_pure_python_is_chosen_by_the_environment(tree: Path):
    ran = run_python(IMPORT_ENGINE, cwd=tree, pure=True)
    assert ran == {"compiled": False, "engine": str(tree / "billing_app" / "pricing" / "engine.py")}
