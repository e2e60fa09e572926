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
  (`statements.plan_statement_lines`, called by invoicing's statements).

Modules: `periods` (calendar and shared helpers), `subscriptions` (subscribe, change, cancel, settlement),
`renewals` (renewals and dunning), `statements` (plan fees on statements), `reductions` (what a plan
takes off a priced session, pure), and the edges `apis`, `tasks`. `services` gathers the operations
the edges call; this package's `__init__` imports nothing, so importing one module never drags the rest."""
