"""python manage.py billing_run [--period 2026-10] [--operator NAME]: close a month by hand."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from billing_app.invoicing.billing_run import billing_run, billing_run_size
from billing_app.invoicing.errors import PeriodNotEndedError
from billing_app.management.periods import month_argument


class Command(BaseCommand):
    help = ("Issue the monthly statements of postpaid and subscription accounts for a month (default: each "
            "operator's previous month). Idempotent: statements issued already are left alone.")

    def add_arguments(self, parser):
        parser.add_argument("--period", help="the month to close, YYYY-MM (default: the previous month)")
        parser.add_argument("--operator", action="append", dest="operators", metavar="NAME",
                            help="only this operator (by name; repeatable)")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args, period, operators, no_progress, **options):
        month = month_argument(period) if period else None
        total = billing_run_size(period=month, operator_names=operators)
        try:
            with tqdm(total=total, desc="statements", unit="account", disable=no_progress,
                      file=self.stdout._out) as bar:
                results = billing_run(period=month, operator_names=operators, progress=bar.update)
        except PeriodNotEndedError as error:
            raise CommandError(f"Refused: {error.message} Nothing was issued.") from None
        if operators and len(results) != len(set(operators)):
            raise CommandError("Unknown operator name(s): "
                               + ", ".join(sorted(set(operators) - {r.operator for r in results})))
        for result in results:
            self.stdout.write(f"{result.operator} {result.period:%Y-%m}: {result.issued} statement(s) issued "
                              f"for {result.accounts} account(s) without one.")
        self.stdout.write(self.style.SUCCESS(f"{sum(r.issued for r in results)} statement(s) issued."))
