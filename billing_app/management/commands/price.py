"""`manage.py price TARIFF.json SESSION.json [--time-zone ZONE]`: price a session file.
`manage.py price --jsonl FILE|- [--time-zone ZONE]`: price one {"tariff": ..., "cdr": ...} per line.

TARIFF.json is an OCPI 2.2.1 Tariff; SESSION.json is a session file or an OCPI 2.2.1 CDR (see
`billing_app.pricing.ocpi.session_from_json`). Prints one JSON object: the OCPI CDR totals (costs as
Price objects with decimal strings) and the priced lines. A bad file is reported on one line
on stderr with exit code 2.

Time zone (restrictions are local times): `--time-zone`, else the session file's `time_zone`, else
the time zone of the CDR's `cdr_location` when it is one of our locations (as `tariffs.cdr` writes it:
`id` is the Location's primary key, `name` its name); otherwise the session is refused. UTC is
never assumed for a CDR.

Batch (`--jsonl`): blank lines are skipped; every other line gives one output line, in order: the
single-session result, or `{"line": N, "error": "..."}` (the message names the part, `tariff` or
`cdr`, and the path inside it). Exit code 0 when every line priced, 2 when any failed (a one-line
count on stderr).
"""

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from billing_app.pricing import CostBreakdown, PricingError, ocpi, price_session
from sessions_app.models import Location


class Command(BaseCommand):
    help = "Price a session (or OCPI CDR) file with an OCPI 2.2.1 tariff file; prints the cost breakdown as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tariff", nargs="?", help="OCPI 2.2.1 Tariff JSON file")
        parser.add_argument("session", nargs="?", help="session JSON file or OCPI 2.2.1 CDR")
        parser.add_argument("--time-zone", help="IANA time zone of the location (overrides the session file)")
        parser.add_argument(
            "--jsonl", metavar="FILE", help='price one {"tariff": ..., "cdr": ...} object per line of FILE (- = stdin)'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["jsonl"] is not None:
            if options["tariff"] or options["session"]:
                raise _fail("give either TARIFF SESSION or --jsonl FILE, not both")
            self._batch(options["jsonl"], options["time_zone"])
            return
        if not (options["tariff"] and options["session"]):
            raise _fail("give TARIFF and SESSION files (or --jsonl FILE)")
        tariff_data, session_data = _read(options["tariff"]), _read(options["session"])
        try:
            breakdown = _price(tariff_data, session_data, options["time_zone"])
        except _PartError as error:
            where = options["tariff"] if error.part == "tariff" else options["session"]
            raise _fail(f"{where}: {error}") from None
        except PricingError as error:
            raise _fail(f"cannot price: {error}") from None
        self.stdout.write(json.dumps(breakdown.to_dict(), indent=2))

    def _batch(self, path: str, time_zone: str | None) -> None:
        failed = priced = 0
        for number, line in _lines(path):
            if not line.strip():
                continue
            try:
                result = _price_line(line, time_zone).to_dict()
                priced += 1
            except _LineError as error:
                result = {"line": number, "error": " ".join(str(error).split())}
                failed += 1
            self.stdout.write(json.dumps(result))
        if failed:
            raise _fail(f"{failed} of {failed + priced} lines failed")


class _PartError(ValueError):
    """A tariff or session that is not valid; `part` says which ("tariff" or "cdr")."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part


class _LineError(ValueError):
    """A batch line that could not be priced (message without the line number)."""


def _price(tariff_data: Any, session_data: Any, time_zone: str | None) -> CostBreakdown:
    try:
        tariff = ocpi.tariff_from_ocpi(tariff_data)
    except ocpi.OcpiError as error:
        raise _PartError("tariff", str(error)) from None
    try:
        zone = time_zone if time_zone is not None else _session_time_zone(session_data)
        session = ocpi.session_from_json(session_data, time_zone_override=zone)
    except ocpi.OcpiError as error:
        raise _PartError("cdr", str(error)) from None
    return price_session(tariff=tariff, session=session)


def _session_time_zone(data: Any) -> str | None:
    """The session file's own zone (None: the loader reads it), else our location's; never UTC."""
    if not isinstance(data, Mapping) or data.get("time_zone") is not None:
        return None
    zone = _location_time_zone(data.get("cdr_location"))
    if zone is None:
        raise ocpi.OcpiError(
            "time_zone: the CDR carries no time zone and its cdr_location is not one of our locations;"
            " give --time-zone (e.g. --time-zone Europe/Berlin)"
        )
    return zone


def _location_time_zone(cdr_location: Any) -> str | None:
    """Time zone of the Location a CDR names as `tariffs.cdr.cdr_for_charge` writes it: `id` is the
    primary key and `name`, when given, must be the location's name (a foreign CDR's id is not ours)."""
    if not isinstance(cdr_location, Mapping):
        return None
    location_id, name = cdr_location.get("id"), cdr_location.get("name")
    if not isinstance(location_id, str) or not location_id.isdigit():
        return None
    try:
        location = Location.objects.filter(pk=int(location_id)).only("name", "time_zone").first()
    except DatabaseError as error:
        message = " ".join(str(error).split())
        raise ocpi.OcpiError(f"cdr_location: cannot look the location up ({message}); give --time-zone") from None
    if location is None or (name is not None and name != location.name):
        return None
    return location.time_zone


def _price_line(line: str, time_zone: str | None) -> CostBreakdown:
    try:
        data = ocpi.loads(line)
    except ValueError as error:
        raise _LineError(f"not valid JSON ({error})") from None
    if not isinstance(data, Mapping):
        raise _LineError('must be an object {"tariff": ..., "cdr": ...}')
    for key in ("tariff", "cdr"):
        if data.get(key) is None:
            raise _LineError(f"missing {key!r}")
    try:
        return _price(data["tariff"], data["cdr"], time_zone)
    except _PartError as error:
        raise _LineError(f"{error.part}: {error}") from None
    except PricingError as error:
        raise _LineError(f"cannot price: {error}") from None


def _lines(path: str) -> Iterable[tuple[int, str]]:
    if path == "-":
        yield from enumerate(sys.stdin, start=1)
        return
    try:
        with Path(path).open(encoding="utf-8") as lines:
            yield from enumerate(lines, start=1)
    except OSError as error:
        raise _fail(f"{path}: cannot read file ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise _fail(f"{path}: not UTF-8 text ({error.reason})") from None


def _read(path: str) -> Any:
    try:
        return ocpi.loads(Path(path).read_bytes())
    except OSError as error:
        raise _fail(f"{path}: cannot read file ({error.strerror or error})") from None
    except ValueError as error:
        raise _fail(f"{path}: not valid JSON ({error})") from None


def _fail(message: str) -> CommandError:
    return CommandError(" ".join(message.split()), returncode=2)
