"""Plan periods in the operator's calendar, and the account and subscription helpers the other parts share."""
from __future__ import annotations

import calendar
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from billing_app.models import BillingAccount, Plan, Subscription, SubscriptionPeriod
from billing_app.money import quantize_money, vat_amount
from evbilling.errors import ApplicationError
from sessions_app.models import User
from sessions_app.selectors import operator_time_zone

MODE = BillingAccount.PaymentMode


class PlanError(ApplicationError):
    """A plan operation the subscription's state does not allow; the message is for the driver."""


def add_months(start: date, months: int, anchor_day: int) -> date:
    """The date `months` after `start`'s month, on `anchor_day` or the month's last day if shorter."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _instant(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def local_today(operator_id: int, now: datetime) -> date:
    return timezone.localtime(now, operator_time_zone(operator_id)).date()


def _fee(plan: Plan) -> tuple[Decimal, Decimal, Decimal]:
    excl = quantize_money(plan.fee_excl_vat, plan.currency)
    vat = vat_amount(excl, plan.vat_rate or Decimal(0), plan.currency)
    return excl, vat, excl + vat


def period_open(subscription: Subscription, plan: Plan, start: date) -> SubscriptionPeriod:
    """The period starting `start` (the existing one if made already: one per start, unique)."""
    end = add_months(start, plan.months, subscription.anchor_day)
    tz = operator_time_zone(plan.operator_id)
    excl, vat, incl = _fee(plan)
    period, _ = SubscriptionPeriod.objects.get_or_create(
        subscription=subscription, period_start=start,
        defaults={"plan": plan, "period_end": end, "starts_at": _instant(start, tz), "ends_at": _instant(end, tz),
                  "currency": plan.currency, "fee_excl_vat": excl, "fee_vat": vat, "fee_incl_vat": incl,
                  "included_kwh": plan.included_kwh},
    )
    subscription.current_period_start, subscription.current_period_end = period.period_start, period.period_end
    subscription.save(update_fields=["current_period_start", "current_period_end"])
    return period


def _account(driver: User) -> BillingAccount:
    account = BillingAccount.objects.filter(driver=driver).first()
    if account is None:
        account = BillingAccount.objects.create(driver=driver, operator_id=driver.operator_id)
    return account


def live_subscription(*, driver: User) -> Subscription | None:
    return (Subscription.objects.filter(driver=driver, status__in=Subscription.LIVE)
            .select_related("plan", "pending_plan").first())


def _end(subscription: Subscription, *, now: datetime) -> Subscription:
    with transaction.atomic():
        subscription.status = Subscription.Status.CANCELED
        subscription.canceled_at = now
        subscription.save(update_fields=["status", "canceled_at"])
        _fall_back_to_payg(subscription.driver_id)
    return subscription


def _fall_back_to_payg(driver_id: int) -> None:
    BillingAccount.objects.filter(driver_id=driver_id, payment_mode=MODE.SUBSCRIPTION).update(
        payment_mode=MODE.PAY_AS_YOU_GO)
