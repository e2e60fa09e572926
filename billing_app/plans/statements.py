"""Plan fees on the monthly statement of a postpaid account (statements call `plan_statement_lines`
directly); card-paid renewals use the same fee line on their own plan-fee invoice. A company's statement
carries the fees billed on statement of its member drivers that have no monthly account of their own (a
postpaid fleet driver's plan, moved with the account when it became a company's)."""
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
    if account.company_id:
        own_statements = BillingAccount.objects.filter(driver__company_id=account.company_id, payment_mode__in=(
            BillingAccount.PaymentMode.POSTPAID, BillingAccount.PaymentMode.SUBSCRIPTION)).values("driver_id")
        whose = {"subscription__driver__company_id": account.company_id}
    else:
        own_statements, whose = BillingAccount.objects.none().values("driver_id"), {
            "subscription__driver_id": account.driver_id}
    periods = (SubscriptionPeriod.objects.filter(**whose,
                                                 status=SubscriptionPeriod.Status.STATEMENT, currency=currency,
                                                 period_start__gte=period_start, period_start__lte=period_end)
               .exclude(subscription__driver_id__in=own_statements)
               .select_related("plan").order_by("period_start", "pk"))
    return [plan_fee_line(p) for p in periods]
