"""The one rule that moves an outbound delivery after an attempt (evbilling/outbound_delivery.py), on both models
that share it: webhooks_app's WebhookDelivery and ocpi_app's PushDelivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ocpi_app.models import PushDelivery
from webhooks_app.models import WebhookDelivery

NOW = datetime(2026, 3, 5, 10, tzinfo=UTC)
SCHEDULE = [60, 300]
both = pytest.mark.parametrize("model", [WebhookDelivery, PushDelivery])


def _after(model, *, attempts: int, status: str = "retrying", **outcome):
    delivery = model(status=status, attempts=attempts, next_attempt_at=NOW)
    delivery.attempt_outcome_record(
        now=NOW, schedule=SCHEDULE, **{"delivered": False, "error": "HTTP 503", "final": False, **outcome}
    )
    return delivery


@both
def test_a_failed_attempt_is_due_again_after_its_place_in_the_schedule(model):
    first, second = _after(model, attempts=1, status="pending"), _after(model, attempts=2)
    assert (first.status, first.next_attempt_at) == ("retrying", NOW + timedelta(seconds=60))
    assert (second.status, second.next_attempt_at) == ("retrying", NOW + timedelta(seconds=300))
    assert (second.last_attempt_at, second.last_error, second.delivered_at) == (NOW, "HTTP 503", None)


@both
def test_the_attempt_after_the_last_retry_fails_for_good(model):
    delivery = _after(model, attempts=len(SCHEDULE) + 1)
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)


@both
def test_a_final_answer_fails_at_once(model):
    delivery = _after(model, attempts=1, status="pending", final=True, error="Not sent: the endpoint is disabled.")
    assert (delivery.status, delivery.next_attempt_at, delivery.last_error) == (
        "failed",
        None,
        "Not sent: the endpoint is disabled.",
    )


@both
def test_a_delivered_attempt_succeeds_with_its_time_even_on_the_last_try(model):
    delivery = _after(model, attempts=len(SCHEDULE) + 1, delivered=True, error="")
    assert (delivery.status, delivery.delivered_at, delivery.next_attempt_at, delivery.last_error) == (
        "succeeded",
        NOW,
        None,
        "",
    )


def test_a_push_superseded_during_its_attempt_stays_superseded_with_the_outcome_noted():
    delivery = PushDelivery(status="superseded", attempts=1, next_attempt_at=None)
    delivery.attempt_outcome_record(now=NOW, delivered=True, error="", final=False, schedule=SCHEDULE)
    assert (delivery.status, delivery.delivered_at, delivery.next_attempt_at, delivery.last_attempt_at) == (
        "superseded",
        None,
        None,
        NOW,
    )


@both
def test_an_error_longer_than_its_column_is_cut(model):
    assert len(_after(model, attempts=1, error="x" * 300).last_error) == 255
