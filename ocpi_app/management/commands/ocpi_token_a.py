"""Issue a token A for a partner to register with us: prints the token (once) and our versions URL."""
from django.core.management.base import BaseCommand, CommandError

from evbilling.errors import ApplicationError
from ocpi_app.credentials import partner_token_a_issue, versions_url
from sessions_app.models import Operator


class Command(BaseCommand):
    help = "Issue an OCPI credentials token A for partner NAME of an operator; prints the token."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="the partner's name (created if new)")
        parser.add_argument("--operator", help="operator name (optional when there is only one)")

    def handle(self, *args, name, operator=None, **options):
        operators = Operator.objects.filter(name=operator) if operator else Operator.objects.all()
        if operators.count() != 1:
            raise CommandError("Name the operator with --operator (exactly one must match).")
        try:
            partner, token = partner_token_a_issue(operator=operators.get(), name=name)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        self.stderr.write(f"Token A for {partner.name} of {partner.operator}; versions URL: {versions_url()}")
        self.stdout.write(token)
