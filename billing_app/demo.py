"""Demo billing data: each demo operator's tariffs (shipped as OCPI files in demo_tariffs/), a
members group, and a subscription plan with a few subscribers. Idempotent like the session demo. What happens
after the sessions are priced (receipts, payments, statements, renewals, refunds) is `demo_history`."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from billing_app.companies.services import company_account_open
from billing_app.models import BillingAccount, DriverGroup, Plan, Subscription, TariffAssignment
from billing_app.plans import services as plans
from billing_app.pricing.ocpi import loads
from billing_app.tariffs.services import tariff_import_ocpi
from sessions_app.models import Company, Operator, User

TARIFF_DIR = Path(__file__).resolve().parent / "demo_tariffs"
TARIFFS = {
    "Voltara Charging": [("voltara-standard.json", None), ("voltara-members.json", "Voltara Plus members")],
    "Brightline Charge": [("brightline-standard.json", None)],
}


@transaction.atomic
def load_tariffs() -> None:
    for operator in Operator.objects.filter(name__in=TARIFFS):
        for filename, group_name in TARIFFS[operator.name]:
            data = loads((TARIFF_DIR / filename).read_text())
            if operator.tariffs.filter(ocpi_id=data["id"]).exists():
                continue
            tariff = tariff_import_ocpi(operator=operator, data=data)
            group = None
            if group_name:
                group, _ = DriverGroup.objects.get_or_create(operator=operator, name=group_name)
                members = User.objects.filter(operator=operator, role=User.Role.DRIVER).order_by("username")[1:6]
                group.drivers.add(*members)
            TariffAssignment.objects.get_or_create(tariff=tariff, driver_group=group, location=None, station=None,
                                                   connector=None)


#: A draft for the tariff what-if (admin -> What-if runs): Voltara's standard tariff without the session fee,
#: with dearer energy. Unassigned, so it prices no real session; small AC sessions get cheaper, the rest dearer.
WHAT_IF_DRAFT = ("Voltara Charging", "voltara-standard.json", "VOLTARA-STANDARD-D1",
                 "Draft: Voltara standard, no session fee, AC 0.42, DC 0.65")


@transaction.atomic
def load_what_if_draft() -> None:
    operator_name, filename, draft_id, name = WHAT_IF_DRAFT
    operator = Operator.objects.filter(name=operator_name).first()
    if operator is None or operator.tariffs.filter(ocpi_id=draft_id).exists():
        return
    data = loads((TARIFF_DIR / filename).read_text())
    data["id"] = draft_id
    data["elements"] = [e for e in data["elements"] if e["price_components"][0]["type"] != "FLAT"]
    for element in data["elements"]:
        component = element["price_components"][0]
        if component["type"] == "ENERGY":
            component["price"] = Decimal("0.65") if (element.get("restrictions") or {}).get("min_power") else \
                Decimal("0.42")
    draft = tariff_import_ocpi(operator=operator, data=data)
    draft.name = name
    draft.save(update_fields=["name"])


@transaction.atomic
def load_accounts() -> None:
    """A billing account per demo driver (they pay as they go; a company member for their private card) and the
    postpaid account of each demo company (its business cards' sessions)."""
    for driver in User.objects.filter(role=User.Role.DRIVER, operator__name__in=TARIFFS):
        BillingAccount.objects.get_or_create(driver=driver, defaults={
            "operator_id": driver.operator_id, "payment_mode": BillingAccount.PaymentMode.PAY_AS_YOU_GO})
    for company in Company.objects.filter(operator__name__in=TARIFFS):
        company_account_open(company=company)


DEMO_PLAN = {"name": "Voltara Plus", "description": "100 kWh a month included, 10 % off energy beyond",
             "fee_excl_vat": Decimal("19.90"), "vat_rate": Decimal(19), "currency": "EUR",
             "included_kwh": Decimal(100), "energy_discount_percent": Decimal(10), "waive_flat_fee": True}


@transaction.atomic
def load_plans(*, subscribers: int = 3, since_days: int = 10) -> None:
    """The Voltara Plus plan and a few pay-as-you-go drivers on it since the history began (`since_days` ago),
    with every monthly period up to today opened; call before the sessions are priced so their sessions use the
    plan. The periods are charged afterwards, dated (`demo_history.plan_periods_charge`)."""

    operator = Operator.objects.filter(name="Voltara Charging").first()
    if operator is None:
        return
    plan, _ = Plan.objects.get_or_create(operator=operator, name=DEMO_PLAN["name"], defaults=DEMO_PLAN)
    if Subscription.objects.filter(plan__operator=operator).exists():
        return
    today = plans.local_today(operator.pk, timezone.now())
    start = today - timedelta(days=since_days)
    accounts = (BillingAccount.objects.filter(operator=operator, payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO)
                .exclude(driver__driver_groups__isnull=False).exclude(driver__username="driver")
                .order_by("driver__username")[:subscribers])
    for account in accounts:
        subscription = Subscription.objects.create(
            driver_id=account.driver_id, plan=plan, anchor_day=start.day, current_period_start=start,
            current_period_end=plans.add_months(start, plan.months, start.day))
        plans.period_open(subscription, plan, start)
        while subscription.current_period_end <= today:
            plans.period_open(subscription, plan, subscription.current_period_end)
        account.payment_mode = BillingAccount.PaymentMode.SUBSCRIPTION
        account.save(update_fields=["payment_mode"])
