"""The plan operations the edges call (portal, API, tasks, settlement), gathered from the modules that
implement them."""
from billing_app.plans.periods import PlanError, add_months, live_subscription, local_today, period_open
from billing_app.plans.renewals import (
    dunning,
    period_charge,
    subscription_pay_now,
    subscription_renew,
    subscriptions_due,
    subscriptions_renew_due,
)
from billing_app.plans.statements import plan_statement_lines
from billing_app.plans.subscriptions import (
    member_tariff,
    plan_cancel,
    plan_change,
    plan_resume,
    plan_subscribe,
    plans_offered,
    session_period,
    session_plan_apply,
    session_plan_release,
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
    "plan_resume",
    "plan_statement_lines",
    "plan_subscribe",
    "plans_offered",
    "session_period",
    "session_plan_apply",
    "session_plan_release",
    "subscription_pay_now",
    "subscription_renew",
    "subscriptions_due",
    "subscriptions_renew_due",
    "tariff_for_plan",
]
