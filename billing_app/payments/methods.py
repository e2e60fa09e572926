"""A driver's Stripe Customer and their payment methods (cards and wallet-backed cards).

Adding follows Stripe's SetupIntent flow: `payment_method_setup_start` gives the page a client secret,
Stripe.js confirms the card with Stripe, and `payment_method_add` records the result. A payment method
id reached from outside is always checked against the driver's own Customer: another driver's card is
`PaymentMethodNotFound` (a 404), never a different answer.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from billing_app.models import PaymentCustomer
from billing_app.payments import stripe_client
from evbilling.errors import ApplicationError, NotFoundError
from sessions_app.models import User


class PaymentMethodNotFound(NotFoundError):
    """No such payment method for this driver (unknown, or another driver's)."""

    def __init__(self, reference: str):
        super().__init__("No such payment method.")
        self.reference = reference


class PaymentMethodError(ApplicationError):
    """A payment method that cannot be added (setup not completed, declined)."""


@dataclass(frozen=True, slots=True)
class PaymentMethodOut:
    id: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    wallet: str
    is_default: bool


def customer_ensure(*, driver: User) -> PaymentCustomer:
    """The driver's Stripe Customer, created once (idempotency key and a unique row per driver)."""
    existing = PaymentCustomer.objects.filter(driver=driver).first()
    if existing is not None:
        return existing
    customer = stripe_client.customer_create(
        email=driver.email, name=driver.get_full_name() or driver.username,
        metadata={"evbilling_driver": str(driver.pk)}, idempotency_key=f"evb-customer-{driver.pk}",
    )
    try:
        with transaction.atomic():
            return PaymentCustomer.objects.create(driver=driver, stripe_customer_id=customer["id"],
                                                  livemode=bool(customer.get("livemode")))
    except IntegrityError:
        return PaymentCustomer.objects.get(driver=driver)


def payment_method_setup_start(*, driver: User) -> dict:
    """A SetupIntent for the page's Stripe.js to confirm a new card against."""
    customer = customer_ensure(driver=driver)
    PaymentCustomer.objects.filter(pk=customer.pk).update(setups_started=F("setups_started") + 1)
    customer.refresh_from_db(fields=["setups_started"])
    intent = stripe_client.setup_intent_create(
        customer_id=customer.stripe_customer_id, idempotency_key=f"evb-setup-{driver.pk}-{customer.setups_started}"
    )
    return {"setup_intent_id": intent["id"], "client_secret": intent["client_secret"],
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY}


def _own(customer: PaymentCustomer, payment_method_id: str) -> dict:
    try:
        method = stripe_client.payment_method_retrieve(payment_method_id)
    except stripe_client.StripeRejected as error:
        raise PaymentMethodNotFound(payment_method_id) from error
    if method.get("customer") != customer.stripe_customer_id:
        raise PaymentMethodNotFound(payment_method_id)
    return method


def payment_method_add(*, driver: User, setup_intent_id: str = "", payment_method_id: str = "") -> PaymentMethodOut:
    """Record a card the driver confirmed through a SetupIntent (or, where the Stripe server has no
    SetupIntent flow, a PaymentMethod created client-side). The first card becomes the default."""
    customer = customer_ensure(driver=driver)
    if setup_intent_id:
        try:
            intent = stripe_client.setup_intent_retrieve(setup_intent_id)
        except stripe_client.StripeRejected as error:
            raise PaymentMethodNotFound(setup_intent_id) from error
        if intent.get("customer") not in (None, customer.stripe_customer_id):
            raise PaymentMethodNotFound(setup_intent_id)
        if intent.get("status") != "succeeded" or not intent.get("payment_method"):
            raise PaymentMethodError(_("The card was not confirmed."))
        payment_method_id = intent["payment_method"]
    if not payment_method_id:
        raise PaymentMethodError(_("A setup intent or a payment method is needed."))
    try:
        method = stripe_client.payment_method_retrieve(payment_method_id)
    except stripe_client.StripeRejected as error:
        raise PaymentMethodNotFound(payment_method_id) from error
    owner = method.get("customer")
    if owner is None:
        method = stripe_client.payment_method_attach(payment_method_id=method["id"],
                                                     customer_id=customer.stripe_customer_id)
    elif owner != customer.stripe_customer_id:
        raise PaymentMethodNotFound(payment_method_id)
    with transaction.atomic():
        locked = PaymentCustomer.objects.select_for_update().get(pk=customer.pk)
        if not locked.default_payment_method_id:
            stripe_client.customer_set_default_payment_method(customer_id=locked.stripe_customer_id,
                                                              payment_method_id=method["id"])
            locked.default_payment_method_id = method["id"]
            locked.save(update_fields=["default_payment_method_id"])
    return _out(method, default_id=locked.default_payment_method_id)


def _out(method: dict, *, default_id: str) -> PaymentMethodOut:
    card = method.get("card") or {}
    wallet = card.get("wallet") or {}
    return PaymentMethodOut(
        id=method["id"], brand=card.get("brand") or "", last4=card.get("last4") or "",
        exp_month=card.get("exp_month"), exp_year=card.get("exp_year"),
        wallet=wallet.get("type", "") if isinstance(wallet, dict) else "", is_default=method["id"] == default_id,
    )


def payment_methods_list(*, driver: User) -> list[PaymentMethodOut]:
    customer = PaymentCustomer.objects.filter(driver=driver).first()
    if customer is None:
        return []
    methods = stripe_client.payment_methods_list(customer_id=customer.stripe_customer_id)
    return [_out(m, default_id=customer.default_payment_method_id) for m in methods]


def payment_method_set_default(*, driver: User, payment_method_id: str) -> PaymentMethodOut:
    customer = PaymentCustomer.objects.filter(driver=driver).first()
    if customer is None:
        raise PaymentMethodNotFound(payment_method_id)
    method = _own(customer, payment_method_id)
    stripe_client.customer_set_default_payment_method(customer_id=customer.stripe_customer_id,
                                                      payment_method_id=payment_method_id)
    PaymentCustomer.objects.filter(pk=customer.pk).update(default_payment_method_id=payment_method_id)
    return _out(method, default_id=payment_method_id)


def payment_method_remove(*, driver: User, payment_method_id: str) -> None:
    """Detach a card; when it was the default, the newest remaining card becomes the default."""
    customer = PaymentCustomer.objects.filter(driver=driver).first()
    if customer is None:
        raise PaymentMethodNotFound(payment_method_id)
    _own(customer, payment_method_id)
    stripe_client.payment_method_detach(payment_method_id)
    if customer.default_payment_method_id == payment_method_id:
        remaining = stripe_client.payment_methods_list(customer_id=customer.stripe_customer_id)
        new_default = remaining[0]["id"] if remaining else ""
        if new_default:
            stripe_client.customer_set_default_payment_method(customer_id=customer.stripe_customer_id,
                                                              payment_method_id=new_default)
        PaymentCustomer.objects.filter(pk=customer.pk).update(default_payment_method_id=new_default)
