"""python manage.py load_demo: demo operators, chargers, drivers, tariffs and 90 days of priced sessions."""
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from tqdm import tqdm

from billing_app import demo as billing_demo
from billing_app.settlement.services import sessions_settle_pending, unpriced_sessions
from sessions_app.demo import DEMO_STATION_PASSWORD, OPERATORS, load_demo


class Command(BaseCommand):
    help = "Load demo data (idempotent: running it twice duplicates nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="days of session history (default 90)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")

    def handle(self, *args, days: int, seed: int, no_progress: bool, **options):
        if not 0 <= days <= 3660:
            raise CommandError("--days must be between 0 and 3660.")
        with tqdm(total=days * len(OPERATORS), desc="demo sessions", unit="day", disable=no_progress,
                  file=self.stdout._out) as bar:
            summary = load_demo(days=days, seed=seed, progress=bar.update)
        billing_demo.load_tariffs()
        billing_demo.load_what_if_draft()
        billing_demo.load_accounts()
        billing_demo.load_plans()
        # receipts are issued in bulk just below, not one by one as each session is priced
        with tqdm(total=unpriced_sessions().count(), desc="pricing sessions", unit="session",
                  disable=no_progress, file=self.stdout._out) as bar, \
                override_settings(INVOICE_RECEIPTS_ON_SETTLE=False):
            priced = sessions_settle_pending(progress=bar.update)
        receipts, statements = billing_demo.load_invoices()
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {summary.operators} operators, {summary.stations} stations, "
            f"{summary.drivers} drivers; {summary.sessions_created} sessions, "
            f"{summary.samples_created} meter samples created and {priced} sessions priced, {receipts} receipts and "
            f"{statements} monthly statements issued this run."
        ))
        self.stdout.write(
            "Logins: admin/admin (superuser), operator/operator (Voltara staff), support/support, "
            f"driver/driver, fleet/fleet (fleet manager of Fleetwise Logistics GmbH). Demo chargers use the OCPP "
            f"password {DEMO_STATION_PASSWORD!r}."
        )
