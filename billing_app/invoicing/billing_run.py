"""The monthly billing run: a statement per postpaid or subscription account for each closed month.

Each operator's month is closed in its own time zone (`sessions_app.selectors.operator_time_zone`), and only
once it has ended there: a run for a month still under way is refused (`PeriodNotEndedError`, nothing issued),
because a statement is one per account and month and a session after it would land on none. Idempotent
per (account, period): accounts that have their statement are not looked at again, and the unique
constraint on (account, period_start) turns a concurrent second run into a no-op. Accounts are
issued in batches (one transaction each), so a crash loses at most the batch in progress, and the
next run picks up where it stopped.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from billing_app.invoicing.documents import issue_drafts, statement_accounts, statement_drafts
from billing_app.invoicing.errors import PeriodNotEndedError
from sessions_app.models import Operator
from sessions_app.selectors import operator_time_zone

BATCH_SIZE = 200


@dataclass(frozen=True, slots=True)
class BillingRunResult:
    operator: str
    period: date
    accounts: int
    issued: int


def previous_month(now: datetime, operator: Operator) -> date:
    """The first day of the month before `now`, in the operator's time zone."""
    today = timezone.localtime(now, operator_time_zone(operator.pk)).date()
    return date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)


def period_has_ended(*, operator: Operator, period: date, now: datetime) -> bool:
    """True once the month of `period` is over in the operator's time zone (its local date is in a later month)."""
    today = timezone.localtime(now, operator_time_zone(operator.pk)).date()
    return (today.year, today.month) > (period.year, period.month)


def period_check_ended(*, operators: Sequence[Operator], period: date, now: datetime) -> None:
    """Refuse (PeriodNotEndedError) a month that has not ended for every one of `operators`."""
    open_for = [operator for operator in operators if not period_has_ended(operator=operator, period=period, now=now)]
    if open_for:
        ends = (period.replace(day=1) + timedelta(days=32)).replace(day=1)
        names = ", ".join(f"{o.name} ({operator_time_zone(o.pk)})" for o in open_for)
        raise PeriodNotEndedError(f"{period:%Y-%m} has not ended yet for {names}: it can be billed from "
                                  f"{ends:%Y-%m-%d} 00:00 local time.")


def operator_billing_run(*, operator: Operator, period: date, now: datetime | None = None,
                         batch_size: int = BATCH_SIZE, progress: Callable[[int], None] = lambda n: None,
                         ) -> BillingRunResult:  # fmt: skip
    """Issue the statements of `operator` for the month of `period` that are not issued yet; refuses a
    month that has not ended in the operator's time zone."""
    period = period.replace(day=1)
    period_check_ended(operators=[operator], period=period, now=now or timezone.now())
    tz = operator_time_zone(operator.pk)
    accounts = list(statement_accounts(operator=operator, period=period))
    issued = 0
    for start in range(0, len(accounts), batch_size):
        chunk = accounts[start:start + batch_size]
        drafts = statement_drafts(operator=operator, period=period, accounts=chunk, tz=tz)
        issued += len(issue_drafts(drafts, now=now or timezone.now()))
        progress(len(chunk))
    return BillingRunResult(operator.name, period, len(accounts), issued)


def billing_run(*, period: date | None = None, operator_names: Sequence[str] | None = None,
                now: datetime | None = None, progress: Callable[[int], None] = lambda n: None,
                ) -> list[BillingRunResult]:  # fmt: skip
    """Close the month of `period` (default: each operator's previous month) for every operator
    (or the named ones). An explicit `period` that has not ended for one of them is refused before
    anything is issued (`PeriodNotEndedError`)."""
    now = now or timezone.now()
    operators = Operator.objects.order_by("name")
    if operator_names:
        operators = operators.filter(name__in=operator_names)
    if period is not None:
        period_check_ended(operators=list(operators), period=period, now=now)
    return [operator_billing_run(operator=operator, period=period or previous_month(now, operator), now=now,
                                 progress=progress)
            for operator in operators]


def billing_run_size(*, period: date | None = None, operator_names: Sequence[str] | None = None,
                     now: datetime | None = None) -> int:
    """How many accounts a run would look at (for a progress bar)."""
    now = now or timezone.now()
    operators = Operator.objects.all()
    if operator_names:
        operators = operators.filter(name__in=operator_names)
    return sum(statement_accounts(operator=o, period=period or previous_month(now, o)).count() for o in operators)
