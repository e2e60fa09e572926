"""REST API for dispute tickets: a driver opens one about their own session or invoice (someone else's is
refused and nothing is written), answers on it and never sees internal notes; support and operator staff
read and answer the tickets of the operators they serve; others get a 404."""
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from disputes_app import services
from disputes_app.models import DisputeTicket, TicketMessage
from tests import factories
from tests.billing_app.invoice_fixtures import charged_session
from tests.evbilling.api_fixtures import T0, api_for, assert_error, issued_receipt

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def receipt(driver):
    return issued_receipt(driver)


@pytest.fixture
def ticket(driver, receipt):
    return services.ticket_open(by=driver, session=receipt.session, reason="wrong_amount",
                                description="My car says 9 kWh, not 10.", now=T0 + timedelta(hours=3))


@pytest.fixture
def note(ticket, support):
    return services.message_post(ticket=ticket, author=support, body="Meter log looks fine.", internal=True,
                                 now=T0 + timedelta(hours=4))


def _nothing_written(before: int = 0):
    assert DisputeTicket.objects.count() == before


def test_driver_opens_a_ticket_about_their_own_session(driver, receipt):
    response = api_for(driver).post("/api/v1/disputes/", {
        "reason": "wrong_amount", "description": "Charged for 10 kWh, got 9.", "session": receipt.session_id,
    }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    ticket = DisputeTicket.objects.get()
    assert (body["id"], body["status"], body["source"], body["session"]) == (ticket.pk, "open", "driver",
                                                                             receipt.session_id)
    assert ticket.driver == driver and ticket.evidence.data
    assert [(m["body"], m["from_staff"], m["author"]) for m in body["messages"]] == [
        ("Charged for 10 kWh, got 9.", False, driver.username)]


def test_driver_opens_a_ticket_about_their_own_invoice(driver, receipt):
    response = api_for(driver).post("/api/v1/disputes/", {
        "reason": "other", "description": "Wrong address on it.", "invoice": receipt.pk}, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["invoice"], response.json()["session"]) == (receipt.pk, receipt.session_id)


@pytest.mark.parametrize("field", ["session", "invoice"])
def test_disputing_someone_elses_session_or_invoice_writes_nothing(other_driver, foreign_staff, receipt, field):
    target = receipt.session_id if field == "session" else receipt.pk
    for user in (other_driver, foreign_staff):
        response = api_for(user).post("/api/v1/disputes/", {
            "reason": "wrong_amount", "description": "Not mine but let me try.", field: target}, format="json")
        assert_error(response, 400, field=field)
    _nothing_written()
    assert not TicketMessage.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"reason": "wrong_amount", "description": "x"}, "session"),
    ({"reason": "because", "description": "x", "session": 1}, "reason"),
    ({"reason": "wrong_amount", "description": "", "session": 1}, "description"),
    ({"reason": "wrong_amount", "description": "x", "session": "abc"}, "session"),
])
def test_bad_ticket_input_is_400_with_the_field(driver, receipt, body, field):
    if body.get("session") == 1:
        body = {**body, "session": receipt.session_id}
    assert_error(api_for(driver).post("/api/v1/disputes/", body, format="json"), 400, field=field)
    _nothing_written()


def test_refusal_by_the_service_is_400_and_writes_nothing(driver, ticket):
    response = api_for(driver).post("/api/v1/disputes/", {
        "reason": "wrong_amount", "description": "Again.", "session": ticket.session_id}, format="json")
    error = assert_error(response, 400, field="non_field_errors")
    assert "still open" in error["fields"]["non_field_errors"][0]
    _nothing_written(before=1)


def test_driver_sees_own_tickets_without_internal_notes(driver, other_driver, ticket, note):
    client = api_for(driver)
    assert [t["id"] for t in client.get("/api/v1/disputes/").json()["results"]] == [ticket.pk]
    detail = client.get(f"/api/v1/disputes/{ticket.pk}/").json()
    assert [m["body"] for m in detail["messages"]] == ["My car says 9 kWh, not 10."]
    assert "Meter log" not in str(client.get(f"/api/v1/disputes/{ticket.pk}/").content)
    assert api_for(other_driver).get("/api/v1/disputes/").json()["count"] == 0
    assert_error(api_for(other_driver).get(f"/api/v1/disputes/{ticket.pk}/"), 404)


def test_staff_and_support_see_internal_notes_others_get_404(staff, support, foreign_staff, ticket, note):
    other_support = factories.SupportFactory(username="olga-support")
    other_support.supported_operators.add(foreign_staff.operator)
    for user in (staff, support):
        detail = api_for(user).get(f"/api/v1/disputes/{ticket.pk}/").json()
        assert [(m["internal"], m["author"]) for m in detail["messages"]] == [
            (False, ticket.driver.username), (True, "sam-support")]
    for user in (foreign_staff, other_support):
        assert_error(api_for(user).get(f"/api/v1/disputes/{ticket.pk}/"), 404)
        assert api_for(user).get("/api/v1/disputes/").json()["count"] == 0


def test_driver_answers_on_their_ticket(driver, support, ticket):
    for status in ("in_progress", "waiting_for_driver"):
        ticket = services.ticket_transition(ticket=ticket, to_status=status, by=support)
    response = api_for(driver).post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "Photo of the car."},
                                    format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["body"], response.json()["internal"]) == ("Photo of the car.", False)
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"  # the driver's answer takes it back to support


def test_driver_cannot_post_an_internal_note(driver, ticket):
    response = api_for(driver).post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "psst", "internal": True},
                                    format="json")
    assert_error(response, 403)
    assert not ticket.messages.filter(body="psst").exists()


def test_support_answers_and_writes_internal_notes(support, ticket):
    client = api_for(support)
    answer = client.post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "Looking into it."}, format="json")
    assert answer.status_code == 201 and answer.json()["from_staff"] is True
    internal = client.post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "Check the meter.",
                                                                        "internal": True}, format="json")
    assert internal.status_code == 201 and internal.json()["internal"] is True
    ticket.refresh_from_db()
    assert ticket.status == "in_progress" and ticket.first_responded_at is not None


def test_nobody_else_can_post_on_a_ticket(other_driver, foreign_staff, ticket):
    for user in (other_driver, foreign_staff):
        response = api_for(user).post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "hijack"}, format="json")
        assert_error(response, 404)
    assert_error(APIClient().post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "hijack"}, format="json"), 401)
    assert not ticket.messages.filter(body="hijack").exists()


@pytest.mark.parametrize("body", [{"body": ""}, {"body": "   "}, {}, {"body": "x", "internal": "maybe"}])
def test_bad_message_input_is_400(driver, ticket, body):
    assert_error(api_for(driver).post(f"/api/v1/disputes/{ticket.pk}/messages/", body, format="json"), 400)
    assert ticket.messages.count() == 1


def test_message_on_a_closed_ticket_is_refused_by_the_service(driver, support, ticket):
    ticket = services.ticket_transition(ticket=ticket, to_status="in_progress", by=support)
    ticket = services.ticket_resolve(ticket=ticket, by=support, kind="reject", explanation="Meter is right.")
    ticket = services.ticket_transition(ticket=ticket, to_status="closed", by=support)
    messages_before = ticket.messages.count()
    response = api_for(driver).post(f"/api/v1/disputes/{ticket.pk}/messages/", {"body": "Hello?"}, format="json")
    assert "closed" in str(assert_error(response, 400, field="non_field_errors")["fields"])
    assert ticket.messages.count() == messages_before


def test_filters_and_bad_filter_values(staff, driver, ticket):
    other_session = charged_session(connector=factories.ConnectorFactory(station__location__operator=driver.operator),
                                    driver=driver, started_at=T0 + timedelta(days=1)).session
    services.ticket_open(by=driver, session=other_session, reason="charger_fault", description="Stopped early.")
    client = api_for(staff)
    assert [t["id"] for t in client.get("/api/v1/disputes/", {"reason": "wrong_amount"}).json()["results"]] == [
        ticket.pk]
    assert client.get("/api/v1/disputes/", {"session": other_session.pk}).json()["count"] == 1
    assert client.get("/api/v1/disputes/", {"status": "open"}).json()["count"] == 2
    assert_error(client.get("/api/v1/disputes/", {"status": "sleeping"}), 400, field="status")
    assert_error(client.get("/api/v1/disputes/", {"session": "x"}), 400, field="session")
