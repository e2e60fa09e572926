"""python manage.py ocpi_settle [--period 2026-10] [--partner NAME] [--operator NAME]: settle a month by hand."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing_app.invoicing.billing_run import previous_month
from billing_app.management.periods import month_argument
from evbilling.errors import ApplicationError
from ocpi_app.models import Partner
from ocpi_app.settlement import partner_settle


class Command(BaseCommand):
    help = ("Issue the monthly settlement invoices (and credit notes for credit CDRs) of OCPI partners for a "
            "month (default: each operator's previous month). Idempotent: a settled month is left as it is.")

    def add_arguments(self, parser):
        parser.add_argument("--period", help="the month to settle, YYYY-MM (default: the previous month)")
        parser.add_argument("--partner", help="only this partner (by name)")
        parser.add_argument("--operator", help="only this operator's partners (by name)")

    def handle(self, *args, period=None, partner=None, operator=None, **options):
        month = month_argument(period) if period else None
        partners = Partner.objects.select_related("operator").order_by("operator__name", "name")
        if operator:
            partners = partners.filter(operator__name=operator)
        partners = partners.filter(name=partner) if partner else partners.filter(company__isnull=False)
        if not partners:
            raise CommandError("No such OCPI partner (with a billing company)." if partner or operator
                               else "No OCPI partner has a billing company yet.")
        failed = False
        now = timezone.now()
        for one in partners:
            try:
                result = partner_settle(partner_id=one.pk, period=month or previous_month(now, one.operator), now=now)
            except ApplicationError as error:
                failed = True
                self.stderr.write(f"{one.name} ({one.operator}): refused: {error.message} Nothing was issued.")
                continue
            self.stdout.write(f"{one.operator}: {result}")
        if failed:
            raise CommandError("Some partners were not settled (see above).")
