"""Plan fees on the monthly statement of a postpaid account (statements call `plan_statement_lines`
directly); card-paid renewals use the same fee line on their own plan-fee invoice."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from billing_app.invoicing.lines import LineIn, line_priced
from billing_app.models import BillingAccount, SubscriptionPeriod


def plan_fee_line(period: SubscriptionPeriod) -> LineIn:
    last = period.period_end - timedelta(days=1)
    return line_priced(kind="PLAN_FEE", description=f"{period.plan.name}: {period.period_start} to {last}",
                       quantity=Decimal(1), unit="period", unit_price=period.fee_excl_vat,
                       vat_rate=period.plan.vat_rate, currency=period.currency)


def plan_statement_lines(*, account: BillingAccount, period_start: date, period_end: date,
                         currency: str) -> list[LineIn]:
    """The fees of the periods billed on the statement that
    start in the statement's month (each period start falls in exactly one month, and each month's
    statement is issued once, so no fee is billed twice)."""
    periods = (SubscriptionPeriod.objects.filter(subscription__driver_id=account.driver_id,
                                                 status=SubscriptionPeriod.Status.STATEMENT, currency=currency,
                                                 period_start__gte=period_start, period_start__lte=period_end)
               .select_related("plan").order_by("period_start", "pk"))
    return [plan_fee_line(p) for p in periods]
