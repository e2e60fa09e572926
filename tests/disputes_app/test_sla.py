"""SLA: deadlines, time left, the queue order and the beat task that flags breaches and escalates,
all at a clock the tests set."""
from datetime import timedelta

import pytest
from django.utils import timezone

from disputes_app import services, sla, tasks
from disputes_app.models import DisputeTicket
from disputes_app.selectors import support_queue
from tests import factories
from tests.disputes_app.conftest import OPENED, move

HOUR = timedelta(hours=1)


def test_time_left_and_state_follow_the_clock(ticket):
    assert sla.time_left(ticket, now=OPENED + HOUR) == 23 * HOUR
    assert sla.sla_state(ticket, now=OPENED + HOUR) == sla.OK
    assert sla.sla_state(ticket, now=OPENED + 21 * HOUR) == sla.AT_RISK
    assert sla.sla_state(ticket, now=OPENED + 25 * HOUR) == sla.BREACHED


def test_after_the_first_response_the_resolution_deadline_counts(ticket, support):
    services.message_post(ticket=ticket, author=support, body="On it.", now=OPENED + HOUR)
    ticket.refresh_from_db()
    assert sla.time_left(ticket, now=OPENED + 2 * HOUR) == 118 * HOUR


def test_sla_check_flags_a_missed_first_response_and_escalates_once(
        ticket, support, mailoutbox, django_capture_on_commit_callbacks):
    assert services.tickets_check_sla(now=OPENED + 23 * HOUR) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.tickets_check_sla(now=OPENED + 25 * HOUR) == 1
        assert services.tickets_check_sla(now=OPENED + 26 * HOUR) == 0
    ticket.refresh_from_db()
    assert ticket.first_response_breached and not ticket.resolution_breached
    assert ticket.escalated_at == OPENED + 25 * HOUR
    assert ticket.transitions.filter(kind="escalation").count() == 1
    assert support.email in [m.to[0] for m in mailoutbox]  # one message per reader, each sent once
    assert len(mailoutbox) == len({m.to[0] for m in mailoutbox})
    assert "first response" in mailoutbox[0].subject


def test_sla_check_flags_a_missed_resolution(ticket, support):
    services.message_post(ticket=ticket, author=support, body="On it.", now=OPENED + HOUR)
    services.tickets_check_sla(now=OPENED + 121 * HOUR)
    ticket.refresh_from_db()
    assert ticket.resolution_breached and not ticket.first_response_breached


def test_a_late_first_response_still_counts_as_breached(ticket, support):
    services.message_post(ticket=ticket, author=support, body="Sorry for the wait.", now=OPENED + 30 * HOUR)
    services.tickets_check_sla(now=OPENED + 30 * HOUR)
    ticket.refresh_from_db()
    assert ticket.first_response_breached


def test_resolved_tickets_do_not_breach(ticket, support):
    ticket = move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="ok", now=OPENED + HOUR)
    services.tickets_check_sla(now=OPENED + 500 * HOUR)
    ticket.refresh_from_db()
    assert not ticket.resolution_breached and ticket.escalated_at is None


def test_the_beat_task_runs_the_check(ticket, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: OPENED + 25 * HOUR)
    assert tasks.sla_check.delay().get() == 1
    assert DisputeTicket.objects.get().first_response_breached


@pytest.fixture
def three_tickets(session, driver, support):
    """Opened 0, 10 and 20 hours after OPENED, so with 24 h to answer the oldest has least time left."""
    reasons = ["wrong_amount", "charger_fault", "other"]
    return [services.ticket_open(by=driver, session=session, reason=r, description="x", now=OPENED + i * 10 * HOUR)
            for i, r in enumerate(reasons)]


def test_queue_sorts_by_time_left_with_resolved_last(three_tickets, support):
    oldest, middle, newest = three_tickets
    services.message_post(ticket=oldest, author=support, body="answered", now=OPENED + HOUR)  # 120 h deadline now
    queue = list(support_queue(support, now=OPENED + 21 * HOUR))
    assert queue == [middle, newest, oldest]
    middle = move(middle, "in_progress", by=support)
    services.ticket_resolve(ticket=middle, by=support, kind="reject", explanation="ok", now=OPENED + 21 * HOUR)
    assert list(support_queue(support, now=OPENED + 21 * HOUR)) == [newest, oldest, middle]


def test_queue_filters_by_sla_state(three_tickets, support):
    oldest, middle, newest = three_tickets
    now = OPENED + 25 * HOUR  # oldest overdue, middle 9 h left, newest 19 h left
    assert list(support_queue(support, now=now, sla_state=sla.BREACHED)) == [oldest]
    assert list(support_queue(support, now=now, sla_state=sla.OK)) == [middle, newest]
    assert list(support_queue(support, now=OPENED + 31 * HOUR, sla_state=sla.AT_RISK)) == [middle]


def test_queue_filters_by_status_and_assignee(three_tickets, support):
    oldest, middle, newest = three_tickets
    services.ticket_assign(ticket=middle, assignee=support, by=support)
    now = OPENED
    assert list(support_queue(support, now=now, assignee=str(support.pk))) == [middle]
    assert list(support_queue(support, now=now, assignee="none")) == [oldest, newest]
    move(newest, "in_progress", by=support)
    assert list(support_queue(support, now=now, status="in_progress")) == [newest]


def test_queue_shows_only_supported_operators(three_tickets, other_support):
    assert list(support_queue(other_support, now=OPENED)) == []


def test_escalation_reaches_each_reader_in_their_language(ticket, support, operator, mailoutbox,
                                                        django_capture_on_commit_callbacks):
    support.language = "de"
    support.save(update_fields=["language"])
    english = factories.SupportFactory(username="eve-support", language="en")
    english.supported_operators.add(operator)
    with django_capture_on_commit_callbacks(execute=True):
        services.tickets_check_sla(now=OPENED + 25 * HOUR)
    readers = [support.email, english.email] + ([operator.email] if operator.email else [])
    assert sorted(m.to[0] for m in mailoutbox) == sorted(readers) and all(len(m.to) == 1 for m in mailoutbox)
    sent = {m.to[0]: m for m in mailoutbox}
    assert sent[support.email].subject.endswith("SLA verletzt: erste Antwort")
    assert "hat sein SLA verfehlt" in sent[support.email].body and "missed" not in sent[support.email].body
    assert sent[english.email].subject.endswith("SLA breached: first response")
    assert "missed its SLA: first response" in sent[english.email].body
