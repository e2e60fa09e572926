"""Helpers for the plan tests: plans, subscriptions made without Stripe, and settled sessions."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from billing_app.models import BillingAccount, Plan, Subscription
from billing_app.plans import services as plans
from billing_app.settlement import services
from sessions_app import services as session_services
from sessions_app.services import SampleIn

D = Decimal


def make_plan(operator, **fields) -> Plan:
    values = {"name": "Plus", "fee_excl_vat": D("9.90"), "vat_rate": D(19), "currency": "EUR",
              "included_kwh": D(0)} | fields
    return Plan.objects.create(operator=operator, **values)


def subscribed(driver, plan, *, start: date, mode=BillingAccount.PaymentMode.SUBSCRIPTION) -> Subscription:
    """A subscription whose first period (from `start`) is already paid, without Stripe."""
    BillingAccount.objects.update_or_create(driver=driver, defaults={"operator": plan.operator, "payment_mode": mode})
    subscription = Subscription.objects.create(driver=driver, plan=plan, anchor_day=start.day,
                                               current_period_start=start,
                                               current_period_end=plans.add_months(start, plan.months, start.day))
    period = plans.period_open(subscription, plan, start)
    period.status = "paid"
    period.save(update_fields=["status"])
    return subscription


def settled(*, connector, id_token, started_at: datetime, kwh: str, ref: str, idle_minutes: int = 0):
    """A one-hour session of `kwh` at constant power, then `idle_minutes` idle, settled."""
    wh = D(kwh) * 1000
    session = session_services.session_start(connector=connector, id_token=id_token, started_at=started_at,
                                              meter_start_wh=D(0), transaction_ref=ref)
    samples = [SampleIn(started_at + timedelta(minutes=30), wh / 2, wh),
               SampleIn(started_at + timedelta(hours=1), wh, wh)]
    end = started_at + timedelta(hours=1)
    if idle_minutes:
        end = end + timedelta(minutes=idle_minutes)
        samples.append(SampleIn(end, wh, D(0)))
    session_services.session_record_samples(session=session, samples=samples)
    session_services.session_stop(session=session, stopped_at=end, meter_stop_wh=wh)
    return services.session_settle(session_id=session.pk)
