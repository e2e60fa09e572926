"""Issue 21: model texts shown in titles, breadcrumbs, select boxes and the admin (`__str__`) and validator
messages read German under German and stay English by default. Unsaved instances: no database."""
from django.core.exceptions import ValidationError
from django.utils import translation

from disputes_app.models import DisputeTicket, TicketMessage
from guests_app.models import GuestSession
from sessions_app.leitweg_ids import leitweg_id_clean
from sessions_app.models import ChargingSession, ChargingStation, Connector, Operator, country_code_validator
from webhooks_app.models import WebhookAttempt, validate_webhook_url


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


def _messages(check, value):
    try:
        check(value)
    except ValidationError as error:
        return error.messages
    raise AssertionError(f"{value!r} passed")


def test_validator_messages_are_english_by_default_and_german_under_german():
    code = Operator._meta.get_field("invoice_prefix").validators[0]
    checks = [(code, "x"), (country_code_validator, "de"), (validate_webhook_url, "ftp://x"),
              (leitweg_id_clean, "nonsense")]
    assert [_messages(*c)[0] for c in checks] == [
        "2-12 capital letters or digits.", "Use the ISO 3166-1 alpha-2 code, e.g. DE.",
        "Enter a full http:// or https:// URL, e.g. https://helpdesk.example.com/hooks/ev.",
        "A Leitweg-ID looks like 04011000-1234512345-06: digits, an optional fine address and two check digits, "
        "separated by hyphens."]
    with translation.override("de"):
        assert [_messages(*c)[0] for c in checks] == [
            "2-12 Großbuchstaben oder Ziffern.", "Verwenden Sie den Code nach ISO 3166-1 alpha-2, z. B. DE.",
            "Geben Sie eine vollständige http://- oder https://-URL ein, z. B. https://helpdesk.example.com/hooks/ev.",
            "Eine Leitweg-ID sieht aus wie 04011000-1234512345-06: Ziffern, eine optionale Feinadressierung und "
            "zwei Prüfziffern, getrennt durch Bindestriche."]
