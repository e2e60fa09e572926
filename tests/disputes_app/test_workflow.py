"""The workflow table: every allowed move works and is audited, every other one is refused with a
message and changes nothing; reopening has a time limit."""
from datetime import timedelta

import pytest

from disputes_app import services, workflow
from disputes_app.models import DisputeTicket, TicketTransition
from disputes_app.services import DisputeError, DisputeNotFound
from tests.disputes_app.conftest import OPENED, move

S = DisputeTicket.Status
ALL = list(S.values)
# How to bring a fresh ticket into each status (resolving is a resolution, not a plain move).
PATHS = {
    S.OPEN: [],
    S.IN_PROGRESS: [S.IN_PROGRESS],
    S.WAITING_FOR_DRIVER: [S.IN_PROGRESS, S.WAITING_FOR_DRIVER],
    S.RESOLVED: [S.IN_PROGRESS, "resolve"],
    S.CLOSED: [S.IN_PROGRESS, "resolve", S.CLOSED],
}


def _bring(ticket, status, support):
    for step in PATHS[status]:
        if step == "resolve":
            ticket = services.ticket_resolve(ticket=ticket, by=support, kind="reject",
                                             explanation="The meter data is consistent.", now=OPENED)
        else:
            ticket = move(ticket, step, by=support)
    return ticket


ALLOWED = [(f, t) for f in ALL for t in ALL if workflow.is_allowed(f, t) and t != S.RESOLVED]
REFUSED = [(f, t) for f in ALL for t in ALL if not workflow.is_allowed(f, t)]


def test_the_table_is_the_documented_workflow():
    resolutions = [(S.OPEN, S.RESOLVED), (S.IN_PROGRESS, S.RESOLVED)]
    assert sorted([*ALLOWED, *resolutions]) == sorted([
        (S.OPEN, S.IN_PROGRESS), (S.OPEN, S.RESOLVED),
        (S.IN_PROGRESS, S.WAITING_FOR_DRIVER), (S.WAITING_FOR_DRIVER, S.IN_PROGRESS),
        (S.IN_PROGRESS, S.RESOLVED), (S.RESOLVED, S.CLOSED), (S.RESOLVED, S.OPEN), (S.CLOSED, S.OPEN),
    ])


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_is_made_and_audited(ticket, support, from_status, to_status):
    ticket = _bring(ticket, from_status, support)
    before = TicketTransition.objects.count()
    ticket = services.ticket_transition(ticket=ticket, to_status=to_status, by=support, note="why",
                                        now=OPENED + timedelta(hours=1))
    ticket.refresh_from_db()
    assert ticket.status == to_status
    last = TicketTransition.objects.latest("pk")
    assert TicketTransition.objects.count() == before + 1
    assert (last.from_status, last.to_status, last.by, last.at) == (
        from_status, to_status, support, OPENED + timedelta(hours=1))


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_illegal_transition_is_refused_and_changes_nothing(ticket, support, from_status, to_status):
    ticket = _bring(ticket, from_status, support)
    before = TicketTransition.objects.count()
    with pytest.raises(DisputeError, match="cannot move to"):
        services.ticket_transition(ticket=ticket, to_status=to_status, by=support)
    ticket.refresh_from_db()
    assert ticket.status == from_status
    assert TicketTransition.objects.count() == before


def test_resolving_needs_a_resolution(ticket, support):
    ticket = move(ticket, S.IN_PROGRESS, by=support)
    with pytest.raises(DisputeError, match="with a resolution"):
        services.ticket_transition(ticket=ticket, to_status=S.RESOLVED, by=support)


def test_move_offers_only_the_statuses_a_ticket_can_move_to():
    assert workflow.moves_from(S.OPEN) == [S.IN_PROGRESS]
    assert workflow.moves_from(S.IN_PROGRESS) == [S.WAITING_FOR_DRIVER]
    assert workflow.moves_from(S.RESOLVED) == [S.OPEN, S.CLOSED]


def test_unknown_status_is_refused(ticket, support):
    with pytest.raises(DisputeError):
        services.ticket_transition(ticket=ticket, to_status="archived", by=support)


def test_opening_is_the_first_audited_transition(ticket, driver):
    first = ticket.transitions.get()
    assert (first.from_status, first.to_status, first.by, first.at) == ("", S.OPEN, driver, OPENED)


def test_driver_cannot_move_a_ticket(ticket, driver):
    with pytest.raises(DisputeError, match="Only support staff"):
        services.ticket_transition(ticket=ticket, to_status=S.IN_PROGRESS, by=driver)
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN


def test_support_of_another_operator_cannot_move_it(ticket, other_support):
    with pytest.raises(DisputeNotFound):
        services.ticket_transition(ticket=ticket, to_status=S.IN_PROGRESS, by=other_support)


def test_driver_reopens_within_the_limit_with_fresh_deadlines(ticket, support, driver, settings):
    ticket = _bring(ticket, S.CLOSED, support)
    later = OPENED + timedelta(days=settings.DISPUTE_REOPEN_DAYS)
    ticket = services.ticket_transition(ticket=ticket, to_status=S.OPEN, by=driver, now=later)
    ticket.refresh_from_db()
    assert ticket.status == S.OPEN
    assert ticket.reopen_count == 1
    assert ticket.resolved_at is None
    assert ticket.first_response_due == later + timedelta(hours=24)
    assert ticket.resolution_due == later + timedelta(hours=120)


def test_reopen_after_the_limit_is_refused(ticket, support, driver, settings):
    ticket = _bring(ticket, S.RESOLVED, support)
    too_late = OPENED + timedelta(days=settings.DISPUTE_REOPEN_DAYS, seconds=1)
    with pytest.raises(DisputeError, match="cannot be reopened"):
        services.ticket_transition(ticket=ticket, to_status=S.OPEN, by=driver, now=too_late)
    ticket.refresh_from_db()
    assert ticket.status == S.RESOLVED


def test_reopen_is_refused_while_another_ticket_covers_the_same_dispute(ticket, support, driver, session):
    ticket = _bring(ticket, S.CLOSED, support)
    services.ticket_open(by=driver, session=session, reason="wrong_amount", description="again", now=OPENED)
    with pytest.raises(DisputeError, match="Another ticket"):
        services.ticket_transition(ticket=ticket, to_status=S.OPEN, by=driver, now=OPENED)


def test_assignment_is_audited_and_limited_to_staff_of_the_operator(ticket, support, other_support):
    services.ticket_assign(ticket=ticket, assignee=support, by=support, now=OPENED)
    services.ticket_assign(ticket=ticket, assignee=support, by=support, now=OPENED)  # no change, no row
    ticket.refresh_from_db()
    assert ticket.assignee == support
    assert ticket.transitions.filter(kind="assignment").count() == 1
    with pytest.raises(DisputeError, match="does not work tickets"):
        services.ticket_assign(ticket=ticket, assignee=other_support, by=support)
    ticket.refresh_from_db()
    assert ticket.assignee == support
