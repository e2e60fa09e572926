"""Subscription plans: subscribe, change, cancel, renew, dunning, and what a plan does at settlement.

Rules (docs/plans.md):

- Periods are calendar dates in the operator's time zone, anchored on the day of the month the
  subscription started: Jan 31 -> Feb 28 (29) -> Mar 31. A renewal is due from 00:00 local time
  on `current_period_end`.
- A plan change takes effect at the next period (no proration); a cancellation at period end.
- One renewal per (subscription, period_start), enforced by a unique constraint. Each charge
  attempt is a Payment with the idempotency key `evb-plan-<subscription>-<period start>-<attempt>`,
  committed before Stripe is called, so a rerun repeats the same request and never charges twice;
  a period already paid is never charged again (status guard under a row lock).
- Dunning: a failed charge is retried PLANS_DUNNING_RETRY_DAYS after the first failure (1, 3, 7),
  with an email each time; after the last failure the subscription is suspended and the driver
  falls back to pay-as-you-go. Paying from the portal reactivates it.
- Postpaid accounts are not charged by card: the period fee goes on the monthly statement
  (`plan_statement_lines`, an INVOICE_STATEMENT_LINE_PROVIDERS entry).
"""
from __future__ import annotations

import calendar
import logging
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions_app.models import ChargingSession, User

from . import pricing
from .invoicing.documents import Draft, invoice_mark_paid, issue_drafts, operator_time_zone
from .invoicing.lines import LineIn, line_priced
from .models import BillingAccount, Invoice, Payment, PaymentCustomer, Plan, Subscription, SubscriptionPeriod
from .plan_pricing import PlanApplied, PlanTerms, plan_apply
from .pricing import quantize_money

logger = logging.getLogger(__name__)

MODE = BillingAccount.PaymentMode


class PlanError(Exception):
    """A plan operation the subscription's state does not allow; the message is for the driver."""


# --- Periods ---------------------------------------------------------------------------------------

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
    vat = quantize_money(excl * plan.vat_rate / 100, plan.currency) if plan.vat_rate else quantize_money(
        Decimal(0), plan.currency)
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


# --- Subscribe, change, cancel -----------------------------------------------------------------------

def _account(driver: User) -> BillingAccount:
    account = BillingAccount.objects.filter(driver=driver).first()
    if account is None:
        account = BillingAccount.objects.create(driver=driver, operator_id=driver.operator_id)
    return account


def live_subscription(*, driver: User) -> Subscription | None:
    return (Subscription.objects.filter(driver=driver, status__in=Subscription.LIVE)
            .select_related("plan", "pending_plan").first())


def plan_subscribe(*, driver: User, plan: Plan, payment_method_id: str, now: datetime | None = None) -> Subscription:
    """Subscribe the driver and charge the first period now. A declined card cancels the new
    subscription (the failed Payment stays as the record) and raises PlanError."""
    now = now or timezone.now()
    if not plan.active or plan.operator_id != driver.operator_id:
        raise PlanError("This plan is not offered.")
    customer = PaymentCustomer.objects.filter(driver=driver).first()
    if customer is None or not payment_method_id:
        raise PlanError("Add a payment method first.")
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
        raise PlanError("You already have a subscription.") from None
    period = period_charge(period_id=period.pk, now=now, notify=False)
    if period.status == SubscriptionPeriod.Status.FAILED:
        _end(subscription, now=now)
        raise PlanError(f"The payment was declined: {period.failure_message or 'try another card'}.")
    subscription.refresh_from_db()
    return subscription


def plan_change(*, subscription: Subscription, plan: Plan) -> Subscription:
    """Switch plans at the next period (no proration); choosing the current plan undoes a pending change."""
    if plan.operator_id != subscription.plan.operator_id or not plan.active:
        raise PlanError("This plan is not offered.")
    if subscription.status not in (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE):
        raise PlanError("Only an active subscription can change plans.")
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


# --- Renewals ---------------------------------------------------------------------------------------

def subscription_renew(*, subscription_id: int, now: datetime | None = None) -> SubscriptionPeriod | None:
    """Start the next period of a due subscription and charge it; None when not due (or it ended).

    Idempotent: the subscription row is locked while the period is made, the period is unique per
    (subscription, period_start), and the charge is status-guarded (`period_charge`)."""
    now = now or timezone.now()
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().select_related("plan").get(pk=subscription_id)
        if subscription.status != Subscription.Status.ACTIVE:
            return None
        if local_today(subscription.plan.operator_id, now) < subscription.current_period_end:
            return None
        if subscription.cancel_at_period_end:
            _end(subscription, now=now)
            return None
        plan = subscription.pending_plan or subscription.plan
        subscription.plan, subscription.pending_plan = plan, None
        subscription.save(update_fields=["plan", "pending_plan"])
        period = period_open(subscription, plan, subscription.current_period_end)
    return period_charge(period_id=period.pk, now=now)


def subscriptions_due(*, now: datetime):
    """Active subscriptions whose period ended (by UTC now; the local check is in `subscription_renew`)."""
    horizon = (now + timedelta(days=1)).date()
    return Subscription.objects.filter(status=Subscription.Status.ACTIVE,
                                       current_period_end__lte=horizon).order_by("pk")


def subscriptions_renew_due(*, now: datetime | None = None) -> int:
    """The beat task's work: renew every due subscription (until each is current), retry the failed
    charges whose time has come, and finish charges Stripe was unreachable for. Returns how many
    periods were charged or retried."""
    now = now or timezone.now()
    done = 0
    for subscription_id in subscriptions_due(now=now).values_list("pk", flat=True):
        while subscription_renew(subscription_id=subscription_id, now=now) is not None:
            done += 1
    for period_id in SubscriptionPeriod.objects.filter(status=SubscriptionPeriod.Status.FAILED,
                                                       next_attempt_at__lte=now).values_list("pk", flat=True):
        dunning(period_id=period_id, now=now)
        done += 1
    for period_id in SubscriptionPeriod.objects.filter(status=SubscriptionPeriod.Status.PENDING,
                                                       subscription__status__in=Subscription.LIVE
                                                       ).values_list("pk", flat=True):
        period_charge(period_id=period_id, now=now)  # Stripe was unreachable: same attempt, same key
        done += 1
    return done


def period_charge(*, period_id: int, now: datetime | None = None, notify: bool = True) -> SubscriptionPeriod:
    """Charge a period's fee off-session, once: pending or failed periods only.

    The Payment row (key per subscription, period and attempt) commits before Stripe is called;
    the outcome is recorded under a lock on the period. Success issues the paid plan-fee invoice;
    a decline schedules the next dunning attempt (or suspends after the last)."""
    now = now or timezone.now()
    period = SubscriptionPeriod.objects.select_related("subscription__driver", "plan__operator").get(pk=period_id)
    if period.status not in (SubscriptionPeriod.Status.PENDING, SubscriptionPeriod.Status.FAILED):
        return period
    subscription = period.subscription
    account = _account(subscription.driver)
    if period.fee_incl_vat == 0 or account.payment_mode == MODE.POSTPAID:
        status = SubscriptionPeriod.Status.FREE if period.fee_incl_vat == 0 else SubscriptionPeriod.Status.STATEMENT
        SubscriptionPeriod.objects.filter(pk=period.pk, status=period.status).update(status=status)
        period.refresh_from_db()
        return period
    payment = _attempt_payment(period, account)
    from .payments import payment_advance
    from .stripe_client import StripeUnavailable

    try:
        payment = payment_advance(payment_id=payment.pk)
    except StripeUnavailable:
        logger.warning("Stripe unreachable: plan period %s stays %s", period.pk, period.status)
        return period
    if payment.status == Payment.Status.CAPTURED:
        return _record_paid(period.pk, payment, now=now)
    if payment.status == Payment.Status.FAILED:
        return _record_failed(period.pk, payment, now=now, notify=notify)
    return period


def _attempt_payment(period: SubscriptionPeriod, account: BillingAccount) -> Payment:
    subscription = period.subscription
    with transaction.atomic():
        locked = SubscriptionPeriod.objects.select_for_update().get(pk=period.pk)
        if locked.payment_id and locked.payment.status not in (Payment.Status.FAILED, Payment.Status.CANCELED):
            return locked.payment  # under way or already taken (e.g. finished by the payments sweep)
        attempt = locked.attempts + 1
        key = f"evb-plan-{subscription.pk}-{locked.period_start:%Y%m%d}-{attempt}"
        customer = PaymentCustomer.objects.filter(driver_id=subscription.driver_id).first()
        method = subscription.payment_method_id or (customer.default_payment_method_id if customer else "")
        payment = Payment.objects.filter(idempotency_key=key).first() or Payment.objects.create(
            operator_id=period.plan.operator_id, driver_id=subscription.driver_id, kind=Payment.Kind.INVOICE,
            currency=locked.currency, amount_requested=locked.fee_incl_vat, amount_due=locked.fee_incl_vat,
            idempotency_key=key, stripe_customer_id=customer.stripe_customer_id if customer else "",
            stripe_payment_method_id=method)
        locked.attempts, locked.payment = attempt, payment
        locked.save(update_fields=["attempts", "payment"])
    return payment


def _record_paid(period_id: int, payment: Payment, *, now: datetime) -> SubscriptionPeriod:
    with transaction.atomic():
        period = (SubscriptionPeriod.objects.select_for_update(of=("self",))
                  .select_related("subscription__driver", "plan__operator").get(pk=period_id))
        if period.status == SubscriptionPeriod.Status.PAID:
            return period
        period.status, period.paid_at, period.next_attempt_at = SubscriptionPeriod.Status.PAID, now, None
        period.failure_message = ""
        period.invoice = _plan_fee_invoice(period, now=now)
        period.save(update_fields=["status", "paid_at", "next_attempt_at", "failure_message", "invoice"])
        Payment.objects.filter(pk=payment.pk).update(invoice_id=period.invoice.pk)
        period.invoice = invoice_mark_paid(invoice_id=period.invoice.pk, paid_at=now,
                                           reference=payment.stripe_payment_intent_id or "")
        subscription = Subscription.objects.select_for_update().get(pk=period.subscription_id)
        if subscription.status in (Subscription.Status.PAST_DUE, Subscription.Status.SUSPENDED):
            subscription.status = Subscription.Status.ACTIVE
            subscription.save(update_fields=["status"])
            BillingAccount.objects.filter(driver_id=subscription.driver_id, payment_mode=MODE.PAY_AS_YOU_GO).update(
                payment_mode=MODE.SUBSCRIPTION)
    return period


def _plan_fee_invoice(period: SubscriptionPeriod, *, now: datetime) -> Invoice:
    """The paid plan-fee invoice of a period, in the caller's transaction (the period row is locked)."""
    subscription = period.subscription
    line = _fee_line(period)
    draft = Draft(Invoice(operator=period.plan.operator, account=_account(subscription.driver),
                          driver=subscription.driver, kind=Invoice.Kind.PLAN_FEE, period_start=period.period_start,
                          period_end=period.period_end - timedelta(days=1), currency=period.currency), [line])
    return issue_drafts([draft], now=now)[0]


def _fee_line(period: SubscriptionPeriod) -> LineIn:
    last = period.period_end - timedelta(days=1)
    return line_priced(kind="PLAN_FEE", description=f"{period.plan.name}: {period.period_start} to {last}",
                       quantity=Decimal(1), unit="period", unit_price=period.fee_excl_vat,
                       vat_rate=period.plan.vat_rate, currency=period.currency)


# --- Dunning ----------------------------------------------------------------------------------------

def _record_failed(period_id: int, payment: Payment, *, now: datetime, notify: bool) -> SubscriptionPeriod:
    """Schedule the next retry (days after the first failure) or suspend after the last one."""
    schedule = [int(d) for d in settings.PLANS_DUNNING_RETRY_DAYS]
    with transaction.atomic():
        period = SubscriptionPeriod.objects.select_for_update(of=("self",)).select_related(
            "subscription__driver").get(pk=period_id)
        period.status = SubscriptionPeriod.Status.FAILED
        period.first_failed_at = period.first_failed_at or now
        period.failure_message = (payment.failure_message or payment.failure_code)[:255]
        retries_done = period.attempts - 1
        subscription = Subscription.objects.select_for_update().get(pk=period.subscription_id)
        if retries_done < len(schedule):
            period.next_attempt_at = period.first_failed_at + timedelta(days=schedule[retries_done])
            if subscription.status == Subscription.Status.ACTIVE:
                subscription.status = Subscription.Status.PAST_DUE
            event = "retry"
        else:
            period.next_attempt_at = None
            subscription.status = Subscription.Status.SUSPENDED
            _fall_back_to_payg(subscription.driver_id)
            event = "suspended"
        period.save(update_fields=["status", "first_failed_at", "failure_message", "next_attempt_at"])
        subscription.save(update_fields=["status"])
        if notify:
            transaction.on_commit(partial(_dunning_email, period.pk, event), robust=True)
    return period


def dunning(*, period_id: int, now: datetime | None = None) -> SubscriptionPeriod:
    """Retry a failed period's charge if its time has come (the beat task calls this)."""
    now = now or timezone.now()
    period = SubscriptionPeriod.objects.select_related("subscription").get(pk=period_id)
    if (period.status != SubscriptionPeriod.Status.FAILED or period.next_attempt_at is None
            or period.next_attempt_at > now or period.subscription.status == Subscription.Status.CANCELED):
        return period
    return period_charge(period_id=period_id, now=now)


def subscription_pay_now(*, subscription: Subscription, payment_method_id: str = "",
                         now: datetime | None = None) -> SubscriptionPeriod:
    """The driver pays the failed period from the portal; success reactivates the subscription."""
    period = subscription.periods.filter(status=SubscriptionPeriod.Status.FAILED).order_by("period_start").first()
    if period is None:
        raise PlanError("Nothing to pay.")
    if payment_method_id:
        subscription.payment_method_id = payment_method_id
        subscription.save(update_fields=["payment_method_id"])
    period = period_charge(period_id=period.pk, now=now, notify=False)
    if period.status != SubscriptionPeriod.Status.PAID:
        raise PlanError(f"The payment was declined: {period.failure_message or 'try another card'}.")
    return period


def _dunning_email(period_id: int, event: str) -> None:
    period = SubscriptionPeriod.objects.select_related("subscription__driver", "plan").get(pk=period_id)
    driver = period.subscription.driver
    if not driver.email:
        return
    amount = f"{period.fee_incl_vat} {period.currency}"
    if event == "suspended":
        subject = f"Your {period.plan.name} plan is suspended"
        body = (f"We could not charge {amount} for your {period.plan.name} plan. The plan is suspended and your "
                "sessions are charged pay-as-you-go. Pay from the portal (Plan page) to reactivate it.")
    else:
        subject = f"Payment for your {period.plan.name} plan failed"
        retry = timezone.localtime(period.next_attempt_at).strftime("%Y-%m-%d")
        body = (f"We could not charge {amount} for your {period.plan.name} plan ({period.failure_message}). "
                f"We will try again on {retry}; you can also pay now from the portal (Plan page).")
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [driver.email])


# --- Statements (postpaid accounts) -----------------------------------------------------------------

def plan_statement_lines(*, account: BillingAccount, period_start: date, period_end: date,
                         currency: str) -> list[LineIn]:
    """INVOICE_STATEMENT_LINE_PROVIDERS entry: the fees of the periods billed on the statement that
    start in the statement's month (each period start falls in exactly one month, and each month's
    statement is issued once, so no fee is billed twice)."""
    periods = (SubscriptionPeriod.objects.filter(subscription__driver_id=account.driver_id,
                                                 status=SubscriptionPeriod.Status.STATEMENT, currency=currency,
                                                 period_start__gte=period_start, period_start__lte=period_end)
               .select_related("plan").order_by("period_start", "pk"))
    return [_fee_line(p) for p in periods]


# --- Settlement ---------------------------------------------------------------------------------------

def session_period(session: ChargingSession) -> SubscriptionPeriod | None:
    """The plan period covering the session's start, if the driver's subscription is in force
    (active or past due; suspended and canceled ones price as pay-as-you-go)."""
    if not session.driver_id:
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


def plans_offered(*, driver: User):
    return Plan.objects.filter(operator_id=driver.operator_id, active=True).order_by("fee_excl_vat", "name")
