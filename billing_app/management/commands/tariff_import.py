"""python manage.py tariff_import TARIFF.json --operator NAME: store an OCPI 2.2.1 tariff; the tariff checks
(`billing_app.tariffs.checks`) are printed as warnings on stderr, the exit status stays 0."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from billing_app.pricing.ocpi import loads
from billing_app.tariffs.services import TariffImportError, tariff_import_ocpi, tariff_warnings
from sessions_app.models import Operator


class Command(BaseCommand):
    help = "Import (create or replace by OCPI id) an OCPI 2.2.1 Tariff object for an operator."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--operator", required=True, help="operator name")

    def handle(self, *args, file: Path, operator: str, **options):
        try:
            owner = Operator.objects.get(name=operator)
        except Operator.DoesNotExist:
            raise CommandError(f"No operator named {operator!r}.", returncode=2) from None
        try:
            data = loads(file.read_text())
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.", returncode=2) from None
        except ValueError as error:
            raise CommandError(f"{file} is not JSON: {error}.", returncode=2) from None
        if not isinstance(data, dict):
            raise CommandError(f"{file} must hold one OCPI Tariff object.", returncode=2)
        try:
            tariff = tariff_import_ocpi(operator=owner, data=data)
        except TariffImportError as error:
            raise CommandError(f"{file}: {error}", returncode=2) from None
        self.stdout.write(self.style.SUCCESS(f"Imported tariff {tariff.ocpi_id} ({tariff.name}) for {owner}."))
        for warning in tariff_warnings(tariff):
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
