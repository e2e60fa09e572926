"""The Plan page: subscribe with a saved card, change and cancel; another driver's subscription is a
404 and bad input comes back as form errors."""
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing_app.models import PaymentCustomer, Subscription
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.billing_app.plan_fixtures import make_plan, subscribed

D = Decimal


@pytest.fixture
def plan(operator, connector):
    return make_plan(operator, included_kwh=D(50))


def _client(client, user):
    client.force_login(user)
    return client


def test_subscribing_from_the_portal_charges_the_saved_card(client, stripe_server, operator, plan):
    driver = payg_driver(operator)
    web = _client(client, driver)
    page = web.get(reverse("portal:plan"))
    assert page.status_code == 200 and "Plus" in page.content.decode()
    card = PaymentCustomer.objects.get(driver=driver).default_payment_method_id
    response = web.post(reverse("portal:plan_subscribe"), {"plan": plan.pk, "payment_method": card})
    assert response.status_code == 302
    subscription = Subscription.objects.get(driver=driver)
    assert subscription.periods.get().status == "paid"
    assert "Cancel at the end of this period" in web.get(reverse("portal:plan")).content.decode()


def test_subscribing_without_a_card_or_with_a_foreign_plan_is_a_form_error(client, stripe_server, operator,
                                                                           other_operator, plan):
    driver = payg_driver(operator, card=None)
    foreign = make_plan(other_operator, currency="GBP")
    web = _client(client, driver)
    response = web.post(reverse("portal:plan_subscribe"), {"plan": plan.pk, "payment_method": "pm_nope"})
    assert response.status_code == 400
    assert response.context["subscribe_form"].errors["payment_method"]
    response = web.post(reverse("portal:plan_subscribe"), {"plan": foreign.pk, "payment_method": "pm_nope"})
    assert response.context["subscribe_form"].errors["plan"]
    assert not Subscription.objects.exists()


def test_change_and_cancel_from_the_portal(client, operator, driver, plan):
    other_plan = make_plan(operator, name="Max", fee_excl_vat=D("19.90"))
    subscription = subscribed(driver, plan, start=date(2026, 3, 10))
    web = _client(client, driver)
    assert web.post(reverse("portal:plan_change", args=[subscription.pk]), {"plan": other_plan.pk}).status_code == 302
    subscription.refresh_from_db()
    assert (subscription.plan, subscription.pending_plan) == (plan, other_plan)
    assert web.post(reverse("portal:plan_change", args=[subscription.pk]), {"plan": "x"}).status_code == 400
    assert web.post(reverse("portal:plan_cancel", args=[subscription.pk])).status_code == 302
    subscription.refresh_from_db()
    assert (subscription.cancel_at_period_end, subscription.pending_plan) == (True, None)


@pytest.mark.parametrize("action", ["plan_change", "plan_cancel", "plan_pay"])
def test_another_drivers_subscription_is_a_404(client, operator, driver, plan, action):
    subscription = subscribed(driver, plan, start=date(2026, 3, 10))
    intruder = factories.DriverFactory(operator=operator)
    response = _client(client, intruder).post(reverse(f"portal:{action}", args=[subscription.pk]), {"plan": plan.pk})
    assert response.status_code == 404
    subscription.refresh_from_db()
    assert (subscription.cancel_at_period_end, subscription.pending_plan) == (False, None)


def test_session_page_explains_what_the_plan_covered(client, operator, connector, id_token, driver, plan):
    from datetime import UTC, datetime

    from tests.billing_app.plan_fixtures import settled

    factories.energy_tariff(operator, price="0.50", vat="19")
    subscribed(driver, plan, start=date(2026, 3, 1))
    charge = settled(connector=connector, id_token=id_token, started_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
                     kwh="10", ref="portal-plan")
    page = _client(client, driver).get(reverse("portal:session", args=[charge.session_id])).content.decode()
    assert "Included in your plan (kWh)" in page
    assert "-€5.00" in page


def test_change_offers_the_other_plans_and_the_fee_reads_per_month(client, operator, driver, plan):
    other_plan = make_plan(operator, name="Max", fee_excl_vat=D("19.90"))
    subscription = subscribed(driver, plan, start=date.today())
    page = _client(client, driver).get(reverse("portal:plan")).content.decode()
    choices = page.split('name="plan"')[1].split("</select>")[0]
    assert f'value="{other_plan.pk}"' in choices and f'value="{plan.pk}"' not in choices
    assert "€9.90 / month" in page and "monthly" not in page.lower().split("<main>")[1]
    assert "renews on" in page
    subscription.pending_plan = other_plan
    subscription.save()
    choices = _client(client, driver).get(reverse("portal:plan")).content.decode().split('name="plan"')[1]
    assert f'value="{plan.pk}"' in choices.split("</select>")[0]  # back to the current plan undoes the change


def test_a_cancelled_plan_says_only_when_it_ends_and_can_be_kept(client, operator, driver, plan):
    subscription = subscribed(driver, plan, start=date.today())
    web = _client(client, driver)
    assert web.post(reverse("portal:plan_cancel", args=[subscription.pk])).status_code == 302
    page = web.get(reverse("portal:plan")).content.decode()
    assert "ends on" in page and "renews on" not in page and "Change plan" not in page
    assert web.post(reverse("portal:plan_resume", args=[subscription.pk])).status_code == 302
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is False
    assert "renews on" in web.get(reverse("portal:plan")).content.decode()


def test_a_plan_whose_period_ended_cannot_be_resumed_and_others_get_a_404(client, operator, driver, plan):
    subscription = subscribed(driver, plan, start=date(2026, 3, 10))
    subscription.cancel_at_period_end = True
    subscription.save()
    intruder = factories.DriverFactory(operator=operator)
    assert _client(client, intruder).post(reverse("portal:plan_resume", args=[subscription.pk])).status_code == 404
    response = _client(client, driver).post(reverse("portal:plan_resume", args=[subscription.pk]), follow=True)
    assert "has ended" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end is True
