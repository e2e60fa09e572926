"""Subscribe, change, cancel; the plan fee on postpaid statements; what a plan does at settlement."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_app import pricing
from billing_app.models import BillingAccount, PaymentCustomer, Plan, Subscription, SubscriptionPeriod
from billing_app.payments.messages import failure_text
from billing_app.plans.periods import PlanError, _account, _end, add_months, local_today, period_open
from billing_app.plans.reductions import PlanApplied, PlanTerms, plan_apply
from billing_app.plans.renewals import period_charge
from sessions_app.models import ChargingSession, User

MODE = BillingAccount.PaymentMode


def plan_subscribe(*, driver: User, plan: Plan, payment_method_id: str, now: datetime | None = None) -> Subscription:
    """Subscribe the driver and charge the first period now. A declined card cancels the new
    subscription (the failed Payment stays as the record) and raises PlanError."""
    now = now or timezone.now()
    if not plan.active or plan.operator_id != driver.operator_id:
        raise PlanError(_("This plan is not offered."))
    customer = PaymentCustomer.objects.filter(driver=driver).first()
    if customer is None or not payment_method_id:
        raise PlanError(_("Add a payment method first."))
    today = local_today(plan.operator_id, now)
    try:
        with transaction.atomic():
            account = _account(driver)
            subscription = Subscription.objects.create(
                driver=driver, plan=plan, anchor_day=today.day, current_period_start=today,
                current_period_end=add_months(today, plan.months, today.day), payment_method_id=payment_method_id)
            period = period_open(subscription, plan, today)
            if account.payment_mode == MODE.PAY_AS_YOU_GO:
                account.payment_mode = MODE.SUBSCRIPTION
                account.save(update_fields=["payment_mode"])
    except IntegrityError:
        raise PlanError(_("You already have a subscription.")) from None
    period = period_charge(period_id=period.pk, now=now, notify=False)
    if period.status == SubscriptionPeriod.Status.FAILED:
        _end(subscription, now=now)
        raise PlanError(_("The payment was declined: %(reason)s.") % {
            "reason": failure_text(period.failure_message) or _("try another card")})
    subscription.refresh_from_db()
    return subscription


def plan_change(*, subscription: Subscription, plan: Plan) -> Subscription:
    """Switch plans at the next period (no proration); choosing the current plan undoes a pending change."""
    if plan.operator_id != subscription.plan.operator_id or not plan.active:
        raise PlanError(_("This plan is not offered."))
    if subscription.status not in (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE):
        raise PlanError(_("Only an active subscription can change plans."))
    subscription.pending_plan = None if plan.pk == subscription.plan_id else plan
    subscription.save(update_fields=["pending_plan"])
    return subscription


def plan_cancel(*, subscription: Subscription, now: datetime | None = None) -> Subscription:
    """Cancel at period end (the driver keeps the plan until then); a suspended one ends now."""
    if subscription.status == Subscription.Status.SUSPENDED:
        return _end(subscription, now=now or timezone.now())
    subscription.cancel_at_period_end = True
    subscription.pending_plan = None
    subscription.save(update_fields=["cancel_at_period_end", "pending_plan"])
    return subscription


def plan_resume(*, subscription: Subscription, now: datetime | None = None) -> Subscription:
    """Undo a cancellation before the period ends: the plan renews again as if never cancelled."""
    today = local_today(subscription.plan.operator_id, now or timezone.now())
    if not subscription.cancel_at_period_end:
        return subscription
    if subscription.status not in (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE) \
            or subscription.current_period_end <= today:
        raise PlanError(_("This plan has ended; subscribe again to use it."))
    subscription.cancel_at_period_end = False
    subscription.save(update_fields=["cancel_at_period_end"])
    return subscription


def session_period(session: ChargingSession) -> SubscriptionPeriod | None:
    """The plan period covering the session's start, if the driver's subscription is in force
    (active or past due; suspended and canceled ones price as pay-as-you-go). A company's business session is
    priced without the driver's own plan: the company pays it, not the plan's subscriber."""
    if not session.driver_id or session.company_id:
        return None
    return (SubscriptionPeriod.objects.filter(
        subscription__driver_id=session.driver_id,
        subscription__status__in=(Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE),
        subscription__plan__operator_id=session.operator_id,
        starts_at__lte=session.started_at, ends_at__gt=session.started_at)
        .exclude(status=SubscriptionPeriod.Status.FAILED).select_related("plan__member_tariff").first())


def member_tariff(period: SubscriptionPeriod | None, at: datetime):
    tariff = period.plan.member_tariff if period else None
    if tariff is None:
        return None
    starts, ends = tariff.start_date_time, tariff.end_date_time
    return None if (starts and starts > at) or (ends and ends <= at) else tariff


def tariff_for_plan(tariff: pricing.Tariff, period: SubscriptionPeriod | None) -> pricing.Tariff:
    """The engine tariff with the plan's idle-fee grace override."""
    if period and period.plan.idle_fee_policy == Plan.IdleFee.GRACE:
        return replace(tariff, parking_grace_minutes=period.plan.idle_grace_minutes)
    return tariff


def session_plan_apply(*, breakdown: pricing.CostBreakdown, period_id: int) -> tuple[PlanApplied, dict]:
    """Apply the period's plan, consuming included kWh under a row lock on the period (call inside
    the settling transaction: a rollback gives the kWh back). Returns the result and the `plan`
    entry for the stored breakdown."""
    period = SubscriptionPeriod.objects.select_for_update(of=("self",)).select_related("plan").get(pk=period_id)
    plan = period.plan
    applied = plan_apply(breakdown, PlanTerms(
        included_kwh_available=period.remaining_kwh, energy_discount_percent=plan.energy_discount_percent,
        time_discount_percent=plan.time_discount_percent, waive_flat_fee=plan.waive_flat_fee,
        waive_parking=plan.idle_fee_policy == Plan.IdleFee.WAIVED))
    if applied.included_kwh_used:
        period.used_kwh += applied.included_kwh_used
        period.save(update_fields=["used_kwh"])
    return applied, {"plan": plan.name, "plan_id": plan.pk, "subscription_id": period.subscription_id,
                     "period_id": period.pk, "included_kwh_used": str(applied.included_kwh_used),
                     "included_kwh_left": str(period.remaining_kwh)}


def session_plan_release(*, plan_entry: dict | None) -> SubscriptionPeriod | None:
    """Give back the included kWh a priced session took from its plan period (`plan_entry` is the `plan`
    entry of its stored breakdown), under the period's row lock, before it is priced again in the same
    transaction; returns that period (None when no plan applied)."""
    if not plan_entry:
        return None
    period = (SubscriptionPeriod.objects.select_for_update(of=("self",)).select_related("plan")
              .get(pk=plan_entry["period_id"]))
    used = Decimal(plan_entry["included_kwh_used"])
    if used:
        period.used_kwh -= used
        period.save(update_fields=["used_kwh"])
    return period


def plans_offered(*, driver: User):
    return Plan.objects.filter(operator_id=driver.operator_id, active=True).order_by("fee_excl_vat", "name")
