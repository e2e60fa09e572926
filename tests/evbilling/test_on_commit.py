"""Deferred work after commit: a failing hook is logged and the others still run (issue 15 item 4).

Django's robust on_commit logs a failure by the hook's `__qualname__`; a functools.partial has none,
so the logging raised AttributeError and the remaining hooks of the transaction were skipped."""
import logging
from functools import partial

import pytest
from django.db import transaction

from evbilling.on_commit import after_commit

pytestmark = pytest.mark.django_db(transaction=True)


def _boom(reason: str) -> None:
    raise RuntimeError(reason)


def test_a_failing_partial_hook_never_skips_the_next_hooks(caplog):
    done = []
    with caplog.at_level(logging.ERROR), transaction.atomic():
        after_commit(partial(_boom, "broker down"))
        after_commit(done.append, "email sent")
        after_commit(partial(done.append, "pdf queued"))
    assert done == ["email sent", "pdf queued"]
    assert "after_commit(_boom)" in caplog.text and "broker down" in caplog.text


def test_nothing_runs_when_the_transaction_rolls_back():
    done = []
    with pytest.raises(ValueError), transaction.atomic():
        after_commit(done.append, "refund sent")
        raise ValueError("rolled back")
    assert done == []


def test_no_code_defers_a_partial_to_django_directly():
    """The rule, checked on the tree: every robust hook goes through after_commit."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = [str(p.relative_to(root)) for app in ("billing_app", "sessions_app", "disputes_app", "webhooks_app")
                 for p in (root / app).rglob("*.py")
                 if re.search(r"on_commit\(\s*(functools\.)?partial\(", p.read_text())]
    assert offenders == []
