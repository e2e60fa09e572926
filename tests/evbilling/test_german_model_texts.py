"""Issue 21: model texts shown in titles, breadcrumbs, select boxes and the admin (`__str__`) and validator
messages read German under German and stay English by default. Unsaved instances: no database."""
from django.utils import translation

from disputes_app.models import DisputeTicket, TicketMessage
from guests_app.models import GuestSession
from sessions_app.models import ChargingSession, ChargingStation, Connector
from webhooks_app.models import WebhookAttempt


def _session():
    station = ChargingStation(ocpp_identity="CS-0000")
    return ChargingSession(pk=1, connector=Connector(station=station, number=1))


def test_str_is_english_by_default_and_german_under_german():
    session = _session()
    ticket = DisputeTicket(pk=7, subject="Wrong price")
    note = TicketMessage(pk=3, ticket_id=7, internal=True)
    guest = GuestSession(pk=4, connector_id=9, state="paid")
    attempt = WebhookAttempt(number=2, response_status=500)
    assert [str(session), str(ticket), str(note), str(guest), str(attempt)] == [
        "Session 1 on CS-0000#1", "Ticket #7: Wrong price", "note 3 on ticket 7", "Guest 4 on 9 (paid)",
        "attempt 2: 500"]
    with translation.override("de"):
        assert [str(session), str(ticket), str(note), str(guest), str(attempt)] == [
            "Ladevorgang 1 an CS-0000#1", "Streitfall #7: Wrong price", "Notiz 3 zu Streitfall 7",
            "Gast 4 an 9 (paid)", "Versuch 2: 500"]
