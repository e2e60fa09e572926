"""`manage.py price TARIFF.json SESSION.json [--time-zone ZONE]`: price a session file.

TARIFF.json is an OCPI 2.2.1 Tariff; SESSION.json is a session file or an OCPI 2.2.1 CDR (see
`billing_app.pricing.ocpi.session_from_json`). Prints one JSON object: the OCPI CDR totals (costs as
Price objects with decimal strings) and the priced lines. A bad file is reported on one line
on stderr with exit code 2.
"""

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing_app.pricing import PricingError, ocpi, price_session


class Command(BaseCommand):
    help = "Price a session (or OCPI CDR) file with an OCPI 2.2.1 tariff file; prints the cost breakdown as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tariff", help="OCPI 2.2.1 Tariff JSON file")
        parser.add_argument("session", help="session JSON file or OCPI 2.2.1 CDR")
        parser.add_argument("--time-zone", help="IANA time zone of the location (overrides the session file)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tariff = ocpi.tariff_from_ocpi(_read(options["tariff"]))
        except ocpi.OcpiError as error:
            raise _fail(f"{options['tariff']}: {error}") from None
        try:
            session = ocpi.session_from_json(_read(options["session"]), time_zone_override=options["time_zone"])
        except ocpi.OcpiError as error:
            raise _fail(f"{options['session']}: {error}") from None
        try:
            breakdown = price_session(tariff=tariff, session=session)
        except PricingError as error:
            raise _fail(f"cannot price: {error}") from None
        self.stdout.write(json.dumps(breakdown.to_dict(), indent=2))


def _read(path: str) -> Any:
    try:
        return ocpi.loads(Path(path).read_bytes())
    except OSError as error:
        raise _fail(f"{path}: cannot read file ({error.strerror or error})") from None
    except ValueError as error:
        raise _fail(f"{path}: not valid JSON ({error})") from None


def _fail(message: str) -> CommandError:
    return CommandError(" ".join(message.split()), returncode=2)
