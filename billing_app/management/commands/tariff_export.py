"""python manage.py tariff_export OCPI_ID --operator NAME: print the tariff as OCPI 2.2.1 JSON."""
from django.core.management.base import BaseCommand, CommandError

from billing_app.models import Tariff
from billing_app.pricing.ocpi import dumps
from billing_app.tariffs.services import tariff_to_ocpi


class Command(BaseCommand):
    help = "Print an operator's tariff as an OCPI 2.2.1 Tariff object."

    def add_arguments(self, parser):
        parser.add_argument("ocpi_id")
        parser.add_argument("--operator", required=True, help="operator name")

    def handle(self, *args, ocpi_id: str, operator: str, **options):
        tariff = Tariff.objects.filter(operator__name=operator, ocpi_id=ocpi_id).first()
        if tariff is None:
            raise CommandError(f"Operator {operator!r} has no tariff {ocpi_id!r}.", returncode=2)
        self.stdout.write(dumps(tariff_to_ocpi(tariff), indent=2))
