"""Opening tickets: by a driver for their own session only, by support, one active ticket per
session and reason."""
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from disputes_app import services
from disputes_app.models import DisputeTicket
from disputes_app.services import DisputeError, DisputeNotFound
from sessions_app import services as session_services
from tests import factories
from tests.disputes_app.conftest import OPENED, T0, move


def test_driver_opens_a_ticket_for_their_session(ticket, driver, session, operator):
    assert (ticket.operator, ticket.driver, ticket.session, ticket.status) == (operator, driver, session, "open")
    assert ticket.source == "driver"
    assert ticket.first_response_due == OPENED + timedelta(hours=24)
    assert ticket.resolution_due == OPENED + timedelta(hours=120)
    assert ticket.messages.get().body.startswith("I was charged")


def test_operator_sla_sets_the_deadlines(session, driver, operator):
    from disputes_app.models import OperatorSla

    OperatorSla.objects.create(operator=operator, first_response_hours=4, resolution_hours=48)
    ticket = services.ticket_open(by=driver, session=session, reason="other", description="x", now=OPENED)
    assert ticket.first_response_due == OPENED + timedelta(hours=4)
    assert ticket.resolution_due == OPENED + timedelta(hours=48)


def test_driver_cannot_open_a_ticket_for_another_drivers_session(session, other_driver):
    with pytest.raises(DisputeNotFound):
        services.ticket_open(by=other_driver, session=session, reason="not_mine", description="x")
    assert not DisputeTicket.objects.exists()


def test_a_running_session_cannot_be_disputed(connector, id_token, driver):
    running = session_services.session_start(connector=connector, id_token=id_token, started_at=T0,
                                             meter_start_wh=1000, transaction_ref="tx-running")
    with pytest.raises(DisputeError, match="still running"):
        services.ticket_open(by=driver, session=running, reason="other", description="x")


def test_second_active_ticket_for_session_and_reason_is_refused(ticket, driver, session):
    with pytest.raises(DisputeError, match="still open"):
        services.ticket_open(by=driver, session=session, reason="wrong_amount", description="again")
    assert DisputeTicket.objects.count() == 1


def test_another_reason_for_the_same_session_is_a_separate_ticket(ticket, driver, session):
    services.ticket_open(by=driver, session=session, reason="charger_fault", description="stopped early")
    assert DisputeTicket.objects.count() == 2


def test_the_database_refuses_a_second_active_ticket(ticket):
    clone = DisputeTicket.objects.get(pk=ticket.pk)
    clone.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


def test_a_new_ticket_may_follow_a_resolved_one(ticket, support, driver, session):
    ticket = move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="Correct.")
    services.ticket_open(by=driver, session=session, reason="wrong_amount", description="still wrong")
    assert DisputeTicket.objects.filter(session=session, reason="wrong_amount").count() == 2


def test_support_opens_a_ticket_for_a_supported_operator(session, support, driver):
    ticket = services.ticket_open(by=support, session=session, reason="charger_fault",
                                  description="Charger log shows a ground fault.", now=OPENED)
    assert (ticket.source, ticket.driver, ticket.opened_by) == ("support", driver, support)
    assert ticket.first_responded_at == OPENED


def test_support_of_another_operator_cannot_open_one(session, other_support):
    with pytest.raises(DisputeNotFound):
        services.ticket_open(by=other_support, session=session, reason="other", description="x")


def test_support_cannot_open_a_ticket_about_an_unknown_invoice(support, driver, operator):
    from disputes_app.services import DisputeNotFound

    with pytest.raises(DisputeNotFound, match="No such invoice"):
        services.ticket_open(by=support, operator=operator, driver=driver, invoice_id=42,
                             reason="wrong_amount", description="Invoice line doubled.")


def test_unknown_reason_is_refused(session, driver):
    with pytest.raises(DisputeError, match="not a dispute reason"):
        services.ticket_open(by=driver, session=session, reason="bored", description="x")


def test_operator_staff_see_their_operators_tickets_only(ticket, operator, other_operator):
    from disputes_app.selectors import tickets_for_staff

    assert list(tickets_for_staff(factories.OperatorStaffFactory(operator=operator))) == [ticket]
    assert not tickets_for_staff(factories.OperatorStaffFactory(operator=other_operator)).exists()
