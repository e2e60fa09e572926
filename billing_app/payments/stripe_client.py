"""The one place that talks to Stripe (localstripe in development and tests, STRIPE_API_HOST).

Amounts cross this boundary only through `to_minor_units` / `from_minor_units`. Stripe's errors are
sorted into three kinds the services act on:

- `StripeUnavailable`: timeouts, connection errors, 5xx and rate limits; the call may be repeated
  (with the same idempotency key) later, by a Celery retry.
- `PaymentDeclined`: the card said no; the code and message are kept for the driver.
- `StripeRejected`: any other refusal (bad request, unknown object); repeating it will not help.
- `StripeInProgress`: 409, another request with the same idempotency key is still being processed (a double
  click, a task and a sweep at once). Not a failure: the other request decides; ask again later.

The client never retries by itself (max_network_retries=0): retries belong to Celery, with backoff.
"""
from __future__ import annotations

from decimal import Decimal
from functools import cache

import stripe
from django.conf import settings

from billing_app.money import to_minor_units
from evbilling.errors import ApplicationError, ConflictError, UnavailableError


class StripeError(ApplicationError):
    """Stripe refused or failed; `code` is Stripe's error code where it gave one."""

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code or type(self).code


class StripeUnavailable(StripeError, UnavailableError):
    """Stripe could not be reached or failed on its side: try again later. The user sees a plain message;
    `str()` keeps Stripe's own words for the logs."""

    def __init__(self, detail: str, *, code: str = "unavailable"):
        super().__init__("The payment provider is unreachable; try again shortly.", code=code)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})"


class PaymentDeclined(StripeError):
    """The card (or wallet) was declined."""


class StripeRejected(StripeError):
    """Stripe refused the request for good."""


class StripeInProgress(StripeError, ConflictError):
    """Stripe is still processing another request with the same idempotency key (HTTP 409): the payment is
    under way, neither done nor failed. Leave it as it is and look again later (a retry, the sweep)."""

    def __init__(self, detail: str, *, code: str = "idempotency_key_in_use"):
        super().__init__("A payment with this key is already under way; try again shortly.", code=code)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})"


@cache
def _client(api_key: str, api_base: str, timeout: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=0,
        http_client=stripe.new_default_http_client(timeout=timeout),
    )


def api_base() -> str:
    """STRIPE_API_HOST (localstripe in development and tests), else Stripe itself."""
    return getattr(settings, "STRIPE_API_HOST", "") or stripe.DEFAULT_API_BASE


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, api_base(), settings.STRIPE_TIMEOUT)


def _call(method, *args, idempotency_key: str | None = None, **params):
    options = {"idempotency_key": idempotency_key} if idempotency_key else None
    try:
        return method(*args, params=params, options=options) if params or options else method(*args)
    except stripe.CardError as error:
        raise PaymentDeclined(error.user_message or str(error), code=error.code or "card_declined") from error
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        raise StripeUnavailable(str(error) or "Stripe is unreachable", code="unavailable") from error
    except stripe.StripeError as error:
        if error.http_status is None or error.http_status >= 500:
            raise StripeUnavailable(str(error), code="unavailable") from error
        body = error.json_body or {}
        code = error.code or (body.get("error") or {}).get("code") or ""
        if error.http_status == 409 or code == "idempotency_key_in_use":
            raise StripeInProgress(str(error), code=code or "idempotency_key_in_use") from error
        if code == "card_declined" or (error.http_status == 402):
            raise PaymentDeclined(error.user_message or str(error), code=code or "card_declined") from error
        raise StripeRejected(str(error), code=code) from error


def data(obj) -> dict:
    """A Stripe object as a plain dict (stripe 15's objects are not dicts)."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


# --- Customers and payment methods -----------------------------------------------------------------

def customer_create(*, email: str, name: str, metadata: dict, idempotency_key: str) -> dict:
    v1 = client().v1
    return data(_call(v1.customers.create, email=email, name=name, metadata=metadata,
                      idempotency_key=idempotency_key))


def customer_set_default_payment_method(*, customer_id: str, payment_method_id: str) -> dict:
    v1 = client().v1
    return data(_call(v1.customers.update, customer_id,
                      invoice_settings={"default_payment_method": payment_method_id}))


def setup_intent_create(*, customer_id: str, idempotency_key: str) -> dict:
    v1 = client().v1
    return data(_call(v1.setup_intents.create, customer=customer_id, payment_method_types=["card"],
                      usage="off_session", idempotency_key=idempotency_key))


def setup_intent_retrieve(setup_intent_id: str) -> dict:
    return data(_call(client().v1.setup_intents.retrieve, setup_intent_id))


def payment_method_retrieve(payment_method_id: str) -> dict:
    return data(_call(client().v1.payment_methods.retrieve, payment_method_id))


def payment_method_attach(*, payment_method_id: str, customer_id: str) -> dict:
    return data(_call(client().v1.payment_methods.attach, payment_method_id, customer=customer_id))


def payment_method_detach(payment_method_id: str) -> dict:
    return data(_call(client().v1.payment_methods.detach, payment_method_id))


def payment_methods_list(*, customer_id: str) -> list[dict]:
    result = _call(client().v1.payment_methods.list, customer=customer_id, type="card")
    return [data(pm) for pm in result.data]


# --- PaymentIntents and refunds --------------------------------------------------------------------

def payment_intent_create(
    *, amount: Decimal, currency: str, customer_id: str, payment_method_id: str, manual_capture: bool,
    metadata: dict, idempotency_key: str,
) -> dict:
    """Create and confirm a PaymentIntent off-session (the driver is at the charger, not at a screen).
    localstripe needs the payment method at creation; so does our flow."""
    v1 = client().v1
    return data(_call(
        v1.payment_intents.create, amount=to_minor_units(amount, currency), currency=currency.lower(),
        customer=customer_id, payment_method=payment_method_id, confirm=True, off_session=True,
        capture_method="manual" if manual_capture else "automatic", metadata=metadata,
        idempotency_key=idempotency_key,
    ))


def payment_intent_capture(*, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str) -> dict:
    return data(_call(client().v1.payment_intents.capture, payment_intent_id,
                      amount_to_capture=to_minor_units(amount, currency), idempotency_key=idempotency_key))


def payment_intent_cancel(*, payment_intent_id: str, idempotency_key: str) -> dict:
    return data(_call(client().v1.payment_intents.cancel, payment_intent_id, idempotency_key=idempotency_key))


def payment_intent_retrieve(payment_intent_id: str) -> dict:
    return data(_call(client().v1.payment_intents.retrieve, payment_intent_id))


def refund_create(*, payment_intent_id: str, amount: Decimal, currency: str, metadata: dict,
                  idempotency_key: str) -> dict:
    return data(_call(client().v1.refunds.create, payment_intent=payment_intent_id,
                      amount=to_minor_units(amount, currency), metadata=metadata, idempotency_key=idempotency_key))
