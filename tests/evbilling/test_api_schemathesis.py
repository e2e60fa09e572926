"""Schemathesis over the whole OpenAPI schema the app serves (/api/v1/schema/): every operation, called
in-process through the WSGI app as a driver and as operator staff, with a small world of their data
(sessions, receipts, a credit note, a payment, a ticket, a plan, a card at localstripe).

Property: no input, however odd, gets a 5xx (`not_a_server_error`), and every documented response
matches its schema (`response_schema_conformance`). Bounded for CI: SCHEMATHESIS_MAX_EXAMPLES per
operation and role (default 10), derandomized when CI is set. Wider, e.g.:

    SCHEMATHESIS_MAX_EXAMPLES=200 .venv/bin/pytest tests/evbilling/test_api_schemathesis.py -p no:cacheprovider

or against `make run` with the CLI (see docs/api.md).
"""
from __future__ import annotations

import os
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from billing_app import invoicing
from billing_app.invoicing import delivery
from billing_app.models import Payment, Plan, Subscription
from disputes_app import services as disputes
from evbilling.api_tokens import api_token_create
from tests import factories
from tests.billing_app.payment_fixtures import payg_driver
from tests.evbilling.api_fixtures import T0, issued_receipt

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance]


HOST = "localhost"  # the Host schemathesis sends to a WSGI app


def _load_schema():
    """The schema as the app serves it (generating it touches no database)."""
    with override_settings(ALLOWED_HOSTS=[HOST]):
        return schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


# Loaded at collection: schemathesis' fixture-based (lazy) loader does not run under pytest 9.2.
schema = _load_schema()
bounded = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=bool(os.environ.get("CI")),
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.fixture(autouse=True)
def _in_process_wsgi(settings):
    """Requests go straight into the WSGI app inside the test's transaction: like Django's test client,
    keep the request signals from closing the connection the test's data lives on."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, HOST]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(stripe_server, operator, other_operator):
    """A pay-as-you-go driver with a card, receipts (one credited), a payment, a ticket, a plan and a
    subscription; a tariff and a station of the operator; another operator's receipt. Returns the
    Authorization headers of the driver and of the operator's staff."""
    driver = payg_driver(operator)
    receipt = issued_receipt(driver)
    issued_receipt(driver, started_at=T0 + timedelta(days=1))
    issued_receipt(factories.DriverFactory(operator=other_operator), started_at=T0 + timedelta(days=2))
    with invoicing.delivery_suppressed():
        invoicing.credit_note_issue(invoice_id=receipt.pk, reason="Goodwill", amount_incl_vat=Decimal("1.00"))
    factories.energy_tariff(operator)
    Payment.objects.create(operator=operator, driver=driver, session=receipt.session, currency="EUR",
                           kind=Payment.Kind.SESSION_HOLD, status=Payment.Status.CAPTURED, idempotency_key="st-1",
                           amount_authorized=Decimal("20.00"), amount_captured=Decimal("4.64"))
    ticket = disputes.ticket_open(by=driver, session=receipt.session, reason="wrong_amount", description="Too much")
    support = factories.SupportFactory(username="st-support")
    support.supported_operators.add(operator)
    disputes.message_post(ticket=ticket, author=support, body="internal", internal=True)
    plan = Plan.objects.create(operator=operator, name="Basic", fee_excl_vat=Decimal("9.00"), currency="EUR")
    Subscription.objects.create(driver=driver, plan=plan, anchor_day=2, current_period_start=T0.date(),
                                current_period_end=T0.date() + timedelta(days=31))
    staff = factories.OperatorStaffFactory(operator=operator)
    return {role: {"Authorization": f"Token {api_token_create(user=user)}"}
            for role, user in (("driver", driver), ("operator", staff))}


@pytest.fixture
def quick_pdfs(monkeypatch):
    """The generated runs check the PDF endpoints' contract, not the document: skip WeasyPrint (the
    real rendering is read once per role by the last test here)."""
    monkeypatch.setattr(delivery.pdf, "document_pdf", lambda document: b"%PDF-1.7 stand-in")


@schema.parametrize()
@bounded
def test_as_a_driver(case, world, quick_pdfs):
    case.call_and_validate(headers=world["driver"], checks=CHECKS)


@schema.parametrize()
@bounded
def test_as_operator_staff(case, world, quick_pdfs):
    case.call_and_validate(headers=world["operator"], checks=CHECKS)


def _object_id(headers: dict, list_path: str) -> int | None:
    """The id of the first object the caller sees in a list (None when they see none or may not list).
    Through the same WSGI transport: Django's test client would reconnect the connection-closing signals."""
    listing = schema[list_path]["GET"]
    response = listing.Case().call(headers=headers)
    results = response.json().get("results", []) if response.status_code == 200 else []
    return results[0]["id"] if results else None


@pytest.mark.parametrize("role", ["driver", "operator"])
def test_every_read_of_a_real_object_matches_the_schema(world, role):
    """Generated ids rarely hit a real object: read each object the caller can see once, deterministically,
    so every documented 200 (detail, PDF, OCPI export, samples, subscription) is checked on real data."""
    headers, failures, checked = world[role], [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method != "get":
            continue
        path_parameters = {}
        if "{id}" in operation.path:
            object_id = _object_id(headers, operation.path.split("{id}")[0])
            if object_id is None:
                continue
            path_parameters["id"] = object_id
            if "{fmt}" in operation.path:
                path_parameters["fmt"] = "cii"  # e-invoice formats: each answers the same way
        elif "{" in operation.path:
            continue
        case = operation.Case(path_parameters=path_parameters)
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
            checked += 1
        except AssertionError as failure:  # schemathesis' failures are AssertionErrors
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)
    assert checked >= (15 if role == "driver" else 20)
