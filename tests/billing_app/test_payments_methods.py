"""A driver's payment methods: SetupIntent flow, list, default, remove; another driver's card is a 404."""
import pytest
import stripe
from django.urls import reverse

from billing_app.models import PaymentCustomer
from billing_app.payments import methods as payment_methods
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver

pytestmark = pytest.mark.django_db
KEY = "sk_test_" + "x" * 24


def _confirmed_setup(client) -> str:
    """What the portal's Stripe.js does: start a SetupIntent, confirm a card against it."""
    response = client.post(reverse("payments:methods_setup"))
    assert response.status_code == 201
    setup = response.json()
    assert setup["client_secret"] and setup["publishable_key"].startswith("pk_test_")
    stripe.SetupIntent.confirm(setup["setup_intent_id"], payment_method="pm_card_visa", api_key=KEY)
    return setup["setup_intent_id"]


def test_setup_intent_flow_adds_the_first_card_as_default(stripe_server, client, operator):
    driver = payg_driver(operator, card=None)
    client.force_login(driver)
    response = client.post(reverse("payments:methods"), {"setup_intent_id": _confirmed_setup(client)},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["last4"] == "4242" and response.json()["is_default"] is True
    listed = client.get(reverse("payments:methods")).json()
    assert [(m["last4"], m["is_default"]) for m in listed] == [("4242", True)]


def test_set_default_and_remove(stripe_server, client, operator):
    driver = payg_driver(operator)
    mastercard = stripe.PaymentMethod.create(
        type="card", card={"number": "5555555555554444", "exp_month": 1, "exp_year": 2035, "cvc": "321"}, api_key=KEY)
    second = payment_methods.payment_method_add(driver=driver, payment_method_id=mastercard.id)
    client.force_login(driver)
    assert not second.is_default
    response = client.post(reverse("payments:method_default", args=[second.id]))
    assert response.status_code == 200 and response.json()["is_default"]
    assert PaymentCustomer.objects.get(driver=driver).default_payment_method_id == second.id
    assert client.delete(reverse("payments:method", args=[second.id])).status_code == 204
    remaining = client.get(reverse("payments:methods")).json()
    assert len(remaining) == 1 and remaining[0]["is_default"]  # the other card took over as default


def test_another_drivers_card_is_not_found(stripe_server, client, operator):
    owner = payg_driver(operator)
    card = PaymentCustomer.objects.get(driver=owner).default_payment_method_id
    intruder = payg_driver(operator)
    client.force_login(intruder)
    assert client.delete(reverse("payments:method", args=[card])).status_code == 404
    assert client.post(reverse("payments:method_default", args=[card])).status_code == 404
    response = client.post(reverse("payments:methods"), {"payment_method_id": card}, content_type="application/json")
    assert response.status_code == 404
    assert [m.id for m in payment_methods.payment_methods_list(driver=owner)] == [card]


def test_staff_have_no_payment_methods_page(stripe_server, client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    assert client.get(reverse("payments:methods")).status_code == 404


def test_payment_methods_page_loads_stripe_js_from_the_configured_host(stripe_server, settings, client, operator):
    settings.STRIPE_JS_URL = f"{stripe_server}/js.stripe.com/v3/"
    client.force_login(payg_driver(operator, card=None))
    page = client.get(reverse("payments:methods_page"))
    assert page.status_code == 200
    assert f'src="{stripe_server}/js.stripe.com/v3/"'.encode() in page.content
