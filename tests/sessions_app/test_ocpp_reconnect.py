"""The gateway's database calls survive a dropped connection: one retry on a new connection (the services
are idempotent), and a second failure reaches the handler, which answers the charger with a CallError.
The same against a real PostgreSQL whose connections are terminated: tests/ops/test_fault_tolerance.py."""
import asyncio

import pytest
from django.db import InterfaceError, OperationalError

from sessions_app.ocpp.database import db as gateway_db


def flaky(failures: int, error: Exception):
    calls = []

    def call(value):
        calls.append(value)
        if len(calls) <= failures:
            raise error
        return value

    return call, calls


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   InterfaceError("connection already closed")])
def test_a_dropped_connection_is_retried_once_on_a_new_one(error):
    call, calls = flaky(1, error)
    assert asyncio.run(gateway_db(call, "answer")) == "answer"
    assert calls == ["answer", "answer"]


def test_a_second_failure_reaches_the_handler():
    call, calls = flaky(2, OperationalError("terminating connection due to administrator command"))
    with pytest.raises(OperationalError):
        asyncio.run(gateway_db(call, "answer"))
    assert len(calls) == 2


def test_other_errors_are_not_retried():
    call, calls = flaky(1, ValueError("bad input"))
    with pytest.raises(ValueError):
        asyncio.run(gateway_db(call, "answer"))
    assert len(calls) == 1
