"""python manage.py cdr_export SESSION_ID: print a priced session as an OCPI 2.2.1 CDR."""
from django.core.management.base import BaseCommand, CommandError

from billing_app.models import SessionCharge
from billing_app.pricing.ocpi import dumps
from billing_app.tariffs.cdr import cdr_for_charge


class Command(BaseCommand):
    help = "Print the OCPI 2.2.1 CDR of a completed, priced session."

    def add_arguments(self, parser):
        parser.add_argument("session_id", type=int)

    def handle(self, *args, session_id: int, **options):
        charge = SessionCharge.objects.select_related("session__connector__station__location").filter(
            session_id=session_id).first()
        if charge is None:
            raise CommandError(f"Session {session_id} has not been priced (or does not exist).", returncode=2)
        self.stdout.write(dumps(cdr_for_charge(charge), indent=2))
