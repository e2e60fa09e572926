"""Start localstripe with a state file of its own: python -m evbilling.localstripe_launcher --port N --state-dir DIR.

localstripe 1.15 pickles its whole state to the literal path /tmp/localstripe.pickle after every change and reads
it back at start, so every instance on a machine (make run, CI, a test run) read and overwrote the others' state.
Its loader also crashed by itself past 1,000 objects ("pickle data was truncated"): unpickling its Store calls
Store.__setitem__, which rewrites the very file being read. Here the state lives in DIR/localstripe-<port>.pickle,
is read whole into a plain dict (nothing written while loading) and is written to a temporary file then renamed
(a reader never sees half a file).
"""
from __future__ import annotations

import argparse
import io
import os
import pickle
import sys
import tempfile
from pathlib import Path


def state_file(state_dir: Path, port: int) -> Path:
    return Path(state_dir) / f"localstripe-{port}.pickle"


class _PlainDictUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("localstripe.resources", "Store"):
            return dict
        return super().find_class(module, name)


def state_load(path: Path) -> dict:
    """The state saved at `path` ({} if none), read without writing anything."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return {}
    return _PlainDictUnpickler(io.BytesIO(data)).load()


def state_dump(state: dict, path: Path) -> None:
    path = Path(path)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False) as file:
        pickle.dump(state, file, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(file.name, path)


def state_file_use(path: Path) -> None:
    """Make localstripe's store load from and save to `path` instead of /tmp/localstripe.pickle."""
    from localstripe.resources import Store

    def try_load_from_disk(store):
        state = state_load(path)
        store.clear()
        store.update(state)  # dict.update: no Store.__setitem__, so no dump per object

    def dump_to_disk(store):
        state_dump(store, path)

    Store.try_load_from_disk = try_load_from_disk
    Store.dump_to_disk = dump_to_disk


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m evbilling.localstripe_launcher",
                                     description="localstripe with a state file of its own")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--state-dir", type=Path, required=True, help="keeps localstripe-<port>.pickle")
    parser.add_argument("--from-scratch", action="store_true", help="ignore the saved state")
    args = parser.parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    state_file_use(state_file(args.state_dir, args.port))

    from localstripe import server

    sys.argv = ["localstripe", "--port", str(args.port), *(["--from-scratch"] if args.from_scratch else [])]
    server.start()


if __name__ == "__main__":
    main()
