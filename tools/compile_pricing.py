"""Compile the pricing engine's walk with Cython: an optional build, the pure-Python engine stays the reference.

    .venv/bin/python tools/compile_pricing.py [--force]

Cythonizes `billing_app.pricing.COMPILED_MODULES` (the modules unchanged, Python syntax; directives
language_level=3, annotation_typing=False) and compiles them with the C compiler of this Python (at
`nice` 10) into `build/pricing/`, with a stamp: the sources' sha256, the Cython version and the ABI.
`billing_app/pricing/__init__.py` imports the modules from there only while that stamp matches the
sources exactly, so a stale build is never used. Does nothing while the stamp matches (run by
`make install` and so by `make test`; `--force` builds again). The new build replaces the old one
at once (a running process keeps the files it has loaded). Exits 1 with the reason if it cannot build
(no Cython, no C compiler or Python headers): the pure-Python engine then runs, with the same results.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.metadata
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["EVBILLING_PURE_PRICING"] = "1"  # read the sources, never a build this may replace

from billing_app import pricing  # noqa: E402 (after the path and the environment above)

#: Cython's compiler directives: annotations are not taken as C types (the modules are plain Python, and
#: must give exactly what the pure engine gives); bounds checks and negative indexes stay on.
DIRECTIVES = {"language_level": 3, "annotation_typing": False}


def cython_version() -> str | None:
    try:
        return importlib.metadata.version("Cython")
    except importlib.metadata.PackageNotFoundError:
        return None


def wanted_stamp() -> dict[str, str]:
    return {**pricing.source_stamp(), "cython": cython_version() or "none"}


def build(stamp: dict[str, str], build_dir: Path) -> None:
    """Compile the modules in a work directory beside `build_dir`, then put the result in its place."""
    # Imported only to build: without them the build fails with its reason and the engine runs pure Python.
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    os.nice(10)  # the C compiler runs as a child of this process
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=build_dir.parent, prefix=f"{build_dir.name}.work-") as work:
        work = Path(work)
        sources = [pricing.SOURCE_DIR.relative_to(ROOT) / f"{name}.py" for name in pricing.COMPILED_MODULES]
        # -w: the generated C's warnings (-Warray-bounds in Cython's integer helpers) are not ours to act on
        extensions = [
            Extension(f"billing_app.pricing.{path.stem}", [str(path)], extra_compile_args=["-g0", "-w"])
            for path in sources
        ]
        os.chdir(ROOT)
        extensions = cythonize(
            extensions, build_dir=str(work / "c"), compiler_directives=DIRECTIVES, force=True, quiet=True
        )
        command = build_ext(Distribution({"ext_modules": extensions}))
        command.build_lib, command.build_temp = str(work / "lib"), str(work / "temp")
        command.ensure_finalized()
        command.run()
        new = work / "new"
        new.mkdir()
        for extension in extensions:
            built = Path(command.get_ext_fullpath(extension.name))
            shutil.copy2(built, new / built.name)
        pricing.write_stamp(new, stamp)
        old = work / "old"
        if build_dir.exists():
            build_dir.rename(old)
        new.rename(build_dir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="build even if the build matches the sources")
    args = parser.parse_args()
    build_dir = pricing.BUILD_DIR
    stamp = wanted_stamp()  # read before compiling: a source edited meanwhile leaves a build that is not used
    if not args.force and pricing.read_stamp(build_dir) == stamp:
        return 0
    if cython_version() is None:
        print("compile_pricing: Cython is not installed (pip install -r requirements.txt)", file=sys.stderr)
        return 1
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(build_dir.parent / f"{build_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the second finds the first's
        if not args.force and pricing.read_stamp(build_dir) == stamp:
            return 0
        began = time.monotonic()
        try:
            build(stamp, build_dir)
        except Exception as error:  # any failure leaves the pure-Python engine in use
            print(f"compile_pricing: cannot build: {type(error).__name__}: {error}", file=sys.stderr)
            return 1
    modules = len(pricing.COMPILED_MODULES)
    print(
        f"compiled the pricing engine ({modules} modules, Cython {stamp['cython']}) into "
        f"{build_dir.relative_to(ROOT)} in {time.monotonic() - began:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
