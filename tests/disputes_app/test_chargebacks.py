"""Stripe chargebacks: the created event opens (or links) a ticket once; later events update it and
a closed dispute resolves it."""
from datetime import timedelta
from decimal import Decimal

import pytest

from disputes_app import services
from disputes_app.models import DisputeTicket
from tests.disputes_app.conftest import OPENED

DUE = OPENED + timedelta(days=7)


def _open(operator, driver, session, dispute_id="dp_123", **kwargs):
    return services.ticket_open_from_chargeback(
        operator=operator, driver=driver, session=session, payment_id=55, stripe_dispute_id=dispute_id,
        amount=Decimal("5.11"), currency="EUR", evidence_due_by=DUE, now=OPENED, **kwargs)


def test_chargeback_opens_a_ticket_with_the_evidence_deadline(operator, driver, session, support, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    support.language = "de"
    support.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = _open(operator, driver, session)
    assert (ticket.source, ticket.reason, ticket.status) == ("chargeback", "payment_problem", "open")
    assert (ticket.payment_id, ticket.evidence_due_by, ticket.chargeback_amount) == (55, DUE, Decimal("5.11"))
    assert ticket.evidence.data["session"]["id"] == session.pk
    assert ticket.messages.get(internal=True).body.startswith("Stripe chargeback dp_123")
    [to_support] = [m for m in mailoutbox if m.to == [support.email]]  # one message per reader, in theirs
    assert to_support.subject.endswith("Rückbuchung dp_123")


def test_chargeback_open_is_idempotent_per_stripe_dispute(operator, driver, session):
    first = _open(operator, driver, session)
    second = _open(operator, driver, session)
    assert first.pk == second.pk
    assert DisputeTicket.objects.count() == 1
    assert first.messages.count() == 1


def test_chargeback_links_the_drivers_open_payment_ticket(operator, driver, session):
    mine = services.ticket_open(by=driver, session=session, reason="payment_problem", description="charged twice")
    linked = _open(operator, driver, session)
    assert linked.pk == mine.pk
    mine.refresh_from_db()
    assert (mine.stripe_dispute_id, mine.source) == ("dp_123", "driver")


def test_chargeback_without_a_session_or_driver(operator):
    ticket = _open(operator, None, None)
    assert ticket.driver is None and ticket.session is None


def test_update_changes_status_and_deadline_once(operator, driver, session):
    ticket = _open(operator, driver, session)
    later = DUE + timedelta(days=1)
    services.ticket_update_from_chargeback(stripe_dispute_id="dp_123", status="under_review", evidence_due_by=later)
    services.ticket_update_from_chargeback(stripe_dispute_id="dp_123", status="under_review", evidence_due_by=later)
    ticket.refresh_from_db()
    assert (ticket.chargeback_status, ticket.evidence_due_by, ticket.status) == ("under_review", later, "open")
    assert ticket.messages.filter(internal=True).count() == 2


@pytest.mark.parametrize(("outcome", "amount"), [("lost", Decimal("5.11")), ("won", None)])
def test_closed_dispute_resolves_the_ticket_and_tells_the_driver(operator, driver, session, outcome, amount,
                                                                 mailoutbox, django_capture_on_commit_callbacks):
    ticket = _open(operator, driver, session)
    with django_capture_on_commit_callbacks(execute=True):
        services.ticket_update_from_chargeback(stripe_dispute_id="dp_123", status=outcome, now=OPENED)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution_kind, ticket.resolution_amount) == ("resolved", "chargeback", amount)
    assert [t.to_status for t in ticket.transitions.filter(kind="status")] == ["open", "in_progress", "resolved"]
    assert mailoutbox[-1].to == [driver.email]


def test_update_for_an_unknown_dispute_is_ignored(db):
    assert services.ticket_update_from_chargeback(stripe_dispute_id="dp_nope", status="lost") is None
