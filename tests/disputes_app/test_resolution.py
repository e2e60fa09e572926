"""Resolving: reject with an explanation, or through a billing resolver; a kind without a resolver
is refused, never pretended; a resolver's refusal writes nothing; the driver is told the outcome."""
from decimal import Decimal

import pytest

from disputes_app import services
from disputes_app.models import TicketTransition
from disputes_app.services import DisputeError, resolutions
from tests.disputes_app.conftest import OPENED, move


@pytest.fixture
def working(ticket, support):
    return move(ticket, "in_progress", by=support)


@pytest.fixture
def resolvers(monkeypatch):
    """Swap a kind's resolver (billing's real ones are tested in test_billing_resolution) for this test only."""

    class Resolvers:
        @staticmethod
        def replace(kind, func):
            monkeypatch.setitem(resolutions.RESOLVERS, kind, func)

        @staticmethod
        def remove(kind):
            monkeypatch.delitem(resolutions.RESOLVERS, kind)

    return Resolvers


def test_reject_with_explanation_resolves_and_tells_the_driver(working, support, driver, mailoutbox,
                                                               django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_resolve(ticket=working, by=support, kind="reject",
                                explanation="The meter readings match the 11 kWh billed.", now=OPENED)
    working.refresh_from_db()
    assert (working.status, working.resolution_kind, working.resolved_at) == ("resolved", "reject", OPENED)
    assert mailoutbox[-1].to == [driver.email]
    assert "Outcome: Rejected" in mailoutbox[-1].subject
    assert "match the 11 kWh" in mailoutbox[-1].body


def test_reject_without_explanation_is_refused(working, support):
    with pytest.raises(DisputeError, match="explanation"):
        services.ticket_resolve(ticket=working, by=support, kind="reject", explanation=" ")
    working.refresh_from_db()
    assert working.status == "in_progress"


def test_kind_without_a_resolver_is_refused(working, support, resolvers):
    resolvers.remove("refund")
    with pytest.raises(DisputeError, match="not available"):
        services.ticket_resolve(ticket=working, by=support, kind="refund", amount=Decimal("2.00"))
    working.refresh_from_db()
    assert working.status == "in_progress" and working.resolution_kind == ""


def test_refund_goes_through_its_resolver(working, support, resolvers):
    calls = []

    def refund(**kwargs):
        calls.append(kwargs)
        return {"refund_id": 99, "credit_note_id": 12}

    resolvers.replace("refund", refund)
    services.ticket_resolve(ticket=working, by=support, kind="refund", amount=Decimal("2.50"),
                            explanation="Partial refund for the idle time.", now=OPENED)
    working.refresh_from_db()
    assert (working.resolution_amount, working.resolution_currency) == (Decimal("2.50"), "EUR")
    assert working.resolution_reference == {"refund_id": 99, "credit_note_id": 12}
    assert calls[0]["amount"] == Decimal("2.50")
    assert calls[0]["idempotency_key"] == f"dispute-{working.pk}-0-refund"
    assert calls[0]["ticket"].pk == working.pk


def test_resolver_refusal_writes_nothing(working, support, resolvers):
    def refund(**kwargs):
        raise resolutions.ResolutionError("Refund above the captured 5.11 EUR.")

    resolvers.replace("refund", refund)
    before = TicketTransition.objects.count()
    with pytest.raises(DisputeError, match="above the captured"):
        services.ticket_resolve(ticket=working, by=support, kind="refund", amount=Decimal("6.00"))
    working.refresh_from_db()
    assert working.status == "in_progress"
    assert TicketTransition.objects.count() == before


@pytest.mark.parametrize(("kind", "amount", "message"), [
    ("refund", None, "needs an amount"),
    ("refund", Decimal("-1"), "positive"),
    ("credit_note", Decimal("1.001"), "two decimal places"),
    ("reject", Decimal("1"), "no amount"),
    ("chargeback", None, "not a resolution"),
])
def test_bad_amounts_and_kinds_are_refused(working, support, resolvers, kind, amount, message):
    resolvers.replace("refund", lambda **kwargs: {})
    resolvers.replace("credit_note", lambda **kwargs: {})
    with pytest.raises(DisputeError, match=message):
        services.ticket_resolve(ticket=working, by=support, kind=kind, amount=amount, explanation="x")


def test_an_open_ticket_is_resolved_directly_and_only_once(ticket, support):
    resolved = services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="x")
    assert resolved.status == "resolved"
    with pytest.raises(DisputeError, match="cannot move to Resolved"):
        services.ticket_resolve(ticket=resolved, by=support, kind="reject", explanation="x")


def test_drivers_cannot_resolve(working, driver):
    with pytest.raises(services.DisputeNotFound):
        services.ticket_resolve(ticket=working, by=driver, kind="reject", explanation="x")
