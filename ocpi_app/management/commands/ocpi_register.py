"""Register with a partner's OCPI platform using the token A it gave us (credentials POST)."""
from django.core.management.base import BaseCommand, CommandError

from evbilling.errors import ApplicationError
from ocpi_app.credentials import partner_register_outgoing
from sessions_app.models import Operator


class Command(BaseCommand):
    help = "Register with an OCPI partner: --name NAME --url VERSIONS_URL --token TOKEN_A."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True, help="the partner's versions URL")
        parser.add_argument("--token", required=True, help="the token A the partner gave us")
        parser.add_argument("--operator", help="operator name (optional when there is only one)")

    def handle(self, *args, name, url, token, operator=None, **options):
        operators = Operator.objects.filter(name=operator) if operator else Operator.objects.all()
        if operators.count() != 1:
            raise CommandError("Name the operator with --operator (exactly one must match).")
        try:
            partner = partner_register_outgoing(operator=operators.get(), name=name, versions_url=url, token_a=token)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Registered with {partner} ({partner.role}); endpoints: "
                          + ", ".join(sorted({e['identifier'] for e in partner.endpoints})))
