"""Renewals and dunning: one charge attempt per period and attempt number, retried after 1, 3 and 7 days,
then the subscription is suspended (see the package docstring)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing_app.invoicing.documents import Draft, invoice_mark_paid, issue_drafts
from billing_app.models import BillingAccount, Invoice, Payment, PaymentCustomer, Subscription, SubscriptionPeriod
from billing_app.money import format_money
from billing_app.payments import services as payments
from billing_app.payments.messages import failure_text
from billing_app.payments.stripe_client import StripeInProgress, StripeUnavailable
from billing_app.plans.periods import PlanError, _account, _end, _fall_back_to_payg, local_today, period_open
from billing_app.plans.statements import plan_fee_line
from evbilling.errors import ConflictError
from evbilling.mail import send_in_languages
from evbilling.on_commit import after_commit
from sessions_app.local_time import format_local_date
from sessions_app.selectors import operator_time_zone

logger = logging.getLogger(__name__)

MODE = BillingAccount.PaymentMode


class PlanPaymentInProgress(PlanError, ConflictError):
    """The period's charge is already under way (another "pay now", a retry or the sweep): no second one."""


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

    try:
        payment = payments.payment_advance(payment_id=payment.pk)
    except (StripeUnavailable, StripeInProgress) as error:
        logger.warning("plan period %s stays %s: %s", period.pk, period.status, error)
        return period
    return period_charge_outcome(period_id=period.pk, payment=payment, now=now, notify=notify)


def period_charge_outcome(*, period_id: int, payment: Payment, now: datetime,
                          notify: bool = True) -> SubscriptionPeriod:
    """Record how the period's charge attempt `payment` ended: captured issues the paid plan-fee invoice (dated
    `now`), failed schedules the next dunning attempt or suspends; still open changes nothing. `period_charge`
    calls it after Stripe answered; history loaded at once (the demo) with the attempt's own instant."""
    if payment.status == Payment.Status.CAPTURED:
        return _record_paid(period_id, payment, now=now)
    if payment.status == Payment.Status.FAILED:
        return _record_failed(period_id, payment, now=now, notify=notify)
    return SubscriptionPeriod.objects.get(pk=period_id)


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
    line = plan_fee_line(period)
    draft = Draft(Invoice(operator=period.plan.operator, account=_account(subscription.driver),
                          driver=subscription.driver, kind=Invoice.Kind.PLAN_FEE, period_start=period.period_start,
                          period_end=period.period_end - timedelta(days=1), currency=period.currency), [line])
    return issue_drafts([draft], now=now)[0]


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
            after_commit(_dunning_email, period.pk, event)
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
    """The driver pays the failed period from the portal; success reactivates the subscription.

    One path however often it is clicked: the failed period's row is locked (period before subscription,
    the order `_record_paid` takes) while its last attempt is looked at and a new one (Payment row, own
    idempotency key) is made. A concurrent "pay now" then finds that attempt under way or taken
    (`PlanPaymentInProgress`), or the period paid ("Nothing to pay"), and never asks Stripe itself; only
    the request that made the attempt charges it, after the lock is released."""
    with transaction.atomic():
        period = (SubscriptionPeriod.objects.select_for_update()
                  .filter(subscription_id=subscription.pk, status=SubscriptionPeriod.Status.FAILED)
                  .order_by("period_start").first())
        if period is None:
            raise PlanError(_("Nothing to pay."))
        last = Payment.objects.filter(pk=period.payment_id).values_list("status", flat=True).first()
        if last is not None and last not in (Payment.Status.FAILED, Payment.Status.CANCELED):
            raise PlanPaymentInProgress(_("Your payment is already under way; the plan page shows it in a moment."))
        if payment_method_id:
            Subscription.objects.filter(pk=subscription.pk).update(payment_method_id=payment_method_id)
        _attempt_payment(period, _account(subscription.driver))
    period = period_charge(period_id=period.pk, now=now, notify=False)
    if period.status == SubscriptionPeriod.Status.PAID:
        return period
    if period.payment_id and period.payment.status in Payment.OPEN_STATUSES:
        raise PlanPaymentInProgress(_("Your payment is under way; the plan page shows it in a moment."))
    raise PlanError(_("The payment was declined: %(reason)s.") % {
        "reason": failure_text(period.failure_message) or _("try another card")})


def _dunning_email(period_id: int, event: str) -> None:
    period = SubscriptionPeriod.objects.select_related("subscription__driver", "plan").get(pk=period_id)
    driver = period.subscription.driver
    if not driver.email:
        return

    def render() -> tuple[str, str]:
        words = {"amount": format_money(period.fee_incl_vat, period.currency), "plan": period.plan.name,
                 "reason": failure_text(period.failure_message)}
        if event == "suspended":
            return (_("Your %(plan)s plan is suspended") % words,
                    _("We could not charge %(amount)s for your %(plan)s plan. The plan is suspended and your sessions "
                      "are charged pay-as-you-go. Pay from the portal (Plan page) to reactivate it.") % words)
        words["retry"] = format_local_date(period.next_attempt_at, operator_time_zone(period.plan.operator_id))
        return (_("Payment for your %(plan)s plan failed") % words,
                _("We could not charge %(amount)s for your %(plan)s plan (%(reason)s). We will try again on "
                  "%(retry)s; you can also pay now from the portal (Plan page).") % words)

    send_in_languages(readers={driver.email: driver.language}, render=render)
