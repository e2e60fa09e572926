"""The pages: scoped (a ticket or session of someone else is a 404), bad input a form error, and
the driver never sees internal notes or the charger timeline."""
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from disputes_app import services
from disputes_app.models import DisputeTicket
from tests import factories
from tests.disputes_app.conftest import move


@pytest.fixture
def note(ticket, support):
    return services.message_post(ticket=ticket, author=support, body="SECRET: frequent disputer", internal=True)


def _login(client, user):
    client.force_login(user)
    return client


# --- driver pages --------------------------------------------------------------------------------

def test_driver_opens_a_ticket_from_their_session(client, driver, session):
    url = reverse("disputes:new") + f"?session={session.pk}"
    assert _login(client, driver).get(url).status_code == 200
    response = client.post(url, {"reason": "wrong_amount", "description": "Too much."})
    ticket = DisputeTicket.objects.get()
    assert response.status_code == 302 and response.url == reverse("disputes:detail", args=[ticket.pk])
    assert ticket.driver == driver


def test_driver_opening_another_drivers_session_gets_404(client, other_driver, session):
    url = reverse("disputes:new") + f"?session={session.pk}"
    assert _login(client, other_driver).get(url).status_code == 404
    assert client.post(url, {"reason": "wrong_amount", "description": "x"}).status_code == 404
    assert not DisputeTicket.objects.exists()


@pytest.mark.parametrize("query", ["", "?session=abc", "?session=999999"])
def test_new_ticket_without_a_valid_session_is_404(client, driver, session, query):
    assert _login(client, driver).get(reverse("disputes:new") + query).status_code == 404


def test_bad_new_ticket_input_is_a_form_error(client, driver, session, ticket):
    url = reverse("disputes:new") + f"?session={session.pk}"
    response = _login(client, driver).post(url, {"reason": "bogus", "description": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"reason", "description"}
    response = client.post(url, {"reason": "wrong_amount", "description": "again"})  # the fixture's is open
    assert response.status_code == 400
    assert "still open" in str(response.context["form"].non_field_errors())


def test_driver_sees_own_ticket_without_internal_notes_or_timeline(client, driver, ticket, note):
    response = _login(client, driver).get(reverse("disputes:detail", args=[ticket.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "I was charged for 11 kWh" in body
    assert "SECRET" not in body
    assert "Connector status timeline" not in body
    assert "Meter samples" in body


def test_driver_opening_another_drivers_ticket_gets_404(client, other_driver, ticket):
    _login(client, other_driver)
    assert client.get(reverse("disputes:detail", args=[ticket.pk])).status_code == 404
    assert client.post(reverse("disputes:detail", args=[ticket.pk]),
                       {"action": "reply", "body": "hi"}).status_code == 404


def test_driver_list_shows_only_own_tickets(client, driver, other_driver, ticket):
    assert ticket.subject in _login(client, driver).get(reverse("disputes:list")).content.decode()
    assert ticket.subject not in _login(client, other_driver).get(reverse("disputes:list")).content.decode()


def test_driver_replies_with_an_attachment(client, driver, ticket):
    pdf = SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 test", "application/pdf")
    response = _login(client, driver).post(reverse("disputes:detail", args=[ticket.pk]),
                                           {"action": "reply", "body": "See receipt", "attachments": [pdf]})
    assert response.status_code == 302
    attachment = ticket.messages.latest("pk").attachments.get()
    download = client.get(reverse("disputes:attachment", args=[ticket.pk, attachment.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 test"


def test_reply_with_a_forbidden_file_is_a_form_error(client, driver, ticket):
    exe = SimpleUploadedFile("tool.exe", b"MZ\x90\x00", "application/octet-stream")
    response = _login(client, driver).post(reverse("disputes:detail", args=[ticket.pk]),
                                           {"action": "reply", "body": "x", "attachments": [exe]})
    assert response.status_code == 400
    assert "not a file type" in str(response.context["form"].errors["attachments"])
    assert ticket.messages.count() == 1


def test_driver_cannot_download_an_internal_notes_file(client, driver, support, ticket):
    message = services.message_post(ticket=ticket, author=support, body="log", internal=True,
                                    attachments=[SimpleUploadedFile("log.txt", b"charger log", "text/plain")])
    attachment = message.attachments.get()
    response = _login(client, driver).get(reverse("disputes:attachment", args=[ticket.pk, attachment.pk]))
    assert response.status_code == 404


def test_driver_reopens_a_resolved_ticket(client, driver, support, ticket):
    ticket = move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="ok")
    response = _login(client, driver).post(reverse("disputes:detail", args=[ticket.pk]), {"action": "reopen"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "open"


# --- support pages -------------------------------------------------------------------------------

def test_support_queue_lists_supported_tickets(client, support, other_support, ticket):
    assert ticket.subject in _login(client, support).get(reverse("disputes:support_queue")).content.decode()
    assert ticket.subject not in _login(client, other_support).get(reverse("disputes:support_queue")).content.decode()


def test_support_queue_with_bad_filters_shows_errors(client, support, ticket):
    response = _login(client, support).get(reverse("disputes:support_queue"),
                                           {"status": "nope", "assignee": "bob", "operator": "x", "sla": "?"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"status", "assignee", "operator", "sla"}


def test_support_queue_filters(client, support, ticket):
    _login(client, support)
    for query in ({"status": "open"}, {"sla": "ok"}, {"assignee": "me"}, {"assignee": "none"},
                  {"operator": ticket.operator_id}):
        assert client.get(reverse("disputes:support_queue"), query).status_code == 200


def test_drivers_are_kept_out_of_the_support_queue(client, driver):
    assert _login(client, driver).get(reverse("disputes:support_queue")).status_code == 403


def test_support_ticket_page_shows_evidence_and_notes(client, support, ticket, note):
    body = _login(client, support).get(reverse("disputes:support_ticket", args=[ticket.pk])).content.decode()
    assert "SECRET: frequent disputer" in body
    assert "Connector status timeline" in body
    assert "5.11" in body


def test_support_of_another_operator_gets_404(client, other_support, ticket):
    _login(client, other_support)
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "transition", "transition-to_status": "in_progress"}).status_code == 404


def test_operator_staff_work_their_operators_tickets(client, operator, other_operator, ticket):
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    assert _login(client, factories.OperatorStaffFactory(operator=operator)).get(url).status_code == 200
    assert _login(client, factories.OperatorStaffFactory(operator=other_operator)).get(url).status_code == 404


def test_support_works_a_ticket_through_the_page(client, support, ticket):
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    _login(client, support)
    assert client.post(url, {"action": "assign", "assign-assignee": support.pk}).status_code == 302
    assert client.post(url, {"action": "message", "message-body": "Checking."}).status_code == 302
    assert client.post(url, {"action": "transition", "transition-to_status": "waiting_for_driver"}).status_code == 302
    assert client.post(url, {"action": "transition", "transition-to_status": "in_progress"}).status_code == 302
    response = client.post(url, {"action": "resolve", "resolve-kind": "reject", "resolve-explanation": "Correct."})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.status, ticket.resolution_kind) == (support, "resolved", "reject")


def test_illegal_transition_on_the_page_is_a_form_error_shown_once(client, support, ticket):
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    response = _login(client, support).post(url, {"action": "transition", "transition-to_status": "closed"})
    assert response.status_code == 400
    assert response.content.decode().count("Select a valid choice") == 1
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_move_offers_only_valid_targets_and_resolution_has_no_default(client, support, ticket):
    page = _login(client, support).get(reverse("disputes:support_ticket", args=[ticket.pk])).content.decode()
    move_to = page.split('name="transition-to_status"')[1].split("</select>")[0]
    assert 'value="in_progress"' in move_to
    assert all(f'value="{s}"' not in move_to for s in ("open", "waiting_for_driver", "resolved", "closed"))
    kinds = page.split('name="resolve-kind"')[1].split("</select>")[0]
    assert '<option value="" selected>' in kinds and 'value="reject" selected' not in kinds


def test_an_open_ticket_is_resolved_from_the_page_and_a_missing_kind_is_one_error(client, support, ticket):
    url = reverse("disputes:support_ticket", args=[ticket.pk])
    web = _login(client, support)
    response = web.post(url, {"action": "resolve", "resolve-explanation": "Correct."})
    assert response.status_code == 400 and response.content.decode().count("This field is required") == 1
    assert web.post(url, {"action": "resolve", "resolve-kind": "reject",
                          "resolve-explanation": "Correct."}).status_code == 302
    ticket.refresh_from_db()
    assert (ticket.status, ticket.resolution_kind) == ("resolved", "reject")


def test_ticket_page_links_the_admin_records(client, support, ticket):
    page = _login(client, support).get(reverse("disputes:support_ticket", args=[ticket.pk])).content.decode()
    assert reverse("admin:sessions_app_chargingsession_change", args=[ticket.session_id]) in page
    assert reverse("admin:sessions_app_user_change", args=[ticket.driver_id]) in page


def test_queue_search_finds_driver_email_session_and_ticket_number(client, support, ticket):
    web = _login(client, support)
    queue = reverse("disputes:support_queue")
    for query in (ticket.driver.username, ticket.driver.email.upper(), str(ticket.session_id), f"#{ticket.pk}"):
        rows = web.get(queue, {"q": query}).content.decode()
        assert reverse("disputes:support_ticket", args=[ticket.pk]) in rows, query
    nothing = web.get(queue, {"q": "nobody-here"}).content.decode()
    assert reverse("disputes:support_ticket", args=[ticket.pk]) not in nothing


def test_queue_assignee_is_picked_from_a_list(client, support, ticket):
    services.ticket_assign(ticket=ticket, assignee=support, by=support)
    page = _login(client, support).get(reverse("disputes:support_queue")).content.decode()
    assignee = page.split('name="assignee"')[1].split("</select>")[0]
    assert 'value="me"' in assignee and 'value="none"' in assignee
    assert _login(client, support).get(reverse("disputes:support_queue"), {"assignee": "bogus"}).status_code == 200


def test_a_refused_resolution_is_a_form_error(client, support, ticket):
    move(ticket, "in_progress", by=support)
    response = _login(client, support).post(reverse("disputes:support_ticket", args=[ticket.pk]), {
        "action": "resolve", "resolve-kind": "refund", "resolve-amount": "2.00"})
    assert response.status_code == 400
    assert "no issued invoice" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"


@pytest.mark.parametrize("data", [
    {"action": "resolve", "resolve-kind": "reject"},
    {"action": "resolve", "resolve-kind": "refund", "resolve-amount": "abc"},
    {"action": "assign", "assign-assignee": "999999"},
    {"action": "message", "message-body": ""},
    {"action": "transition", "transition-to_status": "nowhere"},
])
def test_bad_support_input_is_a_form_error(client, support, ticket, data):
    response = _login(client, support).post(reverse("disputes:support_ticket", args=[ticket.pk]), data)
    assert response.status_code == 400


def test_unknown_action_is_404(client, support, ticket):
    response = _login(client, support).post(reverse("disputes:support_ticket", args=[ticket.pk]), {"action": "x"})
    assert response.status_code == 404


def test_anonymous_users_are_sent_to_log_in(client, ticket):
    assert client.get(reverse("disputes:support_queue")).status_code == 302
    assert client.get(reverse("disputes:detail", args=[ticket.pk])).status_code == 302


def test_resolution_amount_shows_on_the_driver_page(client, driver, support, ticket, monkeypatch):
    from disputes_app.services import resolutions

    monkeypatch.setitem(resolutions.RESOLVERS, "refund", lambda **kw: {})
    move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="refund", amount=Decimal("1.50"), explanation="Sorry.")
    assert "€1.50" in _login(client, driver).get(reverse("disputes:detail", args=[ticket.pk])).content.decode()


def test_reopen_after_the_limit_is_a_form_error(client, driver, support, ticket, settings):
    from datetime import timedelta

    from tests.disputes_app.conftest import OPENED

    ticket = move(ticket, "in_progress", by=support)
    services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="ok",
                            now=OPENED - timedelta(days=settings.DISPUTE_REOPEN_DAYS + 400))
    response = _login(client, driver).post(reverse("disputes:detail", args=[ticket.pk]), {"action": "reopen"})
    assert response.status_code == 400
    assert "cannot be reopened" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "resolved"


def test_chargeback_ticket_page_shows_the_evidence_deadline(client, support, operator):
    from datetime import UTC, datetime

    ticket = services.ticket_open_from_chargeback(
        operator=operator, driver=None, session=None, payment_id=5, stripe_dispute_id="dp_9", amount=Decimal("9.00"),
        currency="EUR", evidence_due_by=datetime(2026, 4, 1, 12, 0, tzinfo=UTC))
    response = _login(client, support).get(reverse("disputes:support_ticket", args=[ticket.pk]))
    assert response.status_code == 200
    assert "2026-04-01 12:00" in response.content.decode()
    assert "Chargeback on payment 5" in client.get(reverse("disputes:support_queue")).content.decode()
