"""Pushes to a partner's receiver, against a real HTTP receiver: retried on OCPI_PUSH_RETRY_SCHEDULE while the
partner cannot be reached, then failed; an OCPI client error (2xxx) fails at once, a 1000 delivers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ocpi_app.push import push_attempt, push_enqueue
from tests.ocpi_app.conftest import partner_receiver, registered_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings):
    """The partner's receiver interface, answering with the OCPI status code in `answer`; `received` the pushes."""
    settings.OCPI_ALLOW_PRIVATE_HOSTS = True
    answer, received = {"status_code": 1000}, []
    with partner_receiver(answer, received) as url:
        yield f"{url}/ocpi", answer, received


def _push(partner):
    return push_enqueue(
        partner=partner, module="locations", object_id="L1", method="PUT", path="DE/VOL/L1", body={"id": "L1"}
    )


def test_an_unreachable_partner_is_retried_on_the_schedule_then_the_push_fails(settings, operator, cpo_party):
    settings.OCPI_PUSH_RETRY_SCHEDULE = [60]  # two attempts in all
    settings.OCPI_ALLOW_PRIVATE_HOSTS = False  # the partner's loopback address is refused: no answer
    partner, _ = registered_partner(operator, url="http://127.0.0.1:9/ocpi")
    push = _push(partner)
    push = push_attempt(delivery_id=push.pk, now=push.next_attempt_at)
    assert (push.status, push.attempts) == ("retrying", 1) and "not a public address" in push.last_error
    due = push.last_attempt_at + timedelta(seconds=60)
    assert push.next_attempt_at == due
    assert push_attempt(delivery_id=push.pk, now=due - timedelta(seconds=1)).attempts == 1  # not due yet
    push = push_attempt(delivery_id=push.pk, now=due)
    assert (push.status, push.attempts, push.next_attempt_at, push.delivered_at) == ("failed", 2, None, None)


def test_an_ocpi_client_error_fails_the_push_at_once(operator, cpo_party, receiver):
    url, answer, _ = receiver
    answer["status_code"] = 2001
    partner, _ = registered_partner(operator, url=url)
    push = _push(partner)
    push = push_attempt(delivery_id=push.pk, now=push.next_attempt_at)
    assert (push.status, push.attempts, push.next_attempt_at, push.last_status_code) == ("failed", 1, None, 2001)


def test_an_accepted_push_is_delivered(operator, cpo_party, receiver):
    url, _, received = receiver
    partner, _ = registered_partner(operator, url=url)
    push = _push(partner)
    due = push.next_attempt_at
    push = push_attempt(delivery_id=push.pk, now=due)
    assert (push.status, push.delivered_at, push.next_attempt_at, push.last_error) == ("succeeded", due, None, "")
    assert received == [("/ocpi/2.2.1/locations/DE/VOL/L1", {"id": "L1"})]
