"""python manage.py load_demo: demo operators, chargers, drivers, tariffs and 90 days of priced sessions, with the
history they leave: dated receipts, card payments, statements, plan renewals, refunds (billing_app.demo_history)."""
from django.core.management.base import BaseCommand, CommandError
from django.test import override_settings
from tqdm import tqdm

from billing_app import demo as billing_demo
from billing_app.demo_history import history_load
from billing_app.invoicing.documents import pending_receipt_charges
from billing_app.payments import stripe_client
from billing_app.settlement.services import sessions_settle_pending, unpriced_sessions
from sessions_app.demo import DEMO_STATION_PASSWORD, OPERATORS, load_demo


class Command(BaseCommand):
    help = "Load demo data (idempotent: running it twice duplicates nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90, help="days of session history (default 90)")
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
        parser.add_argument("--stripe-payments", type=int, default=40,
                            help="the most recent card payments made at Stripe when it answers (localstripe under "
                                 "make run; default 40); older ones are recorded without Stripe (0: all)")

    def handle(self, *args, days: int, seed: int, no_progress: bool, stripe_payments: int, **options):
        if not 0 <= days <= 3660:
            raise CommandError("--days must be between 0 and 3660.")
        if stripe_payments < 0:
            raise CommandError("--stripe-payments must be 0 or more.")
        with tqdm(total=days * len(OPERATORS), desc="demo sessions", unit="day", disable=no_progress,
                  file=self.stdout._out) as bar:
            summary = load_demo(days=days, seed=seed, progress=bar.update)
        billing_demo.load_tariffs()
        billing_demo.load_what_if_draft()
        billing_demo.load_accounts()
        billing_demo.load_plans(since_days=days)
        # receipts are issued in bulk just below, not one by one as each session is priced
        with tqdm(total=unpriced_sessions().count(), desc="pricing sessions", unit="session",
                  disable=no_progress, file=self.stdout._out) as bar, \
                override_settings(INVOICE_RECEIPTS_ON_SETTLE=False):
            priced = sessions_settle_pending(progress=bar.update)
        with tqdm(total=pending_receipt_charges().count(), desc="receipts", unit="receipt",
                  disable=no_progress, file=self.stdout._out) as bar:
            history = history_load(stripe_payments=stripe_payments, seed=seed, progress=bar.update)
        self.stdout.write(self.style.SUCCESS(
            f"Demo data ready: {summary.operators} operators, {summary.stations} stations, "
            f"{summary.drivers} drivers; {summary.sessions_created} sessions, "
            f"{summary.samples_created} meter samples created and {priced} sessions priced, {history.receipts} "
            f"receipts and {history.statements} monthly statements issued this run, {history.receipts_paid} "
            f"receipts paid, {history.plan_periods} plan periods charged."
        ))
        if history.stripe:
            self.stdout.write(f"Payments: {history.payments_at_stripe} made at Stripe ({history.stripe}): the most "
                              f"recent, refundable; {history.payments_recorded} older ones recorded without Stripe "
                              f"(refunds refused); {history.refunds} refunded by credit note, {history.chargebacks} "
                              f"chargebacks, {history.retried} receipts collected on a retry.")
        else:
            self.stdout.write(f"Payments: Stripe ({stripe_client.api_base()}) did not answer or --stripe-payments "
                              f"is 0: all {history.payments_recorded} recorded without Stripe (refunds refused with a "
                              f"message; no refunds or chargebacks in the demo). `make run` starts localstripe first.")
        self.stdout.write(
            "Logins: admin/admin (superuser), operator/operator (Voltara staff), support/support, "
            f"driver/driver, fleet/fleet (fleet manager of Fleetwise Logistics GmbH). Demo chargers use the OCPP "
            f"password {DEMO_STATION_PASSWORD!r}."
        )
