"""The monthly billing run: statements per postpaid/subscription account for the month closed in
the operator's time zone, idempotent per (account, period), never for a month not ended there;
the command and the task."""
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from billing_app.invoicing.billing_run import billing_run, operator_billing_run
from billing_app.invoicing.errors import PeriodNotEndedError
from billing_app.invoicing.tasks import billing_run as billing_run_task
from billing_app.models import BillingAccount, Invoice
from tests import factories
from tests.billing_app.invoice_fixtures import account, charged_session

D = Decimal
POSTPAID = BillingAccount.PaymentMode.POSTPAID
pytestmark = pytest.mark.usefixtures("no_delivery")


@pytest.fixture
def fleet(operator, connector):
    """Two postpaid drivers and one pay-as-you-go driver with sessions around the end of October."""
    drivers = [factories.DriverFactory(operator=operator) for _ in range(3)]
    account(drivers[0], POSTPAID)
    account(drivers[1], POSTPAID)
    account(drivers[2])
    # 22:30 UTC on 31 October is 23:30 in Berlin (October); 23:30 UTC is 00:30 on 1 November in Berlin.
    charged_session(connector=connector, driver=drivers[0], started_at=datetime(2026, 10, 31, 21, 30, tzinfo=UTC))
    charged_session(connector=connector, driver=drivers[0], started_at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC))
    charged_session(connector=connector, driver=drivers[1], started_at=datetime(2026, 10, 5, 8, tzinfo=UTC))
    charged_session(connector=connector, driver=drivers[2], started_at=datetime(2026, 10, 6, 8, tzinfo=UTC))
    return drivers


def test_run_closes_the_month_in_the_operators_time_zone(fleet):
    results = billing_run(period=date(2026, 10, 1))
    assert [(r.operator, r.issued) for r in results] == [("Voltara", 2)]
    first = Invoice.objects.get(driver=fleet[0])
    # the session ending at 00:30 Berlin on 1 November is November's
    assert first.lines.count() == 1 and first.total_incl_vat == D("4.64")  # 10 kWh x 0.39 = 3.90 + 0.74 VAT
    assert set(Invoice.objects.values_list("kind", "period_start", "period_end").distinct()) == {
        ("statement", date(2026, 10, 1), date(2026, 10, 31))}
    assert not Invoice.objects.filter(driver=fleet[2]).exists()
    november = billing_run(period=date(2026, 11, 1), now=datetime(2026, 12, 1, 0, 30, tzinfo=UTC))
    assert november[0].issued == 1
    assert Invoice.objects.get(driver=fleet[0], period_start=date(2026, 11, 1)).lines.count() == 1


def test_running_twice_issues_nothing_twice(fleet):
    billing_run(period=date(2026, 10, 1))
    again = billing_run(period=date(2026, 10, 1))
    assert again[0].issued == 0 and again[0].accounts == 0
    assert Invoice.objects.count() == 2
    assert sorted(Invoice.objects.values_list("number", flat=True)) == ["VOLT-2026-000001", "VOLT-2026-000002"]


def test_default_period_is_the_previous_month(fleet):
    results = billing_run(now=datetime(2026, 11, 1, 0, 30, tzinfo=UTC))  # 01:30 on 1 November in Berlin
    assert results[0].period == date(2026, 10, 1) and results[0].issued == 2


def test_command_with_period_and_operator(fleet, other_operator):
    out = StringIO()
    call_command("billing_run", period="2026-10", operator=["Voltara"], no_progress=True, stdout=out)
    assert "Voltara 2026-10: 2 statement(s) issued" in out.getvalue()
    call_command("billing_run", period="2026-10", no_progress=True, stdout=out)
    assert Invoice.objects.count() == 2
    with pytest.raises(CommandError, match="2026-10"):
        call_command("billing_run", period="October", no_progress=True, stdout=out)
    with pytest.raises(CommandError, match="Nobody"):
        call_command("billing_run", period="2026-10", operator=["Nobody"], no_progress=True, stdout=out)


def test_task_runs_the_billing_run(fleet):
    assert billing_run_task.delay("2026-10").get() == 2
    assert billing_run_task.delay("2026-10").get() == 0


def test_a_month_not_ended_in_the_operators_time_zone_is_refused_and_nothing_issued(fleet, connector):
    # 29 November: November is under way; a session on the 30th must still find its November statement.
    with pytest.raises(PeriodNotEndedError, match=r"2026-11 has not ended yet for Voltara \(Europe/Berlin\)"):
        billing_run(period=date(2026, 11, 1), now=datetime(2026, 11, 29, 10, tzinfo=UTC))
    with pytest.raises(PeriodNotEndedError):  # 23:30 on 30 November in Berlin: still November
        operator_billing_run(operator=connector.station.location.operator, period=date(2026, 11, 1),
                             now=datetime(2026, 11, 30, 22, 30, tzinfo=UTC))
    assert not Invoice.objects.filter(period_start=date(2026, 11, 1)).exists()
    charged_session(connector=connector, driver=fleet[0], started_at=datetime(2026, 11, 30, 12, tzinfo=UTC))
    december_1st = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 December in Berlin
    assert billing_run(period=date(2026, 11, 1), now=december_1st)[0].issued == 1
    assert Invoice.objects.get(driver=fleet[0], period_start=date(2026, 11, 1)).lines.count() == 2


def test_the_command_refuses_a_month_not_ended_with_a_clear_error(fleet):
    with pytest.raises(CommandError, match=r"Refused: 2099-01 has not ended yet for Voltara .*Nothing was issued"):
        call_command("billing_run", period="2099-01", no_progress=True, stdout=StringIO())
    assert not Invoice.objects.exists()


def test_the_task_refuses_a_month_not_ended(fleet):
    with pytest.raises(PeriodNotEndedError):
        billing_run_task.delay("2099-01").get()
    assert not Invoice.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["billing_run", "ocpi_settle"])
@pytest.mark.parametrize("value", ["2026-13", "October", "2026-1-1"])
def test_a_period_argument_must_name_a_month(command, value):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=f"--period must look like 2026-10, not '{value}'"):
        call_command(command, "--period", value)
