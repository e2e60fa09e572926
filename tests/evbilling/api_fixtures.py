"""Helpers and fixtures of the REST API tests: API clients for a user, issued receipts of priced sessions
(without rendering PDFs or sending mail), and the people around operator A.

Loaded for the whole suite by `pytest_plugins` in tests/conftest.py.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from billing_app import invoicing
from billing_app.models import BillingAccount, Invoice
from tests import factories
from tests.billing_app.invoice_fixtures import charged_session

__all__ = ["T0", "api_for", "assert_error", "foreign_staff", "issued_receipt", "other_driver", "staff", "support"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def assert_error(response, status: int, *, field: str | None = None) -> dict:
    """The response is the API's one error shape with this status (and a message on `field`)."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status and error["message"] and isinstance(error["fields"], dict)
    assert field is None or field in error["fields"], error
    return error


def issued_receipt(driver, *, connector=None, started_at=T0, energy_kwh="10") -> Invoice:
    """A pay-as-you-go receipt of a priced session of `driver` (0.39 EUR/kWh + 19 % VAT), issued and
    numbered, PDF and email left out."""
    if not hasattr(driver, "billing_account"):
        BillingAccount.objects.create(driver=driver, operator=driver.operator,
                                      payment_mode=BillingAccount.PaymentMode.PAY_AS_YOU_GO)
    connector = connector or factories.ConnectorFactory(station__location__operator=driver.operator)
    charge = charged_session(connector=connector, driver=driver, started_at=started_at, energy_kwh=energy_kwh)
    with invoicing.delivery_suppressed():
        return invoicing.receipt_issue_for_session(session_id=charge.session_id,
                                                   now=started_at + timedelta(hours=2))


@pytest.fixture
def other_driver(operator):
    return factories.DriverFactory(operator=operator, username="dora-other")


@pytest.fixture
def staff(operator):
    return factories.OperatorStaffFactory(operator=operator, username="olaf-staff")


@pytest.fixture
def foreign_staff(other_operator):
    return factories.OperatorStaffFactory(operator=other_operator, username="fred-foreign")


@pytest.fixture
def support(operator):
    user = factories.SupportFactory(username="sam-support")
    user.supported_operators.add(operator)
    return user
