"""What dj-stripe and our payments need from localstripe, the fake Stripe of `make run` and the tests:
dj-stripe rows that real Stripe would provide, webhook registration, demo cards, a state wipe."""
from __future__ import annotations

import json
import urllib.request

from django.conf import settings
from django.db import transaction

from billing_app.models import BillingAccount, PaymentCustomer
from billing_app.payments import stripe_client
from billing_app.payments.methods import payment_method_add
from sessions_app.models import User

LOCAL_ACCOUNT_ID = "acct_evbillinglocal0001"
LOCAL_WEBHOOK_ID = "we_evbillinglocal0001"


def _post(path: str, payload: dict | None = None, method: str = "POST") -> None:
    body = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(  # noqa: S310 - the configured Stripe host (http in development)
        stripe_client.api_base().rstrip("/") + path, data=body, method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310
        pass


class _Endpoint:
    def __init__(self, row):
        self.row = row
        self.secret = row.secret
        self.url_path = f"/stripe/webhook/{row.djstripe_uuid}/"


@transaction.atomic
def djstripe_rows_ensure() -> _Endpoint:
    """dj-stripe's Account, APIKey and WebhookEndpoint for localstripe, created once."""
    from djstripe.enums import APIKeyType
    from djstripe.models import Account, APIKey, WebhookEndpoint

    account, _ = Account.objects.get_or_create(
        id=LOCAL_ACCOUNT_ID, defaults={"livemode": False, "stripe_data": {"id": LOCAL_ACCOUNT_ID, "object": "account"}},
    )
    key = APIKey.objects.filter(secret=settings.STRIPE_SECRET_KEY).first()
    if key is None:
        APIKey.objects.create(type=APIKeyType.secret, name="localstripe", secret=settings.STRIPE_SECRET_KEY,
                              livemode=False, djstripe_owner_account=account)
    endpoint = WebhookEndpoint.objects.filter(id=LOCAL_WEBHOOK_ID).first()
    if endpoint is None:
        endpoint = WebhookEndpoint.objects.create(
            id=LOCAL_WEBHOOK_ID, livemode=False, secret=settings.STRIPE_WEBHOOK_SECRET, url="http://localhost/",
            enabled_events=["*"], status="enabled",
            djstripe_owner_account=account, stripe_data={"id": LOCAL_WEBHOOK_ID, "object": "webhook_endpoint"},
        )
    elif endpoint.secret != settings.STRIPE_WEBHOOK_SECRET:
        endpoint.secret = settings.STRIPE_WEBHOOK_SECRET
        endpoint.save(update_fields=["secret"])
    return _Endpoint(endpoint)


def webhook_register(*, url: str, secret: str) -> None:
    _post(f"/_config/webhooks/{LOCAL_WEBHOOK_ID}", {"url": url, "secret": secret})


def data_wipe() -> None:
    """Forget every object localstripe holds (tests start from nothing)."""
    _post("/_config/data", method="DELETE")


def demo_cards_ensure() -> int:
    """Give each pay-as-you-go driver without a card the test card pm_card_visa."""

    drivers = User.objects.filter(billing_account__payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO).exclude(
        pk__in=PaymentCustomer.objects.exclude(default_payment_method_id="").values("driver_id"))
    count = 0
    for driver in drivers:
        payment_method_add(driver=driver, payment_method_id="pm_card_visa")
        count += 1
    return count
