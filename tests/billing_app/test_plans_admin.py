"""Plans in the admin: staff create plans for their own operator, see only their own plans and
subscriptions, and a member tariff of another operator is refused."""
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.models import Plan
from tests import factories
from tests.billing_app.plan_fixtures import make_plan, subscribed


@pytest.fixture
def staff_client(client, operator):
    client.force_login(factories.OperatorStaffFactory(operator=operator))
    return client


def _form(**overrides):
    return {"name": "Plus", "description": "", "active": "on", "period": "monthly", "fee_excl_vat": "9.90",
            "vat_rate": "19", "currency": "EUR", "included_kwh": "100", "member_tariff": "",
            "energy_discount_percent": "0", "time_discount_percent": "0", "idle_fee_policy": "charged",
            "idle_grace_minutes": "0"} | overrides


def test_staff_creates_a_plan_for_their_operator(staff_client, operator):
    response = staff_client.post(reverse("admin:billing_app_plan_add"), _form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    plan = Plan.objects.get(name="Plus")
    assert (plan.operator, plan.included_kwh) == (operator, Decimal(100))


def test_bad_plan_input_is_a_form_error(staff_client, other_operator):
    foreign = factories.TariffFactory(operator=other_operator, currency="GBP")
    response = staff_client.post(reverse("admin:billing_app_plan_add"),
                                 _form(energy_discount_percent="120", member_tariff=str(foreign.pk)))
    errors = response.context["adminform"].form.errors
    assert {"energy_discount_percent", "member_tariff"} <= set(errors)
    assert not Plan.objects.exists()


def test_staff_see_only_their_operators_plans_and_subscriptions(staff_client, operator, other_operator, driver):
    own = make_plan(operator)
    foreign = make_plan(other_operator, name="Other", currency="GBP")
    subscribed(driver, own, start=date(2026, 3, 1))
    other_driver = factories.DriverFactory(operator=other_operator)
    other_subscription = subscribed(other_driver, foreign, start=date(2026, 3, 1))
    listing = staff_client.get(reverse("admin:billing_app_plan_changelist")).content.decode()
    assert "Plus" in listing and "Other" not in listing
    assert staff_client.get(reverse("admin:billing_app_plan_change", args=[foreign.pk])).status_code == 302
    subscriptions = staff_client.get(reverse("admin:billing_app_subscription_changelist"))
    assert subscriptions.status_code == 200 and other_driver.username not in subscriptions.content.decode()
    detail = staff_client.get(reverse("admin:billing_app_subscription_change", args=[other_subscription.pk]))
    assert detail.status_code == 302
