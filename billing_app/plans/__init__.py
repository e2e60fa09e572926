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

Modules: `periods` (calendar and shared helpers), `subscriptions` (subscribe, change, cancel, statements,
settlement) and `renewals` (renewals and dunning); import from here."""
from .periods import PlanError, add_months, live_subscription, local_today, period_open
from .renewals import (
    dunning,
    period_charge,
    subscription_pay_now,
    subscription_renew,
    subscriptions_due,
    subscriptions_renew_due,
)
from .subscriptions import (
    member_tariff,
    plan_cancel,
    plan_change,
    plan_statement_lines,
    plan_subscribe,
    plans_offered,
    session_period,
    session_plan_apply,
    tariff_for_plan,
)

__all__ = [
    "PlanError",
    "add_months",
    "dunning",
    "live_subscription",
    "local_today",
    "member_tariff",
    "period_charge",
    "period_open",
    "plan_cancel",
    "plan_change",
    "plan_statement_lines",
    "plan_subscribe",
    "plans_offered",
    "session_period",
    "session_plan_apply",
    "subscription_pay_now",
    "subscription_renew",
    "subscriptions_due",
    "subscriptions_renew_due",
    "tariff_for_plan",
]
