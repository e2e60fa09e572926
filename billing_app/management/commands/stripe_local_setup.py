"""python manage.py stripe_local_setup: make dj-stripe work against localstripe (make run, tests).

localstripe has no /v1/account and no /v1/webhook_endpoints, so dj-stripe's Account, APIKey and
WebhookEndpoint rows are created here with the ORM, and localstripe is told where to send its webhooks
(POST /_config/webhooks/<id>). Idempotent. `--demo-cards` gives every pay-as-you-go demo driver without
a card a Stripe Customer with the test card pm_card_visa, so simulated chargers are accepted.
"""
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing_app.payments import localstripe, stripe_client


class Command(BaseCommand):
    help = "Pre-create dj-stripe's Account/APIKey/WebhookEndpoint rows for localstripe (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="where localstripe reaches this site's webhook endpoint")
        parser.add_argument("--demo-cards", action="store_true", help="give pay-as-you-go drivers a test card")

    def handle(self, *args, base_url: str, demo_cards: bool, **options):
        if settings.STRIPE_LIVE_MODE:
            raise CommandError("STRIPE_LIVE_MODE is on: this command is for localstripe only.")
        endpoint = localstripe.djstripe_rows_ensure()
        url = base_url.rstrip("/") + endpoint.url_path
        try:
            localstripe.webhook_register(url=url, secret=endpoint.secret)
        except OSError as error:
            raise CommandError(f"localstripe at {stripe_client.api_base()} is not reachable: {error}") from error
        self.stdout.write(f"dj-stripe rows ready; localstripe posts webhooks to {url}")
        if demo_cards:
            count = localstripe.demo_cards_ensure()
            self.stdout.write(f"{count} pay-as-you-go drivers got a test card")
